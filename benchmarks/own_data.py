"""Your own data and network against the MNIST path, on the same arrays: seconds per epoch.

Question: does a sweep on data you bring (an `.npz` read through `OwnData`) or with a network
you bring (`Network(build=...)`) train slower than the built-in MNIST path?
Method: one process; the real MNIST read from its IDX files (the MNIST path), the same arrays
saved as an `.npz` and read back through `OwnData` (uint8, scaled per batch as MNIST is), the
same pixels as a float32 `.npz` (used as given: a float tensor per batch instead of a uint8 one),
and the float32 `.npz` with `small`'s layers built by a function (`build` below) instead of an
ArchSpec. Each path trains `small` 2 epochs at batch 128 on `--images` training images; the
second epoch is timed (the first includes tracing). The paths are interleaved and their order
rotated each repeat; per path the median, and per pair of runs in one repeat the ratio to the
MNIST path, with the median ratio and a 95 % interval of the mean log ratio (t, over repeats).
Run:   python benchmarks/own_data.py --repeats 5 --data-dir DIR   (not part of `nox -s bench`)
Cost:  about 1 min per repeat on 2 cores with the default 27,500 images.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from scipy import stats

from cnnlab.data import LoadedDataset, load_dataset, load_own, make_splits
from cnnlab.spec.network import Network
from cnnlab.spec.presets import small
from cnnlab.spec.specs import OwnData, TrainSpec, TrialSpec
from cnnlab.training.runtime import import_tensorflow_quietly
from cnnlab.training.train import train_and_evaluate

PATHS = ("mnist", "npz_uint8", "npz_float", "npz_float_network")


def build(hp: dict[str, Any]) -> Any:
    """`small` (two valid 3×3 convolutions of 32 filters, each with 2×2 max pooling, a 128-unit
    dense layer, softmax), built by a function as a user would."""
    import keras

    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Conv2D(32, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(32, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Dense(128, activation="relu")(keras.layers.Flatten()(x))
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))


def _datasets(mnist: LoadedDataset, folder: Path) -> dict[str, LoadedDataset]:
    arrays = {
        "x_train": mnist.x_train,
        "y_train": mnist.y_train,
        "x_test": mnist.x_test,
        "y_test": mnist.y_test,
    }
    np.savez(folder / "uint8.npz", **arrays)  # type: ignore[arg-type]
    scaled = {
        **arrays,
        "x_train": mnist.x_train.astype(np.float32) / 255.0,
        "x_test": mnist.x_test.astype(np.float32) / 255.0,
    }
    np.savez(folder / "float.npz", **scaled)  # type: ignore[arg-type]
    own_uint8 = load_own(OwnData(name="mnist_npz", path=str(folder / "uint8.npz")))
    own_float = load_own(OwnData(name="mnist_float", path=str(folder / "float.npz")))
    return {
        "mnist": mnist,
        "npz_uint8": own_uint8,
        "npz_float": own_float,
        "npz_float_network": own_float,
    }


def _epoch_seconds(path: str, dataset: LoadedDataset, images: int) -> float:
    arch = Network(build=build) if path == "npz_float_network" else small
    spec = TrialSpec(arch=arch, train=TrainSpec(epochs=2, batch_size=128))
    splits = make_splits(dataset, seed=0, train_subset=images)
    return train_and_evaluate(spec, splits, seed=0).history[-1].seconds


def _ratio_interval(ratios: list[float]) -> tuple[float, float]:
    logs = [math.log(r) for r in ratios]
    if len(logs) < 2:
        return (math.nan, math.nan)
    mean, sem = statistics.fmean(logs), statistics.stdev(logs) / math.sqrt(len(logs))
    half = stats.t.ppf(0.975, len(logs) - 1) * sem
    return (math.exp(mean - half), math.exp(mean + half))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--images", type=int, default=27_500)
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("CNNLAB_DATA_DIR"))
    parser.add_argument("--json", type=Path, help="also write the raw timings here")
    args = parser.parse_args()

    import_tensorflow_quietly()
    mnist = load_dataset("mnist", data_dir=args.data_dir)
    seconds: dict[str, list[float]] = {path: [] for path in PATHS}
    with tempfile.TemporaryDirectory() as folder:
        datasets = _datasets(mnist, Path(folder))
        for repeat in range(args.repeats):
            order = PATHS[repeat % len(PATHS) :] + PATHS[: repeat % len(PATHS)]
            for path in order:
                took = _epoch_seconds(path, datasets[path], args.images)
                seconds[path].append(took)
                print(f"repeat {repeat + 1}: {path}: {took:.2f} s per epoch", flush=True)
    print(f"\n{'path':<20} {'median s/epoch':>15} {'median ratio':>13}  95 % interval of the ratio")
    for path in PATHS:
        ratios = [mine / base for mine, base in zip(seconds[path], seconds["mnist"], strict=True)]
        low, high = _ratio_interval(ratios)
        print(
            f"{path:<20} {statistics.median(seconds[path]):>15.2f} "
            f"{statistics.median(ratios):>13.3f}  [{low:.3f}, {high:.3f}]"
        )
    if args.json:
        args.json.write_text(json.dumps({"images": args.images, "seconds": seconds}, indent=2))


if __name__ == "__main__":
    main()
