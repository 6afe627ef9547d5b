"""Trial execution control flow: stand-ins for the pool and the book (no training; claiming
cells on a real study is `test_claiming`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import optuna
import pytest

import cnnlab.sweep.trials.execution
from cnnlab.spec.design import Cell, Factor, Sweep, cells
from cnnlab.spec.presets import small
from cnnlab.spec.specs import TrialSpec
from cnnlab.sweep.trials.artifacts import TrialFiles
from cnnlab.sweep.trials.events import Died, Done, Event, Failed
from cnnlab.sweep.trials.execution import (
    FailStatus,
    Pool,
    StopLatch,
    TrialStages,
    WorkersDied,
    train_here,
    train_in_workers,
)
from cnnlab.training.result import EpochRecord

SWEEP = Sweep(
    name="c",
    base=TrialSpec(arch=small),
    factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
    seeds=1,
)
CELLS = cells(SWEEP)  # max/seed=00, avg/seed=00
BY_KEY = {cell.key: cell for cell in CELLS}


class DeadPool:
    """A worker pool whose processes have all died (killed, or out of memory)."""

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self.submitted: list[str] = []
        self.terminated = False

    def submit(self, job_id: str, cell: Cell) -> None:
        self.submitted.append(job_id)

    def request_prune(self, job_id: str) -> None:
        pass

    def next_event(self, timeout: float) -> Event | None:
        return None  # nobody is left to report anything

    def all_dead(self) -> bool:
        return True

    def exit_codes(self) -> list[int | None]:
        return [-9, -9]

    def cleanup(self, job_id: str) -> None:
        pass

    def close(self) -> None:
        pass

    def terminate(self) -> None:
        self.terminated = True


class Book:
    """The trial book's stages, recorded; its handle of a running trial is a string."""

    def __init__(self) -> None:
        self.failed: list[tuple[str, dict[str, Any]]] = []
        self.run_status: list[str] = []
        self.interrupted: list[str] = []

    def begin(self, trial: optuna.Trial, cell: Cell) -> str:
        return f"active-{trial.number}"

    def epoch(self, active: str, record: EpochRecord) -> bool:
        return False

    def fail(
        self, active: str, failure: dict[str, Any], *, run_status: FailStatus = "FAILED"
    ) -> None:
        self.failed.append((active, failure))
        self.run_status.append(run_status)

    def complete(self, active: str, files: TrialFiles) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the finished trial is being recorded

    def prune(self, active: str, message: str) -> None:
        pass

    def interrupt(self, active: str) -> None:
        self.interrupted.append(active)

    def interrupt_if_open(self, active: str) -> None:
        self.interrupted.append(active)


def _fake_trial(number: int) -> optuna.Trial:
    return cast(optuna.Trial, SimpleNamespace(number=number))


def _workers(
    book: TrialStages[str],
    trials: Callable[[], tuple[optuna.Trial, Cell] | None],
    count: int,
    pool: Pool,
) -> bool:
    return train_in_workers(book, trials, count, pool, deadline=None, latch=StopLatch())


def test_when_every_worker_dies_the_held_trials_fail_and_the_sweep_stops() -> None:
    # Before: the loop waited forever for events from dead workers.
    pool, book = DeadPool(), Book()
    numbers = iter(range(10))

    def next_trial() -> tuple[optuna.Trial, Cell] | None:
        return _fake_trial(next(numbers)), CELLS[0]

    with pytest.raises(WorkersDied, match=r"All 2 worker processes died .*-9.*same command"):
        _workers(book, next_trial, 10, pool)
    assert [active for active, _ in book.failed] == ["active-0", "active-1"]
    assert all("every worker process died" in f["message"] for _, f in book.failed)
    assert book.run_status == ["KILLED", "KILLED"]  # killed, not failed on their own
    assert pool.submitted == ["trial-0", "trial-1"] and pool.terminated  # nothing more started


class OnePool(DeadPool):
    """A pool with live workers that reports one scripted event, then nothing."""

    def __init__(self, event: object) -> None:
        super().__init__(size=1)
        self.events = [event]

    def next_event(self, timeout: float) -> Event | None:
        return cast(Event, self.events.pop()) if self.events else None

    def all_dead(self) -> bool:
        return False


def _one_trial() -> Callable[[], tuple[optuna.Trial, Cell] | None]:
    trials = iter([(_fake_trial(0), CELLS[0])])
    return lambda: next(trials, None)


def test_a_killed_worker_leaves_a_killed_run_not_a_failed_one() -> None:
    book = Book()
    pool = OnePool(Died("trial-0", "its worker process died (exit code -9)"))
    _workers(book, _one_trial(), 1, pool)
    assert book.failed[0][1]["reason"] == "worker_died" and book.run_status == ["KILLED"]


def test_a_failed_training_fails_its_trial_with_the_reason() -> None:
    book = Book()
    pool = OnePool(Failed("trial-0", {"reason": "nan_loss", "message": "diverged"}))
    _workers(book, _one_trial(), 1, pool)
    assert book.failed == [("active-0", {"reason": "nan_loss", "message": "diverged"})]
    assert book.run_status == ["FAILED"]


def test_an_unknown_event_raises_instead_of_failing_the_trial() -> None:
    # Before: an event of an unknown kind was silently recorded as a failed trial.
    book = Book()
    pool = OnePool(SimpleNamespace(job_id="trial-0"))
    with pytest.raises(TypeError, match="not a final event"):
        _workers(book, _one_trial(), 1, pool)
    assert book.failed == []


def test_an_interrupt_while_a_finished_trial_is_recorded_interrupts_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Before: the trial left `active` before `complete`, so Ctrl-C inside `complete` left its
    # MLflow run RUNNING.
    monkeypatch.setattr(cnnlab.sweep.trials.execution, "read_trial_files", lambda folder: None)
    book, pool = Book(), OnePool(Done("trial-0", Path("/nowhere")))
    with pytest.raises(KeyboardInterrupt):
        _workers(book, _one_trial(), 1, pool)
    assert book.interrupted == ["active-0"] and pool.terminated


def test_a_stop_signal_swallowed_once_is_raised_again_by_the_latch() -> None:
    latch = StopLatch()
    latch.raise_if_stopped()  # nothing arrived: no effect
    latch.arrived = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        latch.raise_if_stopped()


def test_an_error_that_a_stop_signal_caused_inside_training_is_the_stop_not_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Seen in CI: Ctrl-C landing inside TensorFlow's C++ came out of `fit` as "SystemError:
    # bad argument to internal function"; the trial was recorded FAILED and the user got a
    # traceback instead of "Run the same command to resume".
    latch = StopLatch()

    def stopped_inside_tensorflow(*args: object, **kwargs: object) -> None:
        latch.arrived = KeyboardInterrupt()
        raise SystemError("Objects/listobject.c:338: bad argument to internal function")

    monkeypatch.setattr(cnnlab.sweep.trials.execution, "train_cell", stopped_inside_tensorflow)
    book = Book()
    with pytest.raises(KeyboardInterrupt):
        train_here(book, _fake_trial(0), CELLS[0], cast(Any, None), latch=latch)
    assert book.interrupted == ["active-0"] and book.failed == []


def test_an_error_in_training_without_a_stop_signal_is_a_failure_with_its_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise SystemError("a real bug")

    monkeypatch.setattr(cnnlab.sweep.trials.execution, "train_cell", broken)
    book = Book()
    with pytest.raises(SystemError):
        train_here(book, _fake_trial(0), CELLS[0], cast(Any, None), latch=StopLatch())
    assert book.interrupted == [] and book.failed == [
        ("active-0", {"reason": "error", "message": "SystemError: a real bug"})
    ]


# --- claiming cells on a study shared with other processes -------------------------------
