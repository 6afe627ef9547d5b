"""Mixed bfloat16 against float32 on Géron's CNN: seconds per epoch and evaluation, paired.

Question: does `train.precision = "mixed_bfloat16"` train `geron` faster than float32 on this
CPU (AVX-512 BF16 and AMX), and by how much? Accuracy is a separate, paired question that a
sweep answers (both precisions on the same seeds); this script times only.
Method: one process, the real MNIST, `geron` at batch 128 on `--images` training images, two
epochs per run (the second is timed: the first includes tracing), the two precisions
interleaved and their order swapped each repeat; medians, ranges and the ratio are printed.
Run:   python benchmarks/precision.py --repeats 3 --data-dir DIR   (not part of `nox -s bench`)
Cost:  about 4 min per repeat on 2 cores with the default 12,800 images.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from cnnlab.data import load_dataset, make_splits
from cnnlab.spec.presets import geron
from cnnlab.spec.specs import TrainSpec, TrialSpec
from cnnlab.sweep import git_commit, machine
from cnnlab.training.train import train_and_evaluate

PRECISIONS = ("float32", "mixed_bfloat16")


def _epoch(precision: str, splits, batch_size: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    spec = TrialSpec(
        arch=geron,
        train=TrainSpec(epochs=2, batch_size=batch_size, precision=precision),  # type: ignore[arg-type]
    )
    last = train_and_evaluate(spec, splits, seed=0).history[-1]
    return last.seconds, last.eval_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=12_800)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("CNNLAB_DATA_DIR"))
    parser.add_argument("--json", type=Path, help="also write the raw timings here")
    args = parser.parse_args()

    splits = make_splits(
        load_dataset("mnist", data_dir=args.data_dir), seed=0, train_subset=args.images
    )
    train: dict[str, list[float]] = {name: [] for name in PRECISIONS}
    evaluation: dict[str, list[float]] = {name: [] for name in PRECISIONS}
    for repeat in range(args.repeats):
        for name in PRECISIONS if repeat % 2 == 0 else PRECISIONS[::-1]:
            seconds, eval_seconds = _epoch(name, splits, args.batch_size)
            train[name].append(seconds)
            evaluation[name].append(eval_seconds)
            print(
                f"repeat {repeat + 1}: {name}: epoch {seconds:.2f} s, "
                f"evaluation {eval_seconds:.2f} s",
                flush=True,
            )

    print(
        f"\ngeron, {args.images:,} training images, batch {args.batch_size}, second epoch, "
        f"{os.cpu_count()} cores, {args.repeats} repeats"
    )
    print(f"{'precision':<16} {'epoch median':>13} {'min':>7} {'max':>7} {'eval median':>12}")
    for name in PRECISIONS:
        print(
            f"{name:<16} {statistics.median(train[name]):>13.2f} {min(train[name]):>7.2f} "
            f"{max(train[name]):>7.2f} {statistics.median(evaluation[name]):>12.2f}"
        )
    ratio = statistics.median(train["float32"]) / statistics.median(train["mixed_bfloat16"])
    # Each repeat times both precisions back to back, so its own ratio is paired against the
    # machine's slow and fast phases; their spread says how far the median ratio can be trusted.
    paired = [a / b for a, b in zip(train["float32"], train["mixed_bfloat16"], strict=True)]
    print(
        f"float32 / mixed_bfloat16 training time: ×{ratio:.2f} (medians); per repeat "
        + ", ".join(f"×{r:.2f}" for r in paired)
    )
    if args.json:
        record = {
            "train": train,
            "evaluation": evaluation,
            "paired_ratio": paired,
            "images": args.images,
            "batch_size": args.batch_size,
            "git_commit": git_commit(),
            "machine": machine(),
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
