"""The naive Optuna loop: what a user writes without cnnlab, as in Optuna's Keras example.

One process; each trial reloads MNIST, builds the seed's `small` CNN with the trial's pooling,
and trains it with `model.fit` on TensorFlow's default threads, evaluating the validation and
test images after every epoch (the same work as a cnnlab trial: 55,000 training images, 5,000
validation, batch 128, float32, op determinism on). A grid sampler walks pooling × seed.
No cnnlab import: this is the baseline, not cnnlab.

Run:   python benchmarks/naive_optuna.py --data-dir DIR --seeds 4 --epochs 3
Prints one JSON line: trials, epochs, wall seconds, per-trial seconds and test accuracies.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np


def _idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_mnist(folder: Path) -> tuple[np.ndarray, ...]:
    def find(stem: str) -> Path:
        for name in (stem, f"{stem}.gz"):
            if (folder / name).exists():
                return folder / name
        raise FileNotFoundError(f"{stem} not in {folder}")

    return (
        _idx(find("train-images-idx3-ubyte")),
        _idx(find("train-labels-idx1-ubyte")),
        _idx(find("t10k-images-idx3-ubyte")),
        _idx(find("t10k-labels-idx1-ubyte")),
    )


def objective_for(data_dir: Path, epochs: int, batch: int):  # type: ignore[no-untyped-def]
    import keras
    import tensorflow as tf

    def objective(trial) -> float:  # type: ignore[no-untyped-def]
        pooling = trial.suggest_categorical("pooling", ["max", "avg"])
        seed = trial.suggest_int("seed", 0, 1_000)
        x_train, y_train, x_test, y_test = load_mnist(data_dir)  # reloaded every trial
        x_train = (x_train.astype("float32") / 255.0)[..., None]
        x_test = (x_test.astype("float32") / 255.0)[..., None]
        order = np.random.default_rng(seed).permutation(len(x_train))
        valid, train = order[:5_000], order[5_000:]
        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
        pool = keras.layers.MaxPooling2D if pooling == "max" else keras.layers.AveragePooling2D
        model = keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                keras.layers.Conv2D(32, (3, 3), activation="relu"),
                pool(2, 2),
                keras.layers.Conv2D(32, (3, 3), activation="relu"),
                pool(2, 2),
                keras.layers.Flatten(),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        tests: list[float] = []

        class TestEachEpoch(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:  # type: ignore[type-arg]
                tests.append(float(self.model.evaluate(x_test, y_test, verbose=0)[1]))

        model.fit(
            x_train[train],
            y_train[train],
            validation_data=(x_train[valid], y_train[valid]),
            epochs=epochs,
            batch_size=batch,
            callbacks=[TestEachEpoch()],
            verbose=0,
        )
        trial.set_user_attr("test_accuracy", tests[-1])
        return tests[-1]

    return objective


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("CNNLAB_DATA_DIR"))
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    started = time.perf_counter()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    grid = {"pooling": ["max", "avg"], "seed": list(range(args.seeds))}
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.GridSampler(grid))
    study.optimize(objective_for(args.data_dir, args.epochs, args.batch_size))
    trials = study.trials
    print(
        json.dumps(
            {
                "trials": len(trials),
                "epochs": args.epochs,
                "wall_seconds": time.perf_counter() - started,
                "trial_seconds": [t.duration.total_seconds() for t in trials if t.duration],
                "test_accuracy": {
                    f"{t.params['pooling']}/{t.params['seed']}": t.user_attrs["test_accuracy"]
                    for t in trials
                },
            }
        )
    )


if __name__ == "__main__":
    main()
