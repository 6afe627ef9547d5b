"""Trial execution control flow, with stand-ins for the pool and the book (no training)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from cnnlab.execution import WorkersDied, train_in_workers


class DeadPool:
    """A worker pool whose processes have all died (killed, or out of memory)."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.terminated = False

    def submit(self, job_id: str, cell: Any) -> None:
        self.submitted.append(job_id)

    def next_event(self, timeout: float) -> None:
        return None  # nobody is left to report anything

    def all_dead(self) -> bool:
        return True

    def exit_codes(self) -> list[int | None]:
        return [-9, -9]

    def terminate(self) -> None:
        self.terminated = True


class Book:
    def __init__(self) -> None:
        self.failed: list[tuple[str, dict[str, Any]]] = []

    def begin(self, trial: Any, cell: Any) -> str:
        return f"active-{trial.number}"

    def fail(self, active: str, failure: dict[str, Any]) -> None:
        self.failed.append((active, failure))


def test_when_every_worker_dies_the_held_trials_fail_and_the_sweep_stops() -> None:
    # Before: the loop waited forever for events from dead workers.
    pool, book = DeadPool(), Book()
    trials = iter(range(10))

    def next_trial() -> tuple[SimpleNamespace, str] | None:
        return SimpleNamespace(number=next(trials)), "cell"

    with pytest.raises(WorkersDied, match=r"All 2 worker processes died .*-9.*same command"):
        train_in_workers(book, next_trial, 10, pool, 2, None)  # type: ignore[arg-type]
    assert [active for active, _ in book.failed] == ["active-0", "active-1"]
    assert all("every worker process died" in f["message"] for _, f in book.failed)
    assert pool.submitted == ["trial-0", "trial-1"] and pool.terminated  # nothing more started
