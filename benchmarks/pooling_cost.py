"""Seconds per training epoch of `small` with each downsampling: max, avg, none, strided.

Question: what does pooling save in training time (the seed claim "pooling reduces
computation, memory and parameters")? The sweeps' own `seconds_per_epoch` come from trials
that shared the two cores with another trial, so they are no measure of cost; this runs one
training at a time, alone, with `--threads N` TensorFlow threads (default: its own choice,
every core).
Method: the pooling sweep's recipe (55,000 real MNIST images, batch 128, float32, op
determinism on), two epochs per run and the second one timed (the first pays graph tracing),
the arms interleaved and their order rotated each repeat; medians, extremes and ratios to
`max`. On this 2-core machine a two-thread `fit` is bimodal (the same arm took 5.05 s and
10.25 s on one afternoon), so the committed timing uses `--threads 1`, which is also how each
sweep worker trains. Parameters, FLOPs and activation sizes are exact counts and come from the
report (`cnnlab.report.index.cost`), not from here.
Run:   python benchmarks/pooling_cost.py --repeats 5 --threads 1 --data-dir DIR \
           --json reports/cost/timing.json     (then: python -m cnnlab.report --index)
Cost:  about 10 minutes per 3 repeats on 2 cores (the `none` arm is about 3× the others).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from cnnlab.data import load_dataset, make_splits
from cnnlab.spec.presets import small
from cnnlab.spec.specs import TrainSpec, TrialSpec
from cnnlab.sweep import git_commit, machine
from cnnlab.training.runtime import set_intra_op_threads
from cnnlab.training.train import train_and_evaluate

ARMS = ("max", "avg", "none", "strided")


def _second_epoch_seconds(pooling: str, splits) -> float:  # type: ignore[no-untyped-def]
    arch = dataclasses.replace(small, pooling=pooling)  # type: ignore[arg-type]
    spec = TrialSpec(arch=arch, train=TrainSpec(epochs=2, batch_size=128))
    return train_and_evaluate(spec, splits, seed=0).history[1].seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("CNNLAB_DATA_DIR"))
    parser.add_argument(
        "--threads", type=int, default=0, help="TensorFlow's intra-op threads (0: its default)"
    )
    parser.add_argument("--json", type=Path, help="write the timings and the machine here")
    args = parser.parse_args()
    if args.repeats < 1 or args.threads < 0:
        parser.error(f"--repeats must be ≥ 1 and --threads ≥ 0, not {args.repeats}, {args.threads}")
    if args.threads:
        set_intra_op_threads(args.threads)  # before TensorFlow runs its first op

    splits = make_splits(load_dataset("mnist", data_dir=args.data_dir), seed=0)
    times: dict[str, list[float]] = {arm: [] for arm in ARMS}
    started = time.time()
    for repeat in range(args.repeats):
        order = ARMS[repeat % len(ARMS) :] + ARMS[: repeat % len(ARMS)]
        for arm in order:
            times[arm].append(_second_epoch_seconds(arm, splits))
            print(f"repeat {repeat + 1}: {arm}: {times[arm][-1]:.2f} s", flush=True)

    medians = {arm: statistics.median(times[arm]) for arm in ARMS}
    print(f"\nseconds per epoch (the second), {len(splits.y_train):,} images, batch 128")
    print(f"{'arm':<10} {'median':>8} {'min':>7} {'max':>7} {'× max':>7}")
    for arm in ARMS:
        print(
            f"{arm:<10} {medians[arm]:8.2f} {min(times[arm]):7.2f} {max(times[arm]):7.2f} "
            f"{medians[arm] / medians['max']:7.2f}"
        )
    if args.json:
        record = {
            "what": "seconds of the second training epoch of `small` per pooling arm, alone on "
            "the machine",
            "command": "python benchmarks/pooling_cost.py "
            f"--repeats {args.repeats} --threads {args.threads} --data-dir DIR --json {args.json}",
            "threads": args.threads,
            "train_images": len(splits.y_train),
            "batch_size": 128,
            "repeats": args.repeats,
            "seconds": times,
            "median_seconds": medians,
            "machine": machine(),
            "git_commit": git_commit(),
            "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
