"""Executing trials: in this process or in worker processes, and stopping cleanly.

`train_here` trains one trial in the sweep process; `train_in_workers` keeps N trials in
flight in a `WorkerPool`. Both drive the same `TrialBook` stages, so Optuna and MLflow see
the same thing either way. Ctrl-C and SIGTERM (`SweepInterrupted`) mark the running trials
FAIL / KILLED before the exception leaves.
"""

from __future__ import annotations

import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import optuna
from optuna.trial import TrialState

from cnnlab.artifacts import read_trial_files, write_trial_files
from cnnlab.data import LoadedDataset
from cnnlab.design import Cell
from cnnlab.errors import CnnlabError, TrainingFailed
from cnnlab.objective import cell_params, train_cell
from cnnlab.studies import ATTR_CELL
from cnnlab.train import EpochRecord
from cnnlab.trials import ActiveTrial, TrialBook
from cnnlab.workers import WorkerPool


class SweepInterrupted(Exception):
    """Ctrl-C or SIGTERM arrived while a sweep was running."""


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise SweepInterrupted("terminated (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def train_here(book: TrialBook, trial: optuna.Trial, cell: Cell, dataset: LoadedDataset) -> None:
    """One trial trained in this process (the default, `--workers 1`)."""
    active = book.begin(trial, cell)

    def on_epoch(record: EpochRecord) -> None:
        if book.epoch(active, record):
            raise optuna.TrialPruned(f"pruned after epoch {record.epoch}")

    try:
        result = train_cell(
            cell,
            dataset,
            on_epoch=on_epoch,
            progress=book.progress.batch if book.progress.interactive else None,
        )
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
        # A bug or an exhausted machine: the trial must not stay RUNNING (it would look alive
        # until reaped); record it as failed, then let the error stop the sweep with its trace.
        book.fail(active, {"reason": "error", "message": f"{type(error).__name__}: {error}"})
        raise
    try:
        with tempfile.TemporaryDirectory() as tmp:
            book.complete(active, write_trial_files(result, cell, Path(tmp)))
    except (KeyboardInterrupt, SweepInterrupted):
        book.interrupt_if_open(active)
        raise


def train_in_workers(
    book: TrialBook,
    next_trial: Callable[[], tuple[optuna.Trial, Cell] | None],
    count: int,
    pool: WorkerPool,
    workers: int,
    deadline: float | None,
) -> bool:
    """Keep `workers` trials in flight until `count` have run; True if stopped by the deadline."""
    active: dict[str, ActiveTrial] = {}
    started, stopped = 0, False
    try:
        while started < count or active:
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
            kind, job_id, payload = event
            if job_id not in active or kind == "started":
                continue
            if kind == "epoch":
                if book.epoch(active[job_id], EpochRecord(**payload)):
                    pool.request_prune(job_id)
                continue
            finished = active.pop(job_id)
            if kind == "done":
                book.complete(finished, read_trial_files(Path(payload)))
            elif kind == "failed":
                book.fail(finished, payload)
            elif kind == "pruned":
                book.prune(finished, payload)
            else:
                book.fail(finished, {"reason": "error", "message": payload})
            pool.cleanup(job_id)
    except (KeyboardInterrupt, SweepInterrupted):
        pool.terminate()
        for running in active.values():
            book.interrupt(running)
        raise
    pool.close()
    return stopped


class WorkersDied(CnnlabError):
    """Every worker process of `--workers N` died, with trials still to run."""


def _fail_all_and_stop(book: TrialBook, active: dict[str, ActiveTrial], pool: WorkerPool) -> None:
    codes = ", ".join(str(code) for code in pool.exit_codes())
    message = f"every worker process died (exit codes {codes})"
    for running in active.values():
        book.fail(running, {"reason": "error", "message": message})
    active.clear()
    pool.terminate()
    raise WorkersDied(
        f"All {len(pool.exit_codes())} worker processes died (exit codes {codes}; -9 is usually "
        "the kernel's out-of-memory killer). Their trials are marked FAIL; finished replicates "
        "are kept. Run the same command to resume, with fewer --workers if memory ran out."
    )


def next_enumerated_trial(
    study: optuna.Study,
    cell: Cell,
    waiting_keys: set[str | None],
    by_key: dict[str, Cell],
    done: set[str],
) -> tuple[optuna.Trial, Cell]:
    """Enqueue `cell` (unless a waiting trial already holds it) and ask for the next trial.

    Optuna hands out the oldest waiting trial first; a trial left waiting by a killed run may
    come before ours, so the cell is read back from the trial. A leftover whose cell has
    finished meanwhile is closed as FAIL (never run twice).
    """
    if cell.key not in waiting_keys:
        study.enqueue_trial(cell_params(cell), user_attrs={ATTR_CELL: cell.key})
    while True:
        trial = study.ask()
        key = trial.user_attrs.get(ATTR_CELL)
        if key is None or key not in by_key:
            study.tell(trial, state=TrialState.FAIL)
            raise CnnlabError(
                f"Study {study.study_name} handed out trial {trial.number} that is not a cell of "
                "this sweep; the study was changed by something other than cnnlab."
            )
        if key in done:
            trial.set_user_attr("cnnlab.state", "duplicate")
            study.tell(trial, state=TrialState.FAIL)
            continue
        return trial, by_key[key]
