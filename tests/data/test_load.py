"""Loading and verifying dataset files, on tiny synthetic IDX files with their own checksums."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from cnnlab.data import DatasetInfo, epoch_order, load_dataset, make_splits, synthetic_dataset
from cnnlab.data.catalog import FILE_NAMES
from cnnlab.data.idx import idx_bytes
from cnnlab.errors import DataError, SpecError

N_TRAIN, N_TEST = 40, 20


def _arrays() -> dict[str, np.ndarray]:
    data = synthetic_dataset(N_TRAIN, N_TEST, seed=5)
    return {
        "train_images": data.x_train,
        "train_labels": data.y_train,
        "test_images": data.x_test,
        "test_labels": data.y_test,
    }


def _info(arrays: dict[str, np.ndarray]) -> DatasetInfo:
    return DatasetInfo(
        name="tiny",
        title="Tiny",
        sha256={FILE_NAMES[r]: hashlib.sha256(idx_bytes(a)).hexdigest() for r, a in arrays.items()},
        n_train=N_TRAIN,
        n_test=N_TEST,
        npz_names=("tiny.npz",),
        keras_cache="tiny",
    )


def _write_idx(folder: Path, arrays: dict[str, np.ndarray], gz: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for role, array in arrays.items():
        name = FILE_NAMES[role]
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array)))
        else:
            (folder / name).write_bytes(idx_bytes(array))


def _load(folder: Path, info: DatasetInfo, **kwargs: object):  # type: ignore[no-untyped-def]
    return load_dataset(
        "tiny", data_dir=folder, info=info, allow_download=False, keras_home=None, **kwargs
    )


@pytest.mark.parametrize("gz", [True, False])
def test_loads_and_verifies_gz_and_raw_idx(tmp_path: Path, gz: bool) -> None:
    arrays = _arrays()
    _write_idx(tmp_path, arrays, gz=gz)
    data = _load(tmp_path, _info(arrays))
    np.testing.assert_array_equal(data.x_train, arrays["train_images"])
    np.testing.assert_array_equal(data.y_test, arrays["test_labels"])
    assert data.x_train.dtype == np.uint8 and data.x_train.shape == (N_TRAIN, 28, 28)
    assert data.source == str(tmp_path)


def test_a_dataset_subfolder_of_the_data_dir_is_found(tmp_path: Path) -> None:
    arrays = _arrays()
    info = dataclasses.replace(_info(arrays), folder_names=("tiny",))
    _write_idx(tmp_path / "tiny", arrays)
    assert _load(tmp_path, info).source == str(tmp_path / "tiny")


def test_checksum_failure_names_the_file(tmp_path: Path) -> None:
    arrays = _arrays()
    info = _info(arrays)
    arrays["train_images"] = arrays["train_images"].copy()
    arrays["train_images"][3, 10, 10] ^= 0xFF  # one flipped pixel
    _write_idx(tmp_path, arrays)
    with pytest.raises(DataError) as error:
        _load(tmp_path, info)
    message = str(error.value)
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in message
    assert "corrupted" in message and "SHA-256" in message
    assert "--data-dir" in message  # says how to provide the data


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    arrays = _arrays()
    _write_idx(tmp_path, arrays)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(DataError, match="truncated") as error:
        _load(tmp_path, _info(arrays))
    assert str(path) in str(error.value)
    assert "To provide Tiny, point `--data-dir`" in str(error.value)


def test_truncated_raw_file_names_the_file_and_the_sizes(tmp_path: Path) -> None:
    arrays = _arrays()
    _write_idx(tmp_path, arrays, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataError) as error:
        _load(tmp_path, _info(arrays))
    assert f"{path} is truncated" in str(error.value)
    assert "40×28×28 = 31,360 values" in str(error.value)


@pytest.mark.parametrize("payload", [b"", b"\x07" * 10])
def test_an_idx_header_with_no_dimensions_is_a_corrupt_file(tmp_path: Path, payload: bytes) -> None:
    arrays = _arrays()
    _write_idx(tmp_path, arrays, gz=False)
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(bytes((0, 0, 0x08, 0)) + payload)  # magic with ndim = 0
    with pytest.raises(DataError) as error:
        _load(tmp_path, _info(arrays))
    message = str(error.value)
    assert f"{path} is corrupted: its IDX header declares 0 dimensions" in message
    assert "Download it again" in message and "To provide Tiny, point `--data-dir`" in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    arrays = _arrays()
    _write_idx(tmp_path, arrays)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="lacks t10k-labels-idx1-ubyte"):
        _load(tmp_path, _info(arrays))


def test_nothing_found_lists_every_place_looked(tmp_path: Path) -> None:
    info = _info(_arrays())
    with pytest.raises(DataError) as error:
        load_dataset(
            "tiny",
            data_dir=tmp_path,
            info=info,
            keras_home=tmp_path / "keras",
            allow_download=False,
        )
    message = str(error.value)
    assert "Tiny was not found" in message
    assert str(tmp_path) in message and str(tmp_path / "keras" / "datasets" / "tiny") in message
    assert "Keras download (not attempted)" in message


def test_a_missing_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        _load(tmp_path / "nope", _info(_arrays()))


def test_wrong_shape_and_label_range_are_refused(tmp_path: Path) -> None:
    arrays = _arrays()
    arrays["train_labels"] = arrays["train_labels"].copy()
    arrays["train_labels"][0] = 12
    _write_idx(tmp_path, arrays)
    with pytest.raises(DataError, match="labels must lie in 0–9, found 12"):
        _load(tmp_path, _info(arrays))  # checksums match these labels: the range check decides


def test_npz_loads_and_verifies(tmp_path: Path) -> None:
    arrays = _arrays()
    np.savez(
        tmp_path / "tiny.npz",
        x_train=arrays["train_images"],
        y_train=arrays["train_labels"],
        x_test=arrays["test_images"],
        y_test=arrays["test_labels"],
    )
    data = _load(tmp_path, _info(arrays))
    np.testing.assert_array_equal(data.y_train, arrays["train_labels"])


def test_npz_with_pickled_objects_is_refused_not_unpickled(tmp_path: Path) -> None:
    arrays = _arrays()
    np.savez(
        tmp_path / "tiny.npz",
        x_train=np.array([{"evil": 1}], dtype=object),
        y_train=arrays["train_labels"],
        x_test=arrays["test_images"],
        y_test=arrays["test_labels"],
    )
    with pytest.raises(DataError, match=r"tiny\.npz"):
        _load(tmp_path, _info(arrays))


def test_truncated_npz_is_a_clear_error(tmp_path: Path) -> None:
    arrays = _arrays()
    path = tmp_path / "tiny.npz"
    np.savez(
        path,
        x_train=arrays["train_images"],
        y_train=arrays["train_labels"],
        x_test=arrays["test_images"],
        y_test=arrays["test_labels"],
    )
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataError, match=r"truncated or not a valid \.npz"):
        _load(tmp_path, _info(arrays))


# --- splits -------------------------------------------------------------------------------


def test_splits_are_seeded_disjoint_and_leave_the_test_set_alone() -> None:
    data = synthetic_dataset(200, 50, seed=1)
    a, b = make_splits(data, 3, validation_size=40), make_splits(data, 3, validation_size=40)
    c = make_splits(data, 4, validation_size=40)
    assert a.split_hash == b.split_hash != c.split_hash
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert len(a.y_train) == 160 and len(a.y_val) == 40
    np.testing.assert_array_equal(a.x_test, data.x_test)
    # disjoint: every training image index appears once across train and validation
    rows = {bytes(x) for x in a.x_train} | {bytes(x) for x in a.x_val}
    assert len(rows) == 200


def test_train_subset_and_its_limits() -> None:
    data = synthetic_dataset(200, 50, seed=1)
    assert len(make_splits(data, 0, validation_size=50, train_subset=60).y_train) == 60
    with pytest.raises(SpecError) as error:
        make_splits(data, 0, validation_size=50, train_subset=151)
    assert error.value.field == "data.train_subset" and "150" in str(error.value)
    with pytest.raises(SpecError) as error:
        make_splits(data, 0, validation_size=200)
    assert error.value.field == "data.validation_size"


def test_epoch_order_depends_on_seed_and_epoch_only() -> None:
    np.testing.assert_array_equal(epoch_order(1, 0, 100), epoch_order(1, 0, 100))
    assert not np.array_equal(epoch_order(1, 0, 100), epoch_order(1, 1, 100))
    assert not np.array_equal(epoch_order(1, 0, 100), epoch_order(2, 0, 100))
    assert sorted(epoch_order(1, 0, 100)) == list(range(100))


def test_the_statistics_know_each_datasets_test_set_size() -> None:
    # Differences of test accuracy are rounded to 1 / test images before any rank test.
    from cnnlab.data.catalog import DATASETS
    from cnnlab.spec.specs import TEST_IMAGES

    assert {name: info.n_test for name, info in DATASETS.items()} == TEST_IMAGES
