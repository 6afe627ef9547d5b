"""Resident memory of one cnnlab worker process across many trials: does it grow?

A worker trains cell after cell in one process for a whole sweep; a leak (Keras graphs,
TensorFlow caches, datasets kept alive) would grow it until the kernel kills it. This feeds
one real `WorkerPool` worker `--trials` short trials of `small` on the real MNIST (1 epoch on
`--images` training images, the full test set evaluated) and reads the worker's VmRSS from
/proc after each one.

Run:   python benchmarks/worker_memory.py --data-dir DIR [--trials 50] [--images 512]
Prints one JSON line: RSS in MiB after each trial, and the growth from the 5th to the last.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from cnnlab.data import load_dataset
from cnnlab.spec.design import Factor, Sweep, cells
from cnnlab.spec.presets import small
from cnnlab.spec.specs import DataSpec, TrainSpec, TrialSpec
from cnnlab.sweep import Done, Failed, WorkerPool


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("CNNLAB_DATA_DIR"))
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--images", type=int, default=512)
    args = parser.parse_args()
    dataset = load_dataset("mnist", data_dir=args.data_dir)
    sweep = Sweep(
        name="memory",
        base=TrialSpec(
            arch=small,
            train=TrainSpec(epochs=1, batch_size=128),
            data=DataSpec(train_subset=args.images),
        ),
        factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
        seeds=(args.trials + 1) // 2,
    )
    design = cells(sweep)[: args.trials]
    rss: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        pool = WorkerPool(1, 1, dataset, Path(scratch))
        pid = pool.processes[0].pid
        assert pid is not None
        try:
            for number, cell in enumerate(design):
                job = f"job-{number}"
                pool.submit(job, cell)
                while True:
                    event = pool.next_event(timeout=60.0)
                    if isinstance(event, Done):
                        break
                    if isinstance(event, Failed):
                        raise RuntimeError(f"{cell.run_name} failed: {event.failure}")
                    if event is None and pool.all_dead():
                        raise RuntimeError("the worker died")
                pool.cleanup(job)
                rss.append(round(rss_mib(pid), 1))
        finally:
            pool.close()
    warm = rss[min(4, len(rss) - 1)]
    print(
        json.dumps(
            {
                "trials": len(rss),
                "rss_mib": rss,
                "growth_after_warmup": (rss[-1] - warm) / warm,
            }
        )
    )


if __name__ == "__main__":
    main()
