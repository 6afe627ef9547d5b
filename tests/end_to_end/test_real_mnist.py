"""The real MNIST: genuine content, checksums, clear CLI errors on damaged copies, and learning."""

from __future__ import annotations

import dataclasses
import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from cnnlab.data import FASHION_MNIST, MNIST, load_dataset, make_splits
from cnnlab.errors import DataError
from cnnlab.spec.presets import small
from cnnlab.spec.specs import TrainSpec, TrialSpec
from cnnlab.training.train import train_and_evaluate
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def test_it_is_the_genuine_mnist(mnist) -> None:  # type: ignore[no-untyped-def]
    # The facts listed in ../shared/data/mnist/README.md.
    assert mnist.x_train.shape == (60_000, 28, 28) and mnist.x_test.shape == (10_000, 28, 28)
    assert list(mnist.y_train[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert list(mnist.y_test[:10]) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert list(np.bincount(mnist.y_train)) == counts
    assert round(float(mnist.x_train.mean()), 2) == 33.32


@pytest.mark.parametrize(
    ("info", "sums"),
    [
        (MNIST, "mnist/SHA256SUMS.uncompressed"),
        (FASHION_MNIST, "fashion-mnist-SHA256SUMS.uncompressed"),
    ],
)
def test_embedded_checksums_equal_the_published_files(info, sums, mnist_dir: Path) -> None:  # type: ignore[no-untyped-def]
    published = {}
    for line in (mnist_dir.parent / sums).read_text().splitlines():
        digest, name = line.split()
        published[name] = digest
    assert published == info.sha256


def test_mnist_folder_is_not_fashion_mnist(mnist_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is MNIST's train-labels-idx1-ubyte, not Fashion-MNIST's"):
        load_dataset("fashion_mnist", data_dir=mnist_dir, only_data_dir=True)
    # Not named explicitly, the MNIST folder is passed over and listed as such.
    with pytest.raises(DataError, match="not Fashion-MNIST's") as error:
        load_dataset(
            "fashion_mnist",
            data_dir=mnist_dir,
            keras_home=tmp_path,
            allow_download=False,
            info=dataclasses.replace(FASHION_MNIST, system_dirs=()),  # Debian's copy aside
        )
    assert "was not found" in str(error.value)


def test_fashion_mnist_from_debian_when_installed() -> None:
    folder = FASHION_MNIST.system_dirs[0]
    if not folder.is_dir():
        pytest.skip(f"{folder} absent (apt-get install dataset-fashion-mnist)")
    data = load_dataset("fashion_mnist", allow_download=False)
    assert data.source == str(folder) and data.x_train.shape == (60_000, 28, 28)


def _copy(mnist_dir: Path, target: Path) -> Path:
    target.mkdir()
    for path in mnist_dir.glob("*-ubyte.gz"):
        shutil.copy(path, target / path.name)
    return target


@pytest.mark.integration
def test_cli_checksum_failure_is_a_clear_error_without_traceback(
    mnist_dir: Path, tmp_path: Path
) -> None:
    folder = _copy(mnist_dir, tmp_path / "damaged")
    labels = bytearray(gzip.decompress((folder / "train-labels-idx1-ubyte.gz").read_bytes()))
    labels[100] = (labels[100] + 1) % 10  # one wrong label
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    (folder / "train-labels-idx1-ubyte").write_bytes(bytes(labels))
    done = run_cli("train", "--epochs", "1", "--data-dir", str(folder))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"{folder / 'train-labels-idx1-ubyte'} is corrupted" in done.stderr
    assert "--data-dir" in done.stderr and done.stdout == ""


@pytest.mark.integration
def test_cli_truncated_file_is_a_clear_error_without_traceback(
    mnist_dir: Path, tmp_path: Path
) -> None:
    folder = _copy(mnist_dir, tmp_path / "short")
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:1_000_000])
    done = run_cli("train", "--epochs", "1", "--data-dir", str(folder))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"{path} is truncated" in done.stderr


@pytest.mark.integration
def test_small_learns_real_mnist_from_10000_images(mnist) -> None:  # type: ignore[no-untyped-def]
    splits = make_splits(mnist, seed=0, train_subset=10_000)
    spec = TrialSpec(arch=small, train=TrainSpec(epochs=2, batch_size=32))
    result = train_and_evaluate(spec, splits, seed=0)
    assert len(splits.y_train) == 10_000
    assert result.test_accuracy >= 0.95, result.history
