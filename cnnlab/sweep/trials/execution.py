"""Executing trials: in this process or in worker processes, and stopping cleanly.

`train_here` trains one trial in the sweep process; `train_in_workers` keeps N trials in
flight in a pool of worker processes (the run's one pool, kept across a plan's looks and
closed by its owner, `cnnlab.sweep.runner`). Both drive the same trial-book stages (`TrialStages`,
implemented by `cnnlab.sweep.trials.book.TrialBook`), so Optuna and MLflow see the same thing
either way. Ctrl-C and SIGTERM (`SweepInterrupted`) mark the running trials FAIL / KILLED
before the exception leaves; when every worker process has died, their trials are marked
FAIL / KILLED and `WorkersDied` says how to resume.
"""

from __future__ import annotations

import contextlib
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, Literal, Protocol, TypeVar

import optuna

from cnnlab.data import LoadedDataset
from cnnlab.errors import CnnlabError, Interrupted, TrainingFailed
from cnnlab.spec.design import Cell
from cnnlab.sweep.trials.artifacts import TrialFiles, read_trial_files, write_trial_files
from cnnlab.sweep.trials.events import (
    Crashed,
    Died,
    Done,
    EpochDone,
    Event,
    Failed,
    Pruned,
    Started,
    UnknownEvent,
)
from cnnlab.training.result import EpochRecord, TrainingResult

FailStatus = Literal["FAILED", "KILLED"]  # how a failed trial's MLflow run ends (KILLED: killed)
Active = TypeVar("Active")


class TrialStages(Protocol[Active]):
    """The bookkeeping stages of a trial (`cnnlab.sweep.trials.book.TrialBook`); `Active` is the
    book's handle of one running trial."""

    def begin(self, trial: optuna.Trial, cell: Cell) -> Active: ...
    def epoch(self, active: Active, record: EpochRecord) -> bool: ...
    def complete(self, active: Active, files: TrialFiles) -> None: ...
    def fail(
        self, active: Active, failure: dict[str, Any], *, run_status: FailStatus = "FAILED"
    ) -> None: ...
    def prune(self, active: Active, message: str) -> None: ...
    def interrupt(self, active: Active) -> None: ...
    def interrupt_if_open(self, active: Active) -> None: ...


class Pool(Protocol):
    """Worker processes fed with cells (`cnnlab.sweep.trials.workers.WorkerPool`)."""

    @property
    def size(self) -> int: ...  # how many processes: the most trials in flight at once
    def submit(self, job_id: str, cell: Cell) -> None: ...
    def request_prune(self, job_id: str) -> None: ...
    def next_event(self, timeout: float) -> Event | None: ...
    def all_dead(self) -> bool: ...
    def exit_codes(self) -> list[int | None]: ...
    def cleanup(self, job_id: str) -> None: ...
    def close(self) -> None: ...
    def terminate(self) -> None: ...


class SweepInterrupted(Interrupted):
    """SIGTERM arrived while a sweep was running (Ctrl-C is a KeyboardInterrupt)."""


class StopLatch:
    """Remembers the stop signal that arrived while a sweep runs, to raise it again.

    Python drops an exception raised inside a weakref callback or a `__del__` ("Exception
    ignored in ..."), and garbage collection runs those at any point, among TensorFlow's many
    weak references too: a Ctrl-C landing there was lost, and the sweep ran on to the end.
    `raise_if_stopped`, called between epochs and between trials, raises it again.
    """

    def __init__(self) -> None:
        self.arrived: BaseException | None = None

    def raise_if_stopped(self) -> None:
        if self.arrived is not None:
            raise type(self.arrived)(*self.arrived.args)


@contextmanager
def stop_signals_as_interrupts() -> Iterator[StopLatch]:
    """SIGTERM raises `SweepInterrupted` and SIGINT `KeyboardInterrupt`; the latch keeps it."""
    latch = StopLatch()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop: BaseException = (
            SweepInterrupted("terminated (SIGTERM)")
            if signum == signal.SIGTERM
            else KeyboardInterrupt()
        )
        latch.arrived = stop
        raise stop

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield latch
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def train_cell(
    cell: Cell,
    dataset: LoadedDataset,
    *,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainingResult:
    """`cnnlab.training.cell.train_cell`, imported on first use: TensorFlow is imported only by
    a process that trains (the sweep process with --workers 1, or a worker)."""
    from cnnlab.training.cell import train_cell as train

    return train(cell, dataset, on_epoch=on_epoch, progress=progress)


def train_here(
    book: TrialStages[Active],
    trial: optuna.Trial,
    cell: Cell,
    dataset: LoadedDataset,
    *,
    latch: StopLatch,
    progress: Callable[[str], None] | None = None,
) -> None:
    """One trial trained in this process (`--workers 1`); `progress` gets batch counters."""
    active = book.begin(trial, cell)

    def on_epoch(record: EpochRecord) -> None:
        latch.raise_if_stopped()
        if book.epoch(active, record):
            raise optuna.TrialPruned(f"pruned after epoch {record.epoch}")

    try:
        result = train_cell(cell, dataset, on_epoch=on_epoch, progress=progress)
    except TrainingFailed as failure:
        book.fail(active, failure.to_dict())
        return
    except optuna.TrialPruned as pruned:
        book.prune(active, str(pruned))
        return
    except (KeyboardInterrupt, SweepInterrupted):
        book.interrupt(active)
        raise
    except Exception as error:
        if latch.arrived is not None:
            # The stop signal's exception, raised inside TensorFlow's C++ code, can come out
            # as another error ("SystemError: ... bad argument to internal function"): the
            # trial was interrupted, not failed, and the user sees the stop, not a trace.
            book.interrupt(active)
            latch.raise_if_stopped()
        # A bug or an exhausted machine: the trial must not stay RUNNING (it would look alive
        # until reaped); record it as failed, then let the error stop the sweep with its trace.
        # If the error is a store's (a database or tracking server gone), recording fails
        # too: the next run reaps the trial, and the original error says what happened.
        with contextlib.suppress(Exception):
            book.fail(active, {"reason": "error", "message": f"{type(error).__name__}: {error}"})
        raise
    try:
        with tempfile.TemporaryDirectory() as tmp:
            book.complete(active, write_trial_files(result, cell, Path(tmp)))
    except (KeyboardInterrupt, SweepInterrupted):
        book.interrupt_if_open(active)
        raise


def train_in_workers(
    book: TrialStages[Active],
    next_trial: Callable[[], tuple[optuna.Trial, Cell] | None],
    count: int,
    pool: Pool,
    *,
    deadline: float | None,
    latch: StopLatch,
) -> bool:
    """Keep one trial per worker in flight until `count` have run; True if stopped by the
    deadline."""
    workers = pool.size
    active: dict[str, Active] = {}
    started, stopped = 0, False
    try:
        while started < count or active:
            latch.raise_if_stopped()
            while started < count and len(active) < workers:
                if deadline is not None and time.monotonic() > deadline:
                    stopped, count = True, started
                    break
                found = next_trial()
                if found is None:  # another process took the remaining cells
                    count = started
                    break
                trial, cell = found
                started += 1
                job_id = f"trial-{trial.number}"
                active[job_id] = book.begin(trial, cell)
                pool.submit(job_id, cell)
            event = pool.next_event(timeout=1.0)
            if event is None:
                if active and pool.all_dead():
                    _fail_all_and_stop(book, active, pool)
                continue
            if event.job_id not in active or isinstance(event, Started):
                continue
            if isinstance(event, EpochDone):
                if book.epoch(active[event.job_id], event.record):
                    pool.request_prune(event.job_id)
                continue
            # Still in `active` until its bookkeeping is done: interrupted halfway through
            # `complete`, it must be interrupted below like the others.
            _finish(book, active[event.job_id], event)
            del active[event.job_id]
            pool.cleanup(event.job_id)
    except (KeyboardInterrupt, SweepInterrupted):
        pool.terminate()
        for running in active.values():
            book.interrupt_if_open(running)
        raise
    return stopped  # the pool stays up for the next look; its owner closes it


def _finish(book: TrialStages[Active], active: Active, event: Event) -> None:
    """Record a job's final event in the book."""
    if isinstance(event, Done):
        book.complete(active, read_trial_files(event.folder))
    elif isinstance(event, Failed):
        book.fail(active, event.failure)
    elif isinstance(event, Died):  # killed, not failed on its own: the MLflow run says KILLED
        book.fail(active, {"reason": "worker_died", "message": event.message}, run_status="KILLED")
    elif isinstance(event, Pruned):
        book.prune(active, event.message)
    elif isinstance(event, Crashed):
        book.fail(active, {"reason": "error", "message": event.message})
    else:
        raise UnknownEvent(f"{event!r} is not a final event of a job")


class WorkersDied(CnnlabError):
    """Every worker process of `--workers N` died, with trials still to run."""


def _fail_all_and_stop(book: TrialStages[Active], active: dict[str, Active], pool: Pool) -> None:
    codes = ", ".join(str(code) for code in pool.exit_codes())
    message = f"every worker process died (exit codes {codes})"
    for running in active.values():
        book.fail(running, {"reason": "worker_died", "message": message}, run_status="KILLED")
    active.clear()
    pool.terminate()
    raise WorkersDied(
        f"All {len(pool.exit_codes())} worker processes died (exit codes {codes}; -9 is usually "
        "the kernel's out-of-memory killer). Their trials are marked FAIL; finished cells "
        "are kept. Run the same command to resume, with fewer --workers if memory ran out."
    )
