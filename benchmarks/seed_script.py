"""The first seed's plain Keras script, timed epoch by epoch, with test accuracy after each.

The seed trains `small` with `model.fit(training_images, training_labels, epochs=5)`: all
60,000 training images, Keras's default batch of 32, Adam at its default rate. This runs the
same, evaluating the 10,000 test images after every epoch (untimed) so that the wall time to a
test accuracy can be read off. No cnnlab import: it is the baseline.

Run:   python benchmarks/seed_script.py --data-dir DIR [--epochs 5] [--threads 1]
Prints one JSON line: per-epoch training seconds and test accuracies.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from naive_optuna import load_mnist


def seed_model():  # type: ignore[no-untyped-def]
    """The first seed's `small` CNN, layer for layer."""
    import keras

    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D(2, 2),
            keras.layers.Conv2D(32, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D(2, 2),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("CNNLAB_DATA_DIR"))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import keras
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(args.seed)
    x_train, y_train, x_test, y_test = load_mnist(args.data_dir)
    x_train = (x_train.astype("float32") / 255.0)[..., None]
    x_test = (x_test.astype("float32") / 255.0)[..., None]
    model = seed_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    seconds, tests = [], []
    for _ in range(args.epochs):
        tick = time.perf_counter()
        model.fit(x_train, y_train, epochs=1, batch_size=args.batch_size, verbose=0)
        seconds.append(time.perf_counter() - tick)
        tests.append(float(model.evaluate(x_test, y_test, verbose=0)[1]))
    print(json.dumps({"epoch_seconds": seconds, "test_accuracy": tests, "images": len(x_train)}))


if __name__ == "__main__":
    main()
