"""Executing trials: in this process or in worker processes, and stopping cleanly.

`train_here` trains one trial in the sweep process; `train_in_workers` keeps N trials in
flight in a `WorkerPool`. Both drive the same `TrialBook` stages, so Optuna and MLflow see
the same thing either way. Ctrl-C and SIGTERM (`SweepInterrupted`) mark the running trials
FAIL / KILLED before the exception leaves; when every worker process has died, their trials
are marked FAIL / KILLED and `WorkersDied` says how to resume. `next_enumerated_trial` claims
cells on a study that other sweep processes may be working on at the same time.
"""

from __future__ import annotations

import signal
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
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
from cnnlab.studies import ATTR_CELL, claim_trial
from cnnlab.train import EpochRecord
from cnnlab.trials import ActiveTrial, TrialBook
from cnnlab.workers import WorkerPool


class SweepInterrupted(Exception):
    """Ctrl-C or SIGTERM arrived while a sweep was running."""


_arrived: list[BaseException] = []  # the stop signal received inside `stop_signals_as_interrupts`


@contextmanager
def stop_signals_as_interrupts() -> Iterator[None]:
    """SIGTERM raises `SweepInterrupted` and SIGINT `KeyboardInterrupt`; both are remembered.

    Python drops an exception raised inside a weakref callback or a `__del__` ("Exception
    ignored in ..."), and garbage collection runs those at any point, among TensorFlow's many
    weak references too: a Ctrl-C landing there was lost, and the sweep ran on to the end.
    `raise_if_stopped`, called between epochs and between trials, raises it again.
    """

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop: BaseException = (
            SweepInterrupted("terminated (SIGTERM)")
            if signum == signal.SIGTERM
            else KeyboardInterrupt()
        )
        _arrived[:] = [stop]
        raise stop

    _arrived.clear()
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _arrived.clear()


def raise_if_stopped() -> None:
    """Raise the stop signal received earlier again, in case its first raise was swallowed."""
    if _arrived:
        stop = _arrived[0]
        raise type(stop)(*stop.args)


def train_here(book: TrialBook, trial: optuna.Trial, cell: Cell, dataset: LoadedDataset) -> None:
    """One trial trained in this process (the default, `--workers 1`)."""
    active = book.begin(trial, cell)

    def on_epoch(record: EpochRecord) -> None:
        raise_if_stopped()
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
            raise_if_stopped()
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
            # Still in `active` until its bookkeeping is done: interrupted halfway through
            # `complete`, it must be interrupted below like the others.
            finished = active[job_id]
            if kind == "done":
                book.complete(finished, read_trial_files(Path(payload)))
            elif kind == "failed":
                book.fail(finished, payload)
            elif kind == "died":  # killed, not failed on its own: the MLflow run says KILLED
                died = {"reason": "worker_died", "message": payload}
                book.fail(finished, died, run_status="KILLED")
            elif kind == "pruned":
                book.prune(finished, payload)
            else:
                book.fail(finished, {"reason": "error", "message": payload})
            del active[job_id]
            pool.cleanup(job_id)
    except (KeyboardInterrupt, SweepInterrupted):
        pool.terminate()
        for running in active.values():
            book.interrupt_if_open(running)
        raise
    pool.close()
    return stopped


class WorkersDied(CnnlabError):
    """Every worker process of `--workers N` died, with trials still to run."""


def _fail_all_and_stop(book: TrialBook, active: dict[str, ActiveTrial], pool: WorkerPool) -> None:
    codes = ", ".join(str(code) for code in pool.exit_codes())
    message = f"every worker process died (exit codes {codes})"
    for running in active.values():
        book.fail(running, {"reason": "worker_died", "message": message}, run_status="KILLED")
    active.clear()
    pool.terminate()
    raise WorkersDied(
        f"All {len(pool.exit_codes())} worker processes died (exit codes {codes}; -9 is usually "
        "the kernel's out-of-memory killer). Their trials are marked FAIL; finished replicates "
        "are kept. Run the same command to resume, with fewer --workers if memory ran out."
    )


_CLAIM_ATTEMPTS = 1000  # each attempt that gives up closes one trial; far beyond any backlog


def next_enumerated_trial(
    study: optuna.Study,
    pending: Sequence[Cell],
    by_key: dict[str, Cell],
    tried: set[str],
) -> tuple[optuna.Trial, Cell] | None:
    """Claim the next cell of `pending` that nobody has finished or is running; None if none.

    The study is read again for every claim, because another sweep process on the same study
    may have finished or started cells since this one looked. The first pending cell that is
    neither finished, running nor already tried here is enqueued (unless a trial left waiting
    by a killed run holds it) and asked for. Optuna hands out the oldest waiting trial first,
    and another process may take ours, so the cell is read back from the trial we got. Two
    processes that claimed one cell at once both see it after claiming; the later trial (the
    higher number) gives way. A trial given up is closed as FAIL, never run, with the reason
    in `cnnlab.state`. `tried` (cells this process has run) keeps a failed cell from being
    retried in the same run.
    """
    for _ in range(_CLAIM_ATTEMPTS):
        trials = study.get_trials(deepcopy=False, states=_OPEN_OR_DONE)
        taken = {_cell_of(t) for t in trials if t.state != TrialState.WAITING}
        cell = next((c for c in pending if c.key not in taken | tried), None)
        if cell is None:
            return None
        if cell.key not in {_cell_of(t) for t in trials if t.state == TrialState.WAITING}:
            study.enqueue_trial(cell_params(cell), user_attrs={ATTR_CELL: cell.key})
        trial = study.ask()
        claim_trial(trial)
        key = trial.user_attrs.get(ATTR_CELL)
        reason = _reason_to_give_up(study, trial.number, key, by_key)
        if reason is None and key is not None:
            tried.add(key)
            return trial, by_key[key]
        trial.set_user_attr("cnnlab.state", reason)
        study.tell(trial, state=TrialState.FAIL)
    raise CnnlabError(
        f"Study {study.study_name}: {_CLAIM_ATTEMPTS} trials in a row could not be claimed for "
        "a cell of this sweep (each was a duplicate or held no cell). Something other than "
        "cnnlab may be changing the study; check it with `cnnlab studies`, or start afresh "
        "with --new-study."
    )


_OPEN_OR_DONE = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)


def _cell_of(trial: optuna.trial.FrozenTrial) -> str | None:
    key: str | None = trial.user_attrs.get(ATTR_CELL)
    return key


def _reason_to_give_up(
    study: optuna.Study, number: int, key: str | None, by_key: dict[str, Cell]
) -> str | None:
    """Why the trial just asked for must not run (its state), or None to run it."""
    if key is None:
        # No waiting trial was left: another process took the one we enqueued (and runs it),
        # so Optuna made a fresh trial that belongs to no cell.
        return "unused"
    if key not in by_key:
        return "outside_design"  # left waiting by a run with more seeds or backgrounds
    states = (TrialState.COMPLETE, TrialState.RUNNING)
    for other in study.get_trials(deepcopy=False, states=states):
        if _cell_of(other) != key or other.number == number:
            continue
        if other.state == TrialState.COMPLETE or other.number < number:
            return "duplicate"
    return None
