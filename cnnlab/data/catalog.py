"""What MNIST and Fashion-MNIST are: their files, content checksums, sizes and home folders.

Checksums are SHA-256 of each file's *uncompressed* IDX bytes, so a `.gz` and a raw copy of a
file verify the same way, and a Keras `.npz` verifies by rebuilding the IDX bytes of its arrays.
They are the published values (also kept in ../shared/data/ beside this repository).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The four files of each dataset, by role, under their canonical (uncompressed) names.
FILE_NAMES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True, kw_only=True)
class DatasetInfo:
    """Everything cnnlab needs to find and verify one dataset."""

    name: str  # the `data.dataset` value
    title: str  # how people write it
    sha256: dict[str, str]  # by canonical file name
    n_train: int = 60_000
    n_test: int = 10_000
    image_shape: tuple[int, int] = (28, 28)
    num_classes: int = 10
    folder_names: tuple[str, ...] = ()  # sub-folders of a data dir that may hold it
    npz_names: tuple[str, ...] = ()  # Keras-style archives that may hold it
    system_dirs: tuple[Path, ...] = ()  # folders a system package installs it to
    keras_cache: str = ""  # path under $KERAS_HOME/datasets/
    install_hint: str = ""  # one extra way to obtain it, for error messages


MNIST = DatasetInfo(
    name="mnist",
    title="MNIST",
    sha256={
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    folder_names=("mnist",),
    npz_names=("mnist.npz",),
    keras_cache="mnist.npz",
)

FASHION_MNIST = DatasetInfo(
    name="fashion_mnist",
    title="Fashion-MNIST",
    sha256={
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    folder_names=("fashion-mnist", "fashion_mnist"),
    npz_names=("fashion-mnist.npz", "fashion_mnist.npz"),
    system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
    keras_cache="fashion-mnist",
    install_hint="on Debian or Ubuntu, `apt-get install dataset-fashion-mnist`",
)

DATASETS: dict[str, DatasetInfo] = {info.name: info for info in (MNIST, FASHION_MNIST)}
