"""Finding, verifying and loading a dataset from its own places, in a fixed order.

Places, in order:
1. the data folder (`--data-dir`, or `CNNLAB_DATA_DIR` as passed down by the CLI), holding the
   four IDX files (`.gz` or raw) or a Keras-style `.npz`, directly or in a sub-folder named
   after the dataset (`mnist/`, `fashion-mnist/`);
2. folders a system package installs the dataset to (Fashion-MNIST: Debian's
   `/usr/share/datasets/fashion-mnist/`);
3. the Keras cache (`$KERAS_HOME/datasets/`, default `~/.keras/datasets/`);
4. Keras' own download.

A place that does not hold the dataset is passed over (and listed if nothing is found). Files
of the *other* dataset are recognised by checksum and passed over too, unless the folder was
named explicitly with `--data-dir`. A place that holds the dataset but with a truncated,
corrupted or wrong file is an error: cnnlab never falls back past a broken file.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnlab.data.catalog import DATASETS, FILE_NAMES, DatasetInfo
from cnnlab.data.idx import idx_bytes, parse_idx, read_file_bytes
from cnnlab.errors import DataError


@dataclass(frozen=True, eq=False)
class LoadedDataset:
    """A dataset's four arrays and where they came from.

    Images are N×H×W (one channel: MNIST's uint8 28×28) or N×H×W×3, uint8 (scaled by 1/255
    for the model) or float32 (used as given); labels are integers 0 … classes-1."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    sha256: dict[str, str] = field(default_factory=dict)
    class_names: tuple[str, ...] = ()  # () : the digits 0-9 (MNIST, Fashion-MNIST's indices)
    data_format: str = "idx"  # idx (the shipped datasets), npz, image_folder or cifar10

    @property
    def classes(self) -> tuple[str, ...]:
        return self.class_names or tuple(str(i) for i in range(10))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one image as the model sees it."""
        height, width = self.x_train.shape[1:3]
        channels = self.x_train.shape[3] if self.x_train.ndim == 4 else 1
        return (int(height), int(width), int(channels))

    @property
    def scaling(self) -> str:
        """How pixels become the model's inputs, in words for reports."""
        if self.x_train.dtype == np.uint8:
            return "uint8 pixels scaled by 1/255"
        return f"{self.x_train.dtype} pixels used as given"


class _NotHere(Exception):
    """This place does not hold the dataset (not an error unless no place does)."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _how_to_provide(info: DatasetInfo) -> str:
    names = ", ".join(f"{n}[.gz]" for n in FILE_NAMES.values())
    ways = [
        f"point `--data-dir` (or the CNNLAB_DATA_DIR environment variable) at a folder with "
        f"the four IDX files ({names}) or Keras' {info.npz_names[0]}",
    ]
    if info.install_hint:
        ways.append(info.install_hint)
    ways.append(f"put Keras' copy in ~/.keras/datasets/{info.keras_cache}")
    ways.append("or run once with internet access so Keras downloads it")
    return f"To provide {info.title}, " + "; ".join(ways) + "."


def _other_dataset(role_name: str, digest: str, info: DatasetInfo) -> DatasetInfo | None:
    for other in DATASETS.values():
        if other.name != info.name and other.sha256.get(role_name) == digest:
            return other
    return None


def _check_arrays(info: DatasetInfo, arrays: dict[str, np.ndarray], where: str) -> None:
    """Shapes, dtype and label range: implied by the checksums, but cheap and self-explaining."""
    for split, count in (("train", info.n_train), ("test", info.n_test)):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.dtype != np.uint8 or labels.dtype != np.uint8:
            raise DataError(f"{where}: the {split} arrays must be uint8, found {images.dtype}.")
        if images.shape != (count, *info.image_shape) or labels.shape != (count,):
            raise DataError(
                f"{where}: expected {count:,} {split} images of {info.image_shape} and {count:,} "
                f"labels, found images {images.shape} and labels {labels.shape}."
            )
        if labels.size and int(labels.max()) >= info.num_classes:
            raise DataError(
                f"{where}: {split} labels must lie in 0–{info.num_classes - 1}, "
                f"found {int(labels.max())}."
            )


def _verify(info: DatasetInfo, role: str, content: bytes, path: Path, strict: bool) -> None:
    """Raise unless `content` is the genuine file; _NotHere if it is the other dataset's file."""
    canonical = FILE_NAMES[role]
    digest = _sha256(content)
    if digest == info.sha256[canonical]:
        return
    other = _other_dataset(canonical, digest, info)
    if other is not None:
        message = f"{path} is {other.title}'s {canonical}, not {info.title}'s"
        if strict:
            raise DataError(
                f"{message}. The folder given with --data-dir holds {other.title}; point it at "
                f"{info.title} instead, or ask for `--dataset {other.name}`."
            )
        raise _NotHere(message)
    raise DataError(
        f"{path} is corrupted or is not {info.title}'s {canonical}: the SHA-256 of its "
        f"uncompressed content is {digest}, but the genuine file's is {info.sha256[canonical]}. "
        f"Replace it with an intact copy. {_how_to_provide(info)}"
    )


# Labels first: they are small, and they tell MNIST from Fashion-MNIST cheaply.
_VERIFY_ORDER = ("train_labels", "test_labels", "train_images", "test_images")


def _verified_dataset(
    info: DatasetInfo, arrays: dict[str, np.ndarray], source: str
) -> LoadedDataset:
    return LoadedDataset(
        name=info.name,
        x_train=arrays["train_images"],
        y_train=arrays["train_labels"],
        x_test=arrays["test_images"],
        y_test=arrays["test_labels"],
        source=source,
        sha256=dict(info.sha256),  # every file matched these digests
    )


def _find_file(folder: Path, canonical: str) -> Path | None:
    for candidate in (folder / f"{canonical}.gz", folder / canonical):
        if candidate.is_file():
            return candidate
    return None


def _load_idx_folder(info: DatasetInfo, folder: Path, strict: bool) -> LoadedDataset:
    found = {role: _find_file(folder, name) for role, name in FILE_NAMES.items()}
    if not any(found.values()):
        raise _NotHere(f"{folder}: no IDX files")
    missing = [FILE_NAMES[role] for role, path in found.items() if path is None]
    if missing:
        raise DataError(
            f"{folder} holds part of a dataset but lacks {', '.join(missing)} (.gz or raw). "
            f"Provide all four files. {_how_to_provide(info)}"
        )
    arrays: dict[str, np.ndarray] = {}
    for role in _VERIFY_ORDER:
        path = found[role]
        assert path is not None
        try:
            content = read_file_bytes(path)
            arrays[role] = parse_idx(content, path)
        except DataError as error:
            raise DataError(f"{error} {_how_to_provide(info)}") from None
        _verify(info, role, content, path, strict)
    _check_arrays(info, arrays, str(folder))
    return _verified_dataset(info, arrays, str(folder))


def _from_arrays(
    info: DatasetInfo, arrays: dict[str, np.ndarray], where: Path | str, strict: bool
) -> LoadedDataset:
    """Verify arrays that did not come from IDX files by checksumming their IDX encoding."""
    _check_arrays(info, arrays, str(where))
    for role in _VERIFY_ORDER:
        _verify(info, role, idx_bytes(arrays[role]), Path(f"{where}[{role}]"), strict)
    return _verified_dataset(info, arrays, str(where))


def _load_npz(info: DatasetInfo, path: Path, strict: bool) -> LoadedDataset:
    keys = {
        "x_train": "train_images",
        "y_train": "train_labels",
        "x_test": "test_images",
        "y_test": "test_labels",
    }
    try:
        # allow_pickle=False: an .npz from elsewhere must never execute code on load.
        with np.load(path, allow_pickle=False) as archive:
            absent = [k for k in keys if k not in archive.files]
            if absent:
                raise DataError(
                    f"{path} lacks the arrays {absent}; a Keras-style archive holds "
                    f"{list(keys)}. {_how_to_provide(info)}"
                )
            arrays = {role: archive[key] for key, role in keys.items()}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise DataError(
            f"{path} is truncated or not a valid .npz archive ({error}). "
            f"Replace it with an intact copy. {_how_to_provide(info)}"
        ) from None
    return _from_arrays(info, arrays, path, strict)


def _load_folder(info: DatasetInfo, folder: Path, strict: bool) -> LoadedDataset:
    for name in info.npz_names:
        if (folder / name).is_file():
            return _load_npz(info, folder / name, strict)
    return _load_idx_folder(info, folder, strict)


def _places(
    info: DatasetInfo, data_dir: Path | None, keras_home: Path | None
) -> Iterator[tuple[str, Path]]:
    if data_dir is not None:
        for name in info.folder_names:
            yield "data folder", data_dir / name
        yield "data folder", data_dir
    for folder in info.system_dirs:
        yield "system package", folder
    if keras_home is not None:
        cache = keras_home / "datasets" / info.keras_cache
        yield "Keras cache", cache if cache.suffix != ".npz" else cache.parent


def _download(info: DatasetInfo) -> LoadedDataset:
    # Imported here: Keras (and TensorFlow) load only when a download is really needed.
    import keras

    loader = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist}
    # Keras announces downloads on stdout, which `cnnlab train` keeps for its JSON result.
    with contextlib.redirect_stdout(sys.stderr):
        (x_train, y_train), (x_test, y_test) = loader[info.name].load_data()
    arrays = {
        "train_images": x_train,
        "train_labels": y_train,
        "test_images": x_test,
        "test_labels": y_test,
    }
    return _from_arrays(info, arrays, "Keras download", strict=True)


def load_dataset(
    name: str,
    *,
    data_dir: Path | None = None,
    only_data_dir: bool = False,
    keras_home: Path | None = None,
    allow_download: bool = True,
    info: DatasetInfo | None = None,
) -> LoadedDataset:
    """Load and verify dataset `name` from the first of its places that holds it.

    `only_data_dir` (set for an explicit `--data-dir`) makes the data folder the only place.
    `info` replaces the catalog entry (tests use it to verify synthetic files).
    """
    if info is None:
        if name not in DATASETS:
            raise DataError(
                f"There is no dataset called {name!r}; the datasets are {sorted(DATASETS)}."
            )
        info = DATASETS[name]
    if only_data_dir and data_dir is None:
        raise DataError("only_data_dir=True needs a data_dir.")
    if data_dir is not None and not data_dir.is_dir():
        raise DataError(
            f"The data folder {data_dir} does not exist or is not a folder. {_how_to_provide(info)}"
        )
    looked: list[str] = []
    places = _places(info, data_dir, None if only_data_dir else keras_home)
    for label, folder in places:
        if only_data_dir and label != "data folder":
            continue
        if not folder.is_dir():
            looked.append(f"{folder} ({label}: absent)")
            continue
        try:
            return _load_folder(info, folder, strict=only_data_dir)
        except _NotHere as reason:
            looked.append(f"{folder} ({label}: {reason})")
    if allow_download and not only_data_dir:
        try:
            return _download(info)
        except DataError:
            raise
        except Exception as error:
            looked.append(f"Keras download ({type(error).__name__}: {error})")
    else:
        looked.append("Keras download (not attempted)")
    raise DataError(
        f"{info.title} was not found. Looked in: {'; '.join(looked)}. {_how_to_provide(info)}"
    )
