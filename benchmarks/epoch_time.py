"""Seconds per training epoch of the seed `small` CNN: plain Keras `fit` against cnnlab's loop.

Question: what does cnnlab's training loop (an explicit per-epoch data order, a divergence
guard on every batch, validation and test evaluation after every epoch) cost over the seed's
plain `model.fit`, and what does mixed bfloat16 buy on this CPU?
Method: one process, the real MNIST (55,000 training images, batch 32), one epoch per run,
the variants interleaved and their order rotated each repeat, medians and ratios reported,
because a TensorFlow `fit` on this 2-core machine is sometimes bimodal.
Run:   python benchmarks/epoch_time.py --repeats 3 --data-dir DIR   (not part of `nox -s bench`)
Cost:  about 40 s per repeat on 2 cores (three one-epoch trainings).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
from seed_script import seed_model  # benchmarks/ is the script's folder

from cnnlab.data import load_dataset, make_splits
from cnnlab.spec.presets import small
from cnnlab.spec.specs import TrainSpec, TrialSpec
from cnnlab.training.train import train_and_evaluate


def _plain_keras(splits) -> float:  # type: ignore[no-untyped-def]
    """The seed's code: Sequential, compile, fit one epoch (Keras shuffles)."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = seed_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = (splits.x_train.astype(np.float32) / 255.0)[..., None]
    tick = time.perf_counter()
    model.fit(x, splits.y_train, epochs=1, batch_size=32, verbose=0)
    return time.perf_counter() - tick


def _cnnlab(precision: str) -> Callable[..., float]:
    def run(splits) -> float:  # type: ignore[no-untyped-def]
        spec = TrialSpec(arch=small, train=TrainSpec(epochs=1, precision=precision))  # type: ignore[arg-type]
        return train_and_evaluate(spec, splits, seed=0).history[0].seconds

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("CNNLAB_DATA_DIR"))
    parser.add_argument("--json", type=Path, help="also write the raw timings here")
    args = parser.parse_args()

    data = load_dataset("mnist", data_dir=args.data_dir)
    splits = make_splits(data, seed=0)
    variants: dict[str, Callable[..., float]] = {
        "keras fit (seed code), fp32": _plain_keras,
        "cnnlab train, fp32": _cnnlab("float32"),
        "cnnlab train, mixed_bfloat16": _cnnlab("mixed_bfloat16"),
    }
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(args.repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        for name in order:
            times[name].append(variants[name](splits))
            print(f"repeat {repeat + 1}: {name}: {times[name][-1]:.2f} s", flush=True)

    baseline = statistics.median(times[names[0]])
    print(f"\nseconds per epoch, {len(splits.y_train):,} images, batch 32, {os.cpu_count()} cores")
    print(f"{'variant':<32} {'median':>8} {'min':>7} {'max':>7} {'ratio':>7}")
    for name in names:
        median = statistics.median(times[name])
        print(
            f"{name:<32} {median:8.2f} {min(times[name]):7.2f} {max(times[name]):7.2f} "
            f"{median / baseline:7.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps(times, indent=2))


if __name__ == "__main__":
    main()
