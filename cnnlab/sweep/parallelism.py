"""How many trainings a sweep runs at once, and on how many threads each: `--workers`.

`--workers auto` (the default) runs one single-threaded worker process per available core: on
this project's 2-core machine two 1-thread processes train `small` at about 10,800 images/s
together, one 2-thread process at 5,500–8,300 (bimodal; docs/DESIGN §10). `--workers 1` trains
in the sweep process with TensorFlow's default threads (today's behaviour, and the fastest
start). `--workers N` runs N processes with cores // N threads each.

A trial's numbers depend on its thread count (same seed, machine and threads → the same
bits), so the threads per training are fixed by the request, never by how many cells are
left: a run's last cell trains on one thread like its first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cnnlab.errors import CnnlabError

WorkersRequest = int | Literal["auto"]
AUTO: Literal["auto"] = "auto"


def available_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup (container) quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_limit(Path("/sys/fs/cgroup/cpu.max"))
    return max(1, min(cores, quota) if quota else cores)


def _cgroup_cpu_limit(cpu_max: Path) -> int | None:
    """A cgroup v2 quota ("200000 100000" = 2 cores) rounded down, or None without one."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, int(quota) // int(period))
    except (ValueError, ZeroDivisionError):
        return None


def parse_workers(text: str) -> WorkersRequest:
    """The `--workers` option: "auto" or a positive integer."""
    if text.strip().lower() == AUTO:
        return AUTO
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise CnnlabError(
            f"--workers must be 'auto' or a whole number of at least 1, but {text!r} was "
            "passed. Use --workers auto (one single-threaded process per core) or --workers 1 "
            "(train in the sweep process)."
        )
    return count


@dataclass(frozen=True)
class Parallelism:
    """What a run will do: `workers` training processes (1: the sweep process itself) with
    `threads` TensorFlow intra-op threads each (0: TensorFlow's default, every core)."""

    workers: int
    threads: int
    cores: int
    requested: WorkersRequest

    @property
    def in_process(self) -> bool:
        return self.workers == 1 and self.threads == 0

    @property
    def oversubscribed(self) -> bool:
        return self.workers > self.cores

    def describe(self) -> str:
        """One line for the plan: e.g. "2 worker processes, 1 thread each (2 cores)"."""
        cores = f"{self.cores} core{'s' if self.cores != 1 else ''}"
        if self.in_process:
            return f"training in this process on TensorFlow's default threads ({cores})"
        threads = f"{self.threads} thread{'s' if self.threads != 1 else ''} each"
        return f"{self.workers} worker processes, {threads} ({cores})"

    def warning(self) -> str | None:
        if not self.oversubscribed:
            return None
        return (
            f"Warning: --workers {self.workers} is more than the {self.cores} available cores: "
            "trainings will share cores, each slower and none sooner, and memory grows with "
            "every process. --workers auto runs one per core."
        )


def resolve(request: WorkersRequest, cores: int | None = None) -> Parallelism:
    """The parallelism `--workers REQUEST` means on a machine with `cores` cores."""
    cores = available_cores() if cores is None else cores
    if request == AUTO:
        # One core: a worker process would only add its start-up to the same single thread.
        if cores == 1:
            return Parallelism(workers=1, threads=0, cores=cores, requested=request)
        return Parallelism(workers=cores, threads=1, cores=cores, requested=request)
    if request == 1:
        return Parallelism(workers=1, threads=0, cores=cores, requested=request)
    return Parallelism(
        workers=request, threads=max(1, cores // request), cores=cores, requested=request
    )
