"""Data you bring: each form read into the arrays training uses, checksummed by content, and
every bad input refused with an error that names the file or array, the value and the fix."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlab.data import LoadedDataset, load_data, load_own
from cnnlab.data.own import class_counts
from cnnlab.errors import DataError, SpecError
from cnnlab.spec.specs import DataSpec, OwnData

GiB = 2**30


def _arrays(
    n_train: int = 60, n_test: int = 20, shape: tuple[int, ...] = (8, 8), classes: int = 3
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, size=(n_train, *shape), dtype=np.uint8),
        "y_train": np.arange(n_train) % classes,
        "x_test": rng.integers(0, 256, size=(n_test, *shape), dtype=np.uint8),
        "y_test": np.arange(n_test) % classes,
    }


def _npz(tmp_path: Path, name: str = "d.npz", **arrays: np.ndarray) -> Path:
    path = tmp_path / name
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def _load(path: Path, **kwargs: object) -> LoadedDataset:
    return load_own(OwnData(name="mine", path=str(path), **kwargs))  # type: ignore[arg-type]


# --- the three forms ----------------------------------------------------------------------


def test_an_npz_of_uint8_grayscale_images_loads_as_mnist_does(tmp_path: Path) -> None:
    arrays = _arrays()
    data = _load(_npz(tmp_path, **arrays))
    assert data.x_train.shape == (60, 8, 8) and data.x_train.dtype == np.uint8
    assert data.image_shape == (8, 8, 1) and data.num_classes == 3
    assert data.scaling == "uint8 pixels scaled by 1/255"
    assert np.array_equal(data.y_test, arrays["y_test"]) and data.y_test.dtype == np.uint8
    assert data.data_format == "npz" and data.classes == ("0", "1", "2")
    assert set(data.sha256) == {"x_train", "y_train", "x_test", "y_test"}


def test_one_channel_last_is_stored_as_grayscale_and_float_is_used_as_given(
    tmp_path: Path,
) -> None:
    arrays = _arrays(shape=(8, 8, 1))
    arrays["x_train"] = arrays["x_train"].astype(np.float64) / 7.0
    arrays["x_test"] = arrays["x_test"].astype(np.float64) / 7.0
    data = _load(_npz(tmp_path, **arrays))
    assert data.x_train.shape == (60, 8, 8) and data.x_train.dtype == np.float32
    assert data.scaling == "float32 pixels used as given"
    np.testing.assert_allclose(data.x_train, arrays["x_train"][..., 0], rtol=1e-6)


def test_the_checksums_are_of_the_content_not_the_file(tmp_path: Path) -> None:
    arrays = _arrays(shape=(8, 8, 3))
    first = _load(_npz(tmp_path, "a.npz", **arrays))
    (tmp_path / "elsewhere").mkdir()
    moved = _load(_npz(tmp_path / "elsewhere", "b.npz", **arrays))
    assert first.sha256 == moved.sha256
    arrays["x_test"][0, 0, 0, 0] ^= 1  # one bit of one pixel
    changed = _load(_npz(tmp_path, "c.npz", **arrays))
    assert changed.sha256["x_test"] != first.sha256["x_test"]
    assert changed.sha256["x_train"] == first.sha256["x_train"]


def _png(path: Path, value: int, mode: str = "L", size: tuple[int, int] = (6, 5)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = value if mode == "L" else (value, 255 - value, 7, 255)[: len(mode)]
    Image.new(mode, size, colour).save(path)  # type: ignore[arg-type]


def _image_folder(root: Path, mode: str = "L") -> Path:
    for split, count in (("train", 4), ("test", 2)):
        for value, name in ((10, "cat"), (200, "dog")):
            for i in range(count):
                _png(root / split / name / f"{i}.png", value + i, mode)
    return root


def test_an_image_folder_is_labelled_by_its_sorted_class_folders(tmp_path: Path) -> None:
    data = _load(_image_folder(tmp_path / "pets"))
    assert data.data_format == "image_folder"
    assert data.classes == ("cat", "dog")
    assert data.x_train.shape == (8, 5, 6)  # height 5, width 6
    assert data.y_train.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert data.x_train[4, 0, 0] == 200 and data.x_test[1, 0, 0] == 11
    assert class_counts(data) == {"cat": [4, 2], "dog": [4, 2]}


def test_colour_images_give_three_channels(tmp_path: Path) -> None:
    data = _load(_image_folder(tmp_path / "pets", mode="RGB"))
    assert data.image_shape == (5, 6, 3)
    assert data.x_train[0, 0, 0].tolist() == [10, 245, 7]


def _cifar(folder: Path, per_batch: int = 6, protocol: int = 2) -> dict[str, np.ndarray]:
    """A CIFAR-10 cache in Keras' layout: pickled dicts with bytes keys, channels first."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(6 * per_batch, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(6 * per_batch) % 10
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        part = slice(k * per_batch, (k + 1) * per_batch)
        rows = images[part].transpose(0, 3, 1, 2).reshape(per_batch, 3072)
        batch = {b"data": rows, b"labels": labels[part].tolist(), b"batch_label": b"x"}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
    meta = {b"label_names": [f"c{i}".encode() for i in range(10)]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return {"images": images, "labels": labels}


@pytest.mark.parametrize("protocol", [2, 5])
def test_the_cifar10_cache_is_read_as_keras_reads_it(tmp_path: Path, protocol: int) -> None:
    written = _cifar(tmp_path / "cifar-10-batches-py", per_batch=10, protocol=protocol)
    data = _load(tmp_path / "cifar-10-batches-py")
    assert data.data_format == "cifar10" and data.image_shape == (32, 32, 3)
    assert np.array_equal(data.x_train, written["images"][:50])  # channels last, as Keras
    assert np.array_equal(data.x_test, written["images"][50:])
    assert data.classes == tuple(f"c{i}" for i in range(10))


def test_a_shipped_dataset_still_loads_through_the_same_door(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="MNIST was not found"):
        load_data(DataSpec(dataset="mnist"), data_dir=tmp_path, only_data_dir=True)


# --- refusals -----------------------------------------------------------------------------


def _refused(path: Path, *needles: str, **kwargs: object) -> str:
    with pytest.raises(DataError) as caught:
        _load(path, **kwargs)
    message = str(caught.value)
    for needle in needles:
        assert needle in message, message
    assert "Traceback" not in message
    return message


def _bad_npz(tmp_path: Path, **changes: np.ndarray | None) -> Path:
    arrays = _arrays()
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    return _npz(tmp_path, **arrays)


BAD_NPZ = {
    "missing array": ({"y_test": None}, ["lacks the array(s) ['y_test']", "numpy.savez"]),
    "images 2-D": ({"x_train": np.zeros((60, 64), np.uint8)}, ["`x_train` has shape (60, 64)"]),
    "two channels": (
        {"x_train": np.zeros((60, 8, 8, 2), np.uint8)},
        ["`x_train` has shape (60, 8, 8, 2)", "np.moveaxis"],
    ),
    "int64 pixels": (
        {"x_test": np.zeros((20, 8, 8), np.int64)},
        ["`x_test` is int64", "astype(np.uint8)"],
    ),
    "NaN pixels": (
        {"x_train": np.where(np.arange(60 * 64).reshape(60, 8, 8) == 200, np.nan, 0.5)},
        ["`x_train` has 1 NaN or infinite", "first in image 3"],
    ),
    "count mismatch": (
        {"y_train": np.arange(59) % 3},
        ["60 images but 59 labels in `y_train`"],
    ),
    "negative label": ({"y_test": np.arange(20) % 3 - 1}, ["`y_test` holds the label -1"]),
    "float labels": ({"y_train": (np.arange(60) % 3) + 0.5}, ["`y_train` is float64"]),
    "test label out of range": (
        {"y_test": np.arange(20) % 4},
        ["`y_test` holds the label 3", "classes 0–2 only"],
    ),
    "test split lacks a class": (
        {"y_test": np.arange(20) % 2},
        ["the test split has no image of class(es) [2]"],
    ),
    "a gap in the classes": (
        {"y_train": (np.arange(60) % 2) * 2},
        ["`y_train` has no image of class(es) [1]"],
    ),
    "split sizes differ": (
        {"x_test": np.zeros((20, 9, 8), np.uint8)},
        ["training images are (8, 8) but test images (9, 8)"],
    ),
    "one class": ({"y_train": np.zeros(60, np.int64)}, ["one class only"]),
    "one-hot labels": (
        {"y_train": np.eye(3, dtype=np.int64)[np.arange(60) % 3]},
        ["`y_train` has shape (60, 3)", "argmax"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_NPZ))
def test_a_bad_npz_is_refused_naming_the_array_and_the_fix(tmp_path: Path, case: str) -> None:
    changes, needles = BAD_NPZ[case]
    path = _bad_npz(tmp_path, **changes)  # type: ignore[arg-type]
    message = _refused(path, *needles)
    assert str(path) in message and "'mine'" in message


def test_a_missing_path_names_the_option_and_the_folder_it_was_taken_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _refused(
        Path("nowhere.npz"), "`data.dataset.path` = 'nowhere.npz'", "does not exist", str(tmp_path)
    )


def test_a_folder_for_an_npz_and_a_file_for_a_folder_are_refused(tmp_path: Path) -> None:
    (tmp_path / "d.npz").mkdir()
    _refused(tmp_path / "d.npz", "is a folder, but format 'npz'")
    file = _npz(tmp_path, "real.npz", **_arrays())
    _refused(file, "is a file, but format 'image_folder'", format="image_folder")


def test_a_truncated_npz_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    path = _npz(tmp_path, **_arrays())
    path.write_bytes(path.read_bytes()[:300])
    _refused(path, "truncated or not a valid .npz")


def test_an_npz_of_python_objects_is_never_unpickled(tmp_path: Path) -> None:
    arrays = _arrays()
    objects = np.empty(60, dtype=object)
    objects[:] = [int(v) for v in arrays["y_train"]]
    path = _npz(tmp_path, **{**arrays, "y_train": objects})
    _refused(path, "array of Python objects", "does not unpickle")


def test_data_too_large_for_memory_is_refused_with_the_limit(tmp_path: Path) -> None:
    path = _npz(tmp_path, **_arrays())
    with pytest.raises(DataError) as caught:
        load_own(OwnData(name="mine", path=str(path)), memory=lambda: 10_000)
    message = str(caught.value)
    assert "more than the 0.00 GiB cnnlab allows" in message
    assert "25% of the" in message and "smaller subset" in message


def test_a_declared_test_size_is_checked(tmp_path: Path) -> None:
    _refused(_npz(tmp_path, **_arrays()), "declares `test_images=30`", "holds 20", test_images=30)


def test_image_folder_refusals(tmp_path: Path) -> None:
    root = _image_folder(tmp_path / "a")
    (root / "test" / "dog").rename(root / "test" / "dgo")
    _refused(root, "test/ lacks class(es) ['dog']", "test/ has class(es) ['dgo']")

    root = _image_folder(tmp_path / "b")
    for file in (root / "test").rglob("*.png"):
        file.unlink()
    for folder in (root / "test").iterdir():
        folder.rmdir()
    (root / "test").rmdir()
    _refused(root, "has no test/ folder", "train/cat/*.png")

    root = _image_folder(tmp_path / "c")
    (root / "train" / "cat" / "notes.txt").write_text("x")
    _refused(root, "notes.txt is not an image file")

    root = _image_folder(tmp_path / "d")
    _png(root / "train" / "dog" / "big.png", 3, size=(7, 5))
    _refused(root, "big.png is 7×5 grayscale", "0.png is 6×5 grayscale")

    root = _image_folder(tmp_path / "e")
    _png(root / "train" / "cat" / "alpha.png", 3, mode="RGBA")
    _refused(root, "alpha.png is a RGBA image", "convert('RGB')")

    root = _image_folder(tmp_path / "f")
    (root / "train" / "cat" / "broken.png").write_bytes(b"\x89PNG not really")
    _refused(root, "broken.png cannot be read as an image")


def test_cifar10_refusals(tmp_path: Path) -> None:
    folder = tmp_path / "one" / "cifar-10-batches-py"
    _cifar(folder)
    (folder / "data_batch_3").unlink()
    _refused(folder, "lacks data_batch_3", "keras.datasets.cifar10.load_data()")

    folder = tmp_path / "two" / "cifar-10-batches-py"
    _cifar(folder)

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            import os

            return (os.system, ("echo pwned",))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Exploit()}, protocol=2))
    message = _refused(folder, "test_batch is not an intact CIFAR-10 batch", "refused")
    assert "system" in message

    folder = tmp_path / "three" / "cifar-10-batches-py"
    _cifar(folder)
    batch = {b"data": np.zeros((6, 100), np.uint8), b"labels": [0] * 6}
    (folder / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2))
    _refused(folder, "N×3072 uint8", "found (6, 100) uint8")


# --- the spec -----------------------------------------------------------------------------


def test_own_data_is_declared_with_a_name_and_its_format_inferred() -> None:
    assert OwnData(name="d", path="x/d.npz").format == "npz"
    assert OwnData(name="d", path="~/.keras/datasets/cifar-10-batches-py/").format == "cifar10"
    assert OwnData(name="d", path="images").format == "image_folder"
    assert OwnData(name="d", path=Path("x/d.npz")) == OwnData(name="d", path="x/d.npz")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="a dataset cnnlab ships"):
        OwnData(name="mnist", path="m.npz")
    with pytest.raises(SpecError, match="letters, digits"):
        OwnData(name="my data", path="m.npz")
    with pytest.raises(SpecError, match=r"data\.dataset\.format"):
        OwnData(name="d", path="m.npz", format="csv")  # type: ignore[arg-type]
    assert DataSpec(dataset=OwnData(name="d", path="m.npz")).name == "d"


def test_the_path_is_not_part_of_the_definition_but_the_name_is() -> None:
    from cnnlab.spec.specs import definition_params, flat_params

    here = DataSpec(dataset=OwnData(name="d", path="/a/d.npz"))
    there = DataSpec(dataset=OwnData(name="d", path="/b/d.npz"))
    assert definition_params(here) == definition_params(there)
    assert flat_params(here)["dataset.path"] == "/a/d.npz"  # recorded, not hashed
    other = DataSpec(dataset=OwnData(name="e", path="/a/d.npz"))
    assert definition_params(here) != definition_params(other)
