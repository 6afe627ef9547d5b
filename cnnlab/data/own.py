"""Data you bring (`OwnData`): found, sized against memory, read, checked and checksummed.

The order is the point: the path and its form are checked first, then the arrays' sizes
against the memory this machine has (from the files' headers, before anything large is read),
then the arrays themselves — shapes, dtypes, labels, NaNs, counts, classes present in both
splits — each refusal naming the file, the array, the value and the fix. All of it happens
when a sweep starts, before any worker or TensorFlow starts and before any training.

The arrays that pass are checksummed by content (SHA-256 of each array's dtype, shape and
bytes): the study keeps the checksums, so a changed file refuses resume, and the cell cache
keys on them, so a copy of the same data elsewhere is the same data.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cnnlab.data.formats import (
    CIFAR_TRAIN,
    RawData,
    image_folder_files,
    npz_sizes,
    read_cifar10,
    read_image_folder,
    read_npz,
)
from cnnlab.data.load import LoadedDataset, load_dataset
from cnnlab.errors import DataError
from cnnlab.spec.specs import DataSpec, OwnData

# A sweep holds the data in its own process and in each worker process, and each training
# makes float32 copies of the validation and test images (4 bytes per uint8 pixel): arrays
# that take more than this share of the available memory are refused before anything starts.
MEMORY_SHARE = 0.25
MOST_CLASSES = 10_000


def array_checksums(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """SHA-256 of each array's dtype, shape and bytes, by name: the same array gives the same
    checksum wherever it was read from."""
    checksums = {}
    for name, array in arrays.items():
        digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
        checksums[name] = digest.hexdigest()
    return checksums


def available_memory() -> int | None:
    """Bytes this machine can give without swapping (Linux's MemAvailable), or None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(count: float) -> str:
    return f"{count / 2**30:.2f} GiB"


def resolved_path(spec: OwnData) -> Path:
    """Where the data is: `path`, a relative one taken from the current folder."""
    return Path(spec.path).expanduser().resolve()


def _where(spec: OwnData, path: Path) -> str:
    resolved = "" if str(path) == spec.path else f", {path}"
    return f"Your dataset {spec.name!r} (`data.dataset.path` = {spec.path!r}{resolved})"


def _check_form(spec: OwnData, path: Path) -> None:
    where = _where(spec, path)
    if not path.exists():
        fetch = (
            " Keras downloads CIFAR-10 there with keras.datasets.cifar10.load_data() (once, "
            "where there is internet; then copy the folder here)."
            if spec.format == "cifar10"
            else ""
        )
        raise DataError(
            f"{where} does not exist. Fix the path in the sweep file's OwnData (a relative path "
            f"is taken from the folder you run in, here {Path.cwd()}).{fetch}"
        )
    if spec.format == "npz" and not path.is_file():
        raise DataError(f"{where} is a folder, but format 'npz' reads one .npz file; name it.")
    if spec.format in ("image_folder", "cifar10") and not path.is_dir():
        raise DataError(
            f"{where} is a file, but format {spec.format!r} reads a folder; name the folder, "
            "or give format='npz' for an .npz file."
        )


def _expected_bytes(spec: OwnData, path: Path) -> int:
    """The arrays' size in memory, from headers and file counts (nothing large is read)."""
    if spec.format == "npz":
        sizes = npz_sizes(path)
        return sum(int(np.prod(shape)) * dtype.itemsize for shape, dtype in sizes.values())
    if spec.format == "cifar10":
        return (len(CIFAR_TRAIN) + 1) * 10_000 * (32 * 32 * 3 + 8)
    _, files = image_folder_files(path)
    count = sum(len(paths) for split in files.values() for paths in split)
    first = next(p for split in files.values() for paths in split for p in paths)
    from PIL import Image

    try:
        with Image.open(first) as image:  # the header only: size and mode
            pixels = image.size[0] * image.size[1] * (1 if image.mode in ("1", "L") else 3)
    except OSError:
        pixels = 0  # unreadable: reading it later names the file
    return count * (pixels + 8)


def check_memory(spec: OwnData, path: Path, needed: int, available: int | None) -> None:
    if available is None:
        return
    limit = int(available * MEMORY_SHARE)
    if needed > limit:
        raise DataError(
            f"{_where(spec, path)} takes {_gib(needed)} in memory, more than the "
            f"{_gib(limit)} cnnlab allows on this machine ({MEMORY_SHARE:.0%} of the "
            f"{_gib(available)} available: a sweep holds the data in its own process and in "
            "each worker, plus float32 copies of the validation and test images). Use a "
            "smaller subset of the images (or smaller images), or a machine with more memory."
        )


def _read(spec: OwnData, path: Path) -> RawData:
    if spec.format == "npz":
        return read_npz(path)
    if spec.format == "cifar10":
        return read_cifar10(path)
    return read_image_folder(path)


def _images(where: str, name: str, images: np.ndarray) -> np.ndarray:
    """uint8 or float32 N×H×W (one channel) or N×H×W×3 images, with no NaN or infinity."""
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]  # one channel is stored as N×H×W, as MNIST is
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
        raise DataError(
            f"{where}: `{name}` has shape {images.shape}; images are N×H×W (grayscale) or "
            "N×H×W×C with C = 1 or 3 channels last. Reshape it (channels-first data: "
            "np.moveaxis(x, 1, -1))."
        )
    if images.shape[0] == 0:
        raise DataError(f"{where}: `{name}` holds no images.")
    if images.dtype == np.uint8:
        return images
    if np.issubdtype(images.dtype, np.floating):
        bad = ~np.isfinite(images)
        if bad.any():
            first = int(np.argwhere(bad.reshape(len(images), -1).any(axis=1))[0, 0])
            raise DataError(
                f"{where}: `{name}` has {int(bad.sum()):,} NaN or infinite pixel value(s), the "
                f"first in image {first}. Clean or drop those images before the sweep."
            )
        return images.astype(np.float32, copy=False)
    raise DataError(
        f"{where}: `{name}` is {images.dtype}; images are uint8 (0–255, scaled by 1/255) or "
        f"float (used as given). Convert it, e.g. {name}.astype(np.uint8) for 0–255 integers."
    )


def _labels(where: str, name: str, labels: np.ndarray, count: int) -> np.ndarray:
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]  # N×1, as keras.datasets.cifar10 gives them
    if labels.ndim != 1:
        raise DataError(
            f"{where}: `{name}` has shape {labels.shape}; labels are one integer class per "
            "image (shape N). One-hot labels: labels.argmax(axis=1)."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"{where}: `{name}` is {labels.dtype}; labels are integer classes 0, 1, … "
            f"Convert them, e.g. {name}.astype(np.int64) for whole numbers, or "
            "np.unique(labels, return_inverse=True)[1] for names."
        )
    if len(labels) != count:
        raise DataError(
            f"{where}: {count:,} images but {len(labels):,} labels in `{name}`; every image "
            "needs exactly one label."
        )
    if len(labels) and int(labels.min()) < 0:
        raise DataError(
            f"{where}: `{name}` holds the label {int(labels.min())}; classes are numbered "
            "0, 1, …, classes-1."
        )
    return labels


def checked_arrays(where: str, raw: RawData) -> tuple[dict[str, np.ndarray], int]:
    """The four arrays in the form training uses, and the number of classes; every refusal
    names the array, the value and the fix."""
    x_train = _images(where, "x_train", raw.arrays["x_train"])
    x_test = _images(where, "x_test", raw.arrays["x_test"])
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(
            f"{where}: training images are {x_train.shape[1:]} but test images "
            f"{x_test.shape[1:]}; both splits need the same height, width and channels."
        )
    if x_train.dtype != x_test.dtype:
        raise DataError(
            f"{where}: `x_train` is {x_train.dtype} but `x_test` {x_test.dtype}; both must "
            "be scaled alike (uint8 for both, or float for both)."
        )
    y_train = _labels(where, "y_train", raw.arrays["y_train"], len(x_train))
    y_test = _labels(where, "y_test", raw.arrays["y_test"], len(x_test))
    classes = int(y_train.max()) + 1
    if classes > MOST_CLASSES:
        raise DataError(
            f"{where}: `y_train` holds the label {classes - 1}; cnnlab takes at most "
            f"{MOST_CLASSES:,} classes numbered 0, 1, … Renumber them."
        )
    if classes < 2:
        raise DataError(f"{where}: `y_train` has one class only; a classifier needs two or more.")
    absent = sorted(set(range(classes)) - set(np.unique(y_train).tolist()))
    if absent:
        raise DataError(
            f"{where}: `y_train` has no image of class(es) {absent[:10]} although it has "
            f"class {classes - 1}; classes are numbered 0 … classes-1 without gaps. Renumber."
        )
    if int(y_test.max()) >= classes:
        raise DataError(
            f"{where}: `y_test` holds the label {int(y_test.max())}, but the training images "
            f"have classes 0–{classes - 1} only; the network could never predict it."
        )
    missing = sorted(set(range(classes)) - set(np.unique(y_test).tolist()))
    if missing:
        raise DataError(
            f"{where}: the test split has no image of class(es) {missing[:10]}; every class "
            "must be in the test set, or its accuracy is never measured. Add test images of "
            "it, or drop the class from both splits."
        )
    label_type = np.uint8 if classes <= 256 else np.int32
    arrays = {
        "x_train": x_train,
        "y_train": y_train.astype(label_type),
        "x_test": x_test,
        "y_test": y_test.astype(label_type),
    }
    return arrays, classes


def load_own(
    spec: OwnData, *, memory: Callable[[], int | None] = available_memory
) -> LoadedDataset:
    """Load, check and checksum the data `spec` names (see the module docstring).

    `memory` gives the bytes available (tests give a small number)."""
    path = resolved_path(spec)
    _check_form(spec, path)
    try:  # the readers name the file; this names the data it is
        needed = _expected_bytes(spec, path)
        check_memory(spec, path, needed, memory())
        raw = _read(spec, path)
    except DataError as error:
        if str(error).startswith("Your dataset"):
            raise
        raise DataError(f"Your dataset {spec.name!r}: {error}") from None
    where = _where(spec, path)
    arrays, classes = checked_arrays(where, raw)
    if spec.test_images is not None and spec.test_images != len(arrays["y_test"]):
        raise DataError(
            f"{where}: the sweep declares `test_images={spec.test_images:,}`, but the test "
            f"split holds {len(arrays['y_test']):,}. Correct the declaration, or the data."
        )
    names = raw.class_names if len(raw.class_names) == classes else ()
    return LoadedDataset(
        name=spec.name,
        x_train=arrays["x_train"],
        y_train=arrays["y_train"],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
        source=str(path),
        sha256=array_checksums(arrays),
        class_names=names or tuple(str(i) for i in range(classes)),
        data_format=str(spec.format),
    )


def class_counts(dataset: LoadedDataset) -> dict[str, Any]:
    """Images per class in the official training set (before validation is held out) and in
    the test set, by class name."""
    classes = dataset.num_classes
    train = np.bincount(dataset.y_train.astype(np.int64), minlength=classes)
    test = np.bincount(dataset.y_test.astype(np.int64), minlength=classes)
    return {name: [int(train[i]), int(test[i])] for i, name in enumerate(dataset.classes)}


__all__ = ["array_checksums", "class_counts", "load_data", "load_own"]


def load_data(
    data: DataSpec,
    *,
    data_dir: Path | None = None,
    only_data_dir: bool = False,
    keras_home: Path | None = None,
) -> LoadedDataset:
    """The dataset a DataSpec names: yours (`OwnData`) from its path, a shipped one from its
    places (`cnnlab.data.load.load_dataset`; `data_dir` applies to shipped datasets only)."""
    if isinstance(data.dataset, OwnData):
        return load_own(data.dataset)
    return load_dataset(
        data.dataset, data_dir=data_dir, only_data_dir=only_data_dir, keras_home=keras_home
    )
