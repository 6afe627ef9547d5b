"""Reading the three forms of data you bring, into four arrays: an `.npz`, an image folder,
Keras' CIFAR-10 cache.

Each reader only reads: it returns the arrays as the file holds them (plus class names where
the form has them) and raises `DataError` naming the file when it cannot. What the arrays must
satisfy (shapes, dtypes, labels, NaNs, classes) is checked in one place for all three forms,
`cnnlab.data.own`. Nothing here executes code from a file: an `.npz` is opened without
pickles, and CIFAR-10's pickled batches are read by an unpickler that accepts the handful of
NumPy names an array needs and refuses every other.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnnlab.errors import DataError

ARRAYS = ("x_train", "y_train", "x_test", "y_test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = "test_batch"
CIFAR_META = "batches.meta"


@dataclass(frozen=True, eq=False)
class RawData:
    """Four arrays as a file held them, and the class names where the form names classes."""

    arrays: dict[str, np.ndarray]  # by ARRAYS name
    class_names: tuple[str, ...] = ()


# --- sizes before reading: the memory check needs them before anything large is loaded ---


def npz_sizes(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype[Any]]]:
    """Each array's shape and dtype, from the archive's headers alone."""
    sizes = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if not member.endswith(".npy"):
                    continue
                with archive.open(member) as handle:
                    version = np.lib.format.read_magic(handle)
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = read_header(handle)
                sizes[member.removesuffix(".npy")] = (tuple(shape), np.dtype(dtype))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise DataError(
            f"{path} is truncated or not a valid .npz archive ({error}). Write it again with "
            "numpy.savez(path, x_train=…, y_train=…, x_test=…, y_test=…)."
        ) from None
    return sizes


# --- .npz -----------------------------------------------------------------------------------


def read_npz(path: Path) -> RawData:
    try:
        # allow_pickle=False: a file from elsewhere must never execute code on load.
        with np.load(path, allow_pickle=False) as archive:
            absent = [name for name in ARRAYS if name not in archive.files]
            if absent:
                raise DataError(
                    f"{path} lacks the array(s) {absent} (it holds {sorted(archive.files)}); "
                    f"a dataset .npz holds {list(ARRAYS)}. Save it with numpy.savez(path, "
                    "x_train=…, y_train=…, x_test=…, y_test=…)."
                )
            arrays = {name: archive[name] for name in ARRAYS}
    except DataError:
        raise
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise DataError(
                f"{path} holds an array of Python objects, which cnnlab does not unpickle (a "
                "pickle can run code). Save numeric arrays: images as uint8 or float32, labels "
                "as integers."
            ) from None
        raise DataError(f"{path} is truncated or not a valid .npz archive ({error}).") from None
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise DataError(
            f"{path} is truncated or not a valid .npz archive ({error}). Write it again with "
            "numpy.savez(path, x_train=…, y_train=…, x_test=…, y_test=…)."
        ) from None
    return RawData(arrays)


# --- image folder ---------------------------------------------------------------------------


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def image_folder_files(root: Path) -> tuple[tuple[str, ...], dict[str, list[list[Path]]]]:
    """The class names and, per split, each class's image files (sorted by name).

    `root` holds `train/` and `test/`, each with one sub-folder per class; the classes are the
    train sub-folders' names in sorted order, and test must have the same ones."""
    splits: dict[str, dict[str, list[Path]]] = {}
    for split in ("train", "test"):
        folder = root / split
        if not folder.is_dir():
            raise DataError(
                f"{root} has no {split}/ folder. An image folder holds train/ and test/, each "
                "with one sub-folder per class (train/cat/*.png, test/cat/*.png, …)."
            )
        classes = {p.name: p for p in _visible(folder) if p.is_dir()}
        if not classes:
            raise DataError(
                f"{folder} has no class sub-folders; put each class's images in a sub-folder "
                f"named after the class ({folder}/cat/*.png, {folder}/dog/*.png, …)."
            )
        files: dict[str, list[Path]] = {}
        for name, class_folder in classes.items():
            found = [p for p in _visible(class_folder) if p.is_file()]
            others = [p for p in found if p.suffix.lower() not in IMAGE_SUFFIXES]
            if others:
                raise DataError(
                    f"{others[0]} is not an image file (images end in "
                    f"{', '.join(IMAGE_SUFFIXES)}); move it out of {class_folder}."
                )
            if not found:
                raise DataError(
                    f"{class_folder} holds no images: every class needs images in both train/ "
                    "and test/. Add them, or remove the class's folder from both."
                )
            files[name] = found
        splits[split] = files
    train, test = sorted(splits["train"]), sorted(splits["test"])
    if train != test:
        missing = sorted(set(train) - set(test))
        extra = sorted(set(test) - set(train))
        what = []
        if missing:
            what.append(f"test/ lacks class(es) {missing}")
        if extra:
            what.append(f"test/ has class(es) {extra} that train/ lacks")
        raise DataError(
            f"{root}: {'; '.join(what)}. Each class is judged on the test set, so train/ and "
            "test/ must have the same class sub-folders."
        )
    return tuple(train), {s: [splits[s][c] for c in train] for s in splits}


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("1", "L"):
                return np.asarray(image.convert("L"), dtype=np.uint8)
            if image.mode in ("P", "RGB"):
                return np.asarray(image.convert("RGB"), dtype=np.uint8)
            mode = image.mode
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(
            f"{path} cannot be read as an image ({error}); replace or remove it."
        ) from None
    raise DataError(
        f"{path} is a {mode} image; cnnlab reads 8-bit grayscale (L) or colour (RGB) images. "
        "Convert the folder first (e.g. with Pillow: Image.open(p).convert('RGB').save(p))."
    )


def read_image_folder(root: Path) -> RawData:
    """Every image of train/ and test/, labelled by its class sub-folder's sorted position."""
    class_names, files = image_folder_files(root)
    arrays: dict[str, np.ndarray] = {}
    first: tuple[Path, tuple[int, ...]] | None = None
    for split in ("train", "test"):
        images, labels = [], []
        for label, paths in enumerate(files[split]):
            for path in paths:
                image = _read_image(path)
                if first is None:
                    first = (path, image.shape)
                elif image.shape != first[1]:
                    raise DataError(
                        f"{path} is {_describe(image.shape)}, but {first[0]} is "
                        f"{_describe(first[1])}: every image must have one size and channel "
                        "count. Resize or convert the odd ones out."
                    )
                images.append(image)
                labels.append(label)
        arrays[f"x_{split}"] = np.stack(images)
        arrays[f"y_{split}"] = np.asarray(labels, dtype=np.int64)
    return RawData(arrays, class_names)


def _describe(shape: tuple[int, ...]) -> str:
    channels = "grayscale" if len(shape) == 2 else "colour"
    return f"{shape[1]}×{shape[0]} {channels}"


# --- Keras' CIFAR-10 cache ------------------------------------------------------------------

# The only names a pickled CIFAR-10 batch refers to (NumPy's array reconstruction, in the
# spellings of NumPy 1 and 2, and the bytes codec of a Python 2 pickle).
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
    ("_codecs", "encode"): ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles arrays, dicts, lists and strings; refuses any other global."""

    def find_class(self, module: str, name: str) -> Any:
        safe = _SAFE_GLOBALS.get((module, name))
        if safe is None:
            raise pickle.UnpicklingError(
                f"refused {module}.{name}: a CIFAR-10 batch holds arrays, lists and strings "
                "only, and a pickle naming anything else could run code"
            )
        return super().find_class(*safe)


def _cifar_batch(path: Path) -> dict[bytes, Any]:
    try:
        batch = _BatchUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise DataError(
            f"{path} is not an intact CIFAR-10 batch ({error}). Delete the cifar-10-batches-py "
            "folder and download it again with keras.datasets.cifar10.load_data()."
        ) from None
    if not isinstance(batch, dict):
        raise DataError(f"{path} holds a {type(batch).__name__}, not a CIFAR-10 batch's dict.")
    return {k.encode() if isinstance(k, str) else k: v for k, v in batch.items()}


def _cifar_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _cifar_batch(path)
    data, labels = batch.get(b"data"), batch.get(b"labels")
    if not isinstance(data, np.ndarray) or labels is None:
        raise DataError(
            f"{path} lacks the `data` array or the `labels` of a CIFAR-10 batch; download the "
            "cache again with keras.datasets.cifar10.load_data()."
        )
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.dtype != np.uint8:
        raise DataError(
            f"{path}: a CIFAR-10 batch's `data` is N×3072 uint8 (32×32 pixels, 3 channels), "
            f"found {data.shape} {data.dtype}. Download the cache again."
        )
    # Keras' layout: each row is the red plane, then green, then blue (channels first).
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), np.asarray(labels).reshape(-1)


def read_cifar10(folder: Path) -> RawData:
    """The five training batches and the test batch, as keras.datasets.cifar10 reads them."""
    missing = [n for n in (*CIFAR_TRAIN, CIFAR_TEST) if not (folder / n).is_file()]
    if missing:
        raise DataError(
            f"{folder} lacks {', '.join(missing)}: Keras' CIFAR-10 cache holds data_batch_1 … "
            "data_batch_5 and test_batch. Download it once where there is internet with "
            "keras.datasets.cifar10.load_data() and copy ~/.keras/datasets/cifar-10-batches-py."
        )
    parts = [_cifar_arrays(folder / name) for name in CIFAR_TRAIN]
    x_test, y_test = _cifar_arrays(folder / CIFAR_TEST)
    names: tuple[str, ...] = ()
    if (folder / CIFAR_META).is_file():
        meta = _cifar_batch(folder / CIFAR_META).get(b"label_names")
        if isinstance(meta, list):
            names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta)
    arrays = {
        "x_train": np.concatenate([x for x, _ in parts]),
        "y_train": np.concatenate([y for _, y in parts]),
        "x_test": x_test,
        "y_test": y_test,
    }
    return RawData(arrays, names)
