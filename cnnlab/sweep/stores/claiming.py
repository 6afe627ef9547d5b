"""Claiming the next cell on a study that other sweep processes may share at the same time.

Each cell of a design is one Optuna trial, queued WAITING with the cell's parameters and key.
A process claims a cell by setting a waiting trial RUNNING through the storage: the database
lets exactly one process do that (a row lock on PostgreSQL, a file lock on SQLite; see
below), so a cell is never run twice at once and no claim ever makes a trial it must
throw away. A process alone takes the cells in the design's order (lowest seed first, so a
stopped run leaves whole pairs). Once it has lost a claim to another process it takes them in
a shuffled window of the lowest seeds, so that a crowd of processes does not queue on one row
while the pairs of a look still finish roughly seed by seed.

The queue is filled idempotently under the study's queue lock: whichever process finds a cell
of the current look neither queued, running nor finished queues it (the first claim of each
look, a cell that failed in another process, a cell its reaper freed), so the sweep never
waits on one particular process to hand out work. `ask()`, which makes a fresh trial whenever
the queue looks empty, is never used for an enumerated design (a search samples its cells and
is claimed by `ask`, see `cnnlab.sweep.sources`).

Studies queued by earlier versions, which claimed by `ask()` and resolved duplicates after the
fact, resume: their waiting trials are claimed the same way, and a cell left waiting twice by
them is queued once (the spare closed as UNUSED) the first time the queue is filled.

The lock over the queue is the database's own. On PostgreSQL claiming needs none (Optuna sets
a WAITING trial RUNNING under the row's lock, `SELECT … FOR UPDATE`); filling the queue takes an
advisory lock (`pg_advisory_lock`, on a connection of its own, released on exit, and by the
server if the process dies), since two processes filling it at once would queue a cell twice.
SQLite takes no row locks (its `FOR UPDATE` is a plain `SELECT`: measured here, 8 processes
without a lock were handed one trial twice), so on SQLite one file lock beside the database
serializes both filling and claiming. A journal file storage gets one beside its journal; an
in-memory database, within one process, a thread lock.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from filelock import FileLock
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage, RDBStorage
from optuna.trial import FrozenTrial, TrialState

from cnnlab.spec.design import Cell
from cnnlab.sweep.stores.keys import Key, State
from cnnlab.sweep.stores.objective import cell_params
from cnnlab.sweep.stores.studies import claim_trial

# How many of the lowest waiting cells a process picks among at random: enough to spread a
# crowd of processes, few enough that a look's pairs still finish lowest seed first.
CLAIM_WINDOW = 8

_OPEN_OR_DONE = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)


@dataclass
class Claimer:
    """One process's claims on a study: in order until it meets a crowd, then shuffled."""

    rng: random.Random = field(default_factory=random.Random)
    crowded: bool = False  # lost a claim to another process: spread over the window

    def next_trial(
        self,
        study: optuna.Study,
        pending: Sequence[Cell],
        by_key: dict[str, Cell],
        tried: set[str],
    ) -> tuple[optuna.Trial, Cell] | None:
        """Claim a cell of `pending` nobody has finished or is running; None if none is left.

        A waiting trial of a pending cell is claimed; when none is waiting, the missing cells
        are queued first (`enqueue_missing`) and the claim tried once more. `tried` (cells
        this process has run) keeps a failed cell from being retried in the same run.
        """
        found = self.claim_waiting(study, pending, tried)
        if found is None and enqueue_missing(study, pending, tried):
            found = self.claim_waiting(study, pending, tried)
        if found is None:
            return None
        key = _cell_of(found)
        assert key is not None  # claim_waiting claims only trials of pending cells
        tried.add(key)
        return found, by_key[key]

    def claim_waiting(
        self, study: optuna.Study, pending: Sequence[Cell], tried: set[str]
    ) -> optuna.Trial | None:
        """Set one waiting trial of a pending cell RUNNING (the database lets one process
        win) and record this process as its owner; None when no such trial is waiting."""
        rank = {cell.key: i for i, cell in enumerate(pending)}
        storage = study._storage
        with queue_lock(storage, study.study_name, claims=True):
            trials = study.get_trials(deepcopy=False, states=_OPEN_OR_DONE)
            taken = {_cell_of(t) for t in trials if t.state != TrialState.WAITING}
            waiting = sorted(
                (
                    t
                    for t in trials
                    if t.state == TrialState.WAITING
                    and (key := _cell_of(t)) in rank
                    and key not in tried
                    and key not in taken
                ),
                key=lambda t: rank[str(_cell_of(t))],
            )
            if self.crowded:
                window = waiting[:CLAIM_WINDOW]
                self.rng.shuffle(window)
                waiting[:CLAIM_WINDOW] = window
            for trial in waiting:
                try:
                    won = storage.set_trial_state_values(trial._trial_id, state=TrialState.RUNNING)
                except UpdateFinishedTrialError:
                    won = False  # closed meanwhile (a spare, by another process)
                if not won:
                    self.crowded = True  # another process claimed it first
                    continue
                claimed = optuna.Trial(study, trial._trial_id)
                claim_trial(claimed)
                return claimed
        return None


def enqueue_missing(study: optuna.Study, cells: Sequence[Cell], skip: set[str]) -> int:
    """Queue each cell of `cells` (except `skip`) that has no waiting, running or finished
    trial, under the study's queue lock; returns how many were queued (0 when another process
    queued them first)."""
    with queue_lock(study._storage, study.study_name):
        trials = study.get_trials(deepcopy=False, states=_OPEN_OR_DONE)
        taken = {_cell_of(t) for t in trials if t.state != TrialState.WAITING}
        queued: set[str | None] = set()
        for trial in trials:
            if trial.state != TrialState.WAITING:
                continue
            key = _cell_of(trial)
            if key in queued or key in taken:
                _close_spare(study, trial)  # left by an older cnnlab's racing enqueues
            queued.add(key)
        added = 0
        for cell in cells:
            if cell.key in taken or cell.key in queued or cell.key in skip:
                continue
            study.enqueue_trial(cell_params(cell), user_attrs={Key.CELL: cell.key})
            added += 1
        return added


def requeue(study: optuna.Study, trial: FrozenTrial) -> bool:
    """Queue a reaped trial's cell again (idempotent): its reaper frees it for any process.
    Returns whether it was queued (not when another process already queued or ran it)."""
    key = _cell_of(trial)
    fixed = trial.system_attrs.get("fixed_params")
    if key is None or not fixed:
        return False  # a search's sampled trial: its sampler makes the next one
    params: dict[str, Any] = dict(fixed)
    with queue_lock(study._storage, study.study_name):
        for other in study.get_trials(deepcopy=False, states=_OPEN_OR_DONE):
            if _cell_of(other) == key:
                return False
        study.enqueue_trial(params, user_attrs={Key.CELL: key})
        return True


def _close_spare(study: optuna.Study, trial: FrozenTrial) -> None:
    """Close a spare waiting trial, claiming it first: closing it outright could fail a trial
    another process has just claimed and runs."""
    storage = study._storage
    try:
        if not storage.set_trial_state_values(trial._trial_id, state=TrialState.RUNNING):
            return  # another process claimed it (and runs its cell)
        storage.set_trial_user_attr(trial._trial_id, Key.STATE, State.UNUSED)
        storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
    except UpdateFinishedTrialError:
        pass  # closed meanwhile by another process


def _cell_of(trial: optuna.trial.FrozenTrial | optuna.Trial) -> str | None:
    key: str | None = trial.user_attrs.get(Key.CELL)
    return key


# --- the lock over the queue ---------------------------------------------------------

# Within one process (an in-memory database, or tests): one lock for every study.
_IN_PROCESS = threading.RLock()

_FILE_LOCK_TIMEOUT_S = 120  # a claim takes milliseconds; this long means a process hangs


def advisory_key(study_name: str) -> int:
    """A signed 64-bit key for `pg_advisory_lock`, the same in every process for one study."""
    digest = hashlib.sha256(f"cnnlab.queue:{study_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _backend(storage: BaseStorage) -> BaseStorage:
    """The storage under Optuna's per-process cache (`Study._storage` wraps an RDBStorage)."""
    return getattr(storage, "_backend", storage)


def lock_file(storage: BaseStorage) -> Path | None:
    """The file lock's path for a file-backed storage (SQLite, journal), else None."""
    backend = _backend(storage)
    if isinstance(backend, RDBStorage):
        url = backend.engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(f"{url.database}.queue.lock")
        return None
    journal = getattr(getattr(backend, "_backend", None), "_file_path", None)
    return Path(f"{journal}.queue.lock") if journal else None


def is_postgres(storage: BaseStorage) -> bool:
    backend = _backend(storage)
    return isinstance(backend, RDBStorage) and backend.engine.url.get_backend_name() == (
        "postgresql"
    )


@contextmanager
def queue_lock(storage: BaseStorage, study_name: str, *, claims: bool = False) -> Iterator[None]:
    """Hold the study's queue lock (see the module docstring). `claims=True` asks for it to
    claim a waiting trial: only databases without row locks take it then."""
    if is_postgres(storage):
        if claims:  # the row lock does it
            yield
            return
        yield from _advisory(storage, study_name)
        return
    path = lock_file(storage)
    if path is None:
        with _IN_PROCESS:
            yield
        return
    with FileLock(path, timeout=_FILE_LOCK_TIMEOUT_S):
        yield


def _advisory(storage: BaseStorage, study_name: str) -> Iterator[None]:
    from sqlalchemy import text

    backend = _backend(storage)
    assert isinstance(backend, RDBStorage)  # is_postgres
    key = advisory_key(study_name)
    with backend.engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
