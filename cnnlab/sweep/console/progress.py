"""What a sweep shows while it runs: cells done / total, arm, seed, epoch and ETA.

On a terminal one status line is redrawn in place and each finished cell leaves one
line; in a log (not a terminal) only the per-cell lines are written. The ETA starts
from the pre-run estimate and switches to measured seconds per cell (per arm, since
arms can differ several-fold in cost) as soon as one has finished, or from the study's own
finished trials on a resumed run; the remaining work is shared by the run's workers.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import TextIO

from cnnlab.report.durations import format_duration


class Progress:
    def __init__(
        self,
        total: int,
        done: int,
        remaining_estimate: dict[str, float],
        stream: TextIO | None = None,
        *,
        workers: int = 1,
        measured: dict[str, list[float]] | None = None,
    ) -> None:
        self.total, self.done = total, done
        self.workers = max(1, workers)  # trainings in flight: the ETA divides the work by it
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.pending: dict[str, int] = {}  # arm -> cells still to run
        self.estimate = remaining_estimate  # arm -> estimated seconds per cell
        # arm -> measured seconds per cell: this run's, after the study's earlier ones
        self.measured: dict[str, list[float]] = {a: list(t) for a, t in (measured or {}).items()}
        self.started = time.monotonic()
        self.current = ""

    def plan(self, arms: list[str]) -> None:
        for arm in arms:
            self.pending[arm] = self.pending.get(arm, 0) + 1

    def stage(self, total: int, done: int, arms: list[str]) -> None:
        """Start a new stage (a sequential plan's look): its cells, of which `done` are done."""
        self.total, self.done = total, done
        self.pending = {}
        self.plan(arms)

    def _per_cell(self, arm: str) -> float:
        if self.measured.get(arm):
            return statistics.median(self.measured[arm])
        everything = [t for times in self.measured.values() for t in times]
        if everything and arm in self.estimate:
            # scale the estimate by how fast measured arms ran compared with their estimates
            ratios = [
                statistics.median(t) / self.estimate[a]
                for a, t in self.measured.items()
                if t and self.estimate.get(a)
            ]
            return self.estimate[arm] * statistics.median(ratios) if ratios else self.estimate[arm]
        return self.estimate.get(arm, 0.0)

    def eta(self) -> float:
        """Seconds left: the pending cells' measured (else estimated) seconds over the workers."""
        work = sum(n * self._per_cell(arm) for arm, n in self.pending.items())
        return work / min(self.workers, max(1, sum(self.pending.values())))

    def _status(self, text: str) -> None:
        if self.interactive:
            self.stream.write(f"\r\033[K{text}")
            self.stream.flush()

    def start(self, label: str) -> None:
        self.current = label
        self._status(f"[{self.done}/{self.total}] {label}  ETA {format_duration(self.eta())}")

    def epoch(self, epoch: int, epochs: int, val_accuracy: float) -> None:
        self._status(
            f"[{self.done}/{self.total}] {self.current}  epoch {epoch}/{epochs}  "
            f"val {val_accuracy:.2%}  ETA {format_duration(self.eta())}"
        )

    def batch(self, text: str) -> None:
        self._status(f"[{self.done}/{self.total}] {self.current}  {text.strip()}")

    def finish(
        self, arm: str, label: str, outcome: str, seconds: float, *, trained: bool = True
    ) -> None:
        """A cell finished; `trained=False` (a reused cell) keeps its seconds out of the ETA."""
        self.done += 1
        self.pending[arm] = max(0, self.pending.get(arm, 1) - 1)
        if trained:
            self.measured.setdefault(arm, []).append(seconds)
        if self.interactive:
            self.stream.write("\r\033[K")
        self.stream.write(
            f"[{self.done}/{self.total}] {label}  {outcome}  {seconds:.1f} s  "
            f"ETA {format_duration(self.eta())}\n"
        )
        self.stream.flush()

    def note(self, text: str) -> None:
        if self.interactive:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def elapsed(self) -> float:
        return time.monotonic() - self.started
