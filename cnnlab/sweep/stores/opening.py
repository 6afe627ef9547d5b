"""Opening a sweep's stores, and reading from them what is done and what remains.

MLflow is opened first (once, before any trial: parallel first use of a fresh SQLite store
corrupts it), then the Optuna study (refusing a changed definition) with the trials of dead
processes reaped, then the study's parent run. A process that joins a running sweep
(`cnnlab worker`, `SweepOptions.joins`) opens the study and parent run the sweep's own process
made, and creates neither.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from filelock import FileLock, Timeout
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from cnnlab.errors import CnnlabError
from cnnlab.spec.design import Cell, Sweep
from cnnlab.sweep.options import DEAD_AFTER_S, StudyIdentity, SweepOptions
from cnnlab.sweep.provenance import git_commit, package_versions
from cnnlab.sweep.stores.claiming import requeue
from cnnlab.sweep.stores.keys import Key, State, version_key
from cnnlab.sweep.stores.objective import Sampling
from cnnlab.sweep.stores.redact import redact
from cnnlab.sweep.stores.studies import (
    Reaped,
    dead_after,
    default_storage_url,
    heartbeat_every,
    join_study,
    open_storage,
    open_study,
    reap_dead_trials,
)
from cnnlab.sweep.stores.tracking import Tracker, default_tracking_uri, is_server

# How long a process waits for another that is opening the same runs folder's stores (an
# unreachable store fails within its own connect timeout, well inside this).
OPENING_WAIT_S = 300.0


@dataclass
class Stores:
    """The open Optuna study and MLflow experiment/parent run of one sweep run."""

    tracker: Tracker
    experiment_id: str
    study: optuna.Study
    parent_run_id: str
    common_tags: dict[str, str]  # tags every trial's run gets too
    storage: BaseStorage  # the study's, for reaping while the sweep runs
    sampling: Sampling  # the study's sampler and pruner, what a trial's value is, pruning


@dataclass
class Remaining:
    """What is left to run: cells (enumerated designs) or a number of trials (search)."""

    total: int
    already: int
    pending: list[Cell]
    count: int
    running_elsewhere: int = 0  # cells of the design a live process (maybe another) holds
    cells: list[Cell] = field(default_factory=list)  # what was counted: a look's or the design's


def open_stores(
    sweep: Sweep,
    identity: StudyIdentity,
    sampling: Sampling,
    options: SweepOptions,
    *,
    data_source: str,
    threads: dict[str, int],
) -> Stores:
    """MLflow, then the Optuna study with dead trials reaped, then the parent run.

    `threads` are the thread settings trials will train with, as far as they are known before
    training starts (a worker pool's real ones replace them: `TrialBook.set_threads`)."""
    options.runs_dir.mkdir(parents=True, exist_ok=True)
    with _opening_lock(options.runs_dir):
        return _open_stores(sweep, identity, sampling, options, data_source, threads)


@contextlib.contextmanager
def _opening_lock(runs_dir: Path) -> Iterator[None]:
    """Processes started at once on one runs folder open its stores one after the other: the
    first creates the MLflow schema, the experiment, the study and its parent run, and the
    others find them (concurrently they raced: a migration error, a duplicated study)."""
    lock = FileLock(runs_dir / ".opening.lock")
    try:
        lock.acquire(timeout=2)
    except Timeout:
        sys.stderr.write(
            f"Waiting for another cnnlab process that is opening the stores of {runs_dir} …\n"
        )
        try:
            lock.acquire(timeout=OPENING_WAIT_S)
        except Timeout:
            raise CnnlabError(
                f"Another cnnlab process has held {runs_dir / '.opening.lock'} for over "
                f"{OPENING_WAIT_S:.0f} s while opening the stores of --runs-dir {runs_dir}: it "
                "may be stuck on an unreachable store. Stop it, or use another --runs-dir."
            ) from None
    try:
        yield
    finally:
        lock.release()


def _open_stores(
    sweep: Sweep,
    identity: StudyIdentity,
    sampling: Sampling,
    options: SweepOptions,
    data_source: str,
    threads: dict[str, int],
) -> Stores:
    tracking_uri = options.tracking_uri or default_tracking_uri(options.runs_dir)
    # A tracking server stores artifacts where it was told (`--artifacts-destination`), for
    # every host alike; a local store keeps them in the runs folder.
    artifact_root = None if is_server(tracking_uri) else options.runs_dir / "mlartifacts"
    tracker = Tracker(tracking_uri, artifact_root=artifact_root)
    storage_url = options.storage or default_storage_url(options.runs_dir)
    storage = open_storage(storage_url)
    if options.joins:
        study = join_study(storage, identity, where=redact(storage_url), sampling=sampling)
        experiment_id = tracker.existing_experiment_id(sweep.name)
    else:
        experiment_id = tracker.experiment_id(sweep.name)
        study = open_study(storage, identity, sampling=sampling, new_study=options.new_study)
        if options.dead_after is not None or Key.DEAD_AFTER not in study.user_attrs:
            grace = DEAD_AFTER_S if options.dead_after is None else options.dead_after
            study.set_user_attr(Key.DEAD_AFTER, grace)
    reap(study, storage, tracker)
    end_stale_runs(study, tracker, experiment_id)
    versions = package_versions()
    common_tags = {
        Key.SWEEP: sweep.name,
        Key.STUDY: study.study_name,
        Key.DESIGN: sweep.design,
        Key.QUICK: str(options.quick),
        Key.GIT_COMMIT: git_commit(),
        Key.VERSIONS: json.dumps(versions, sort_keys=True),
        Key.THREADS: json.dumps(threads),
        Key.DATA_SOURCE: data_source,
        **{version_key(package): version for package, version in versions.items()},
    }
    parent_tags = {
        **common_tags,
        Key.CONFIG_HASH: identity.config_hash,
        Key.CLAIMS_HASH: identity.claims_hash,
        Key.PLAN_HASH: identity.plan_hash,
    }
    if options.joins:
        parent_run_id = _joined_parent_run(study, tracker)
    else:
        parent_run_id = tracker.parent_run(experiment_id, study.study_name, parent_tags)
        study.set_user_attr(Key.MLFLOW_PARENT_RUN_ID, parent_run_id)
    return Stores(tracker, experiment_id, study, parent_run_id, common_tags, storage, sampling)


def _joined_parent_run(study: optuna.Study, tracker: Tracker) -> str:
    """The parent run the sweep's own process made, which must be in this MLflow store."""
    run_id = study.user_attrs.get(Key.MLFLOW_PARENT_RUN_ID)
    if run_id is None:
        raise CnnlabError(
            f"Study {study.study_name} has no MLflow parent run yet: the sweep's own process "
            "is still opening its stores. Start the worker again in a few seconds."
        )
    if not tracker.has_run(str(run_id)):
        raise CnnlabError(
            f"The MLflow parent run {run_id} of study {study.study_name} is not in the "
            f"tracking store {redact(tracker.tracking_uri)!r} (--tracking-uri): give the "
            "worker the same --tracking-uri as the sweep's own process."
        )
    return str(run_id)


def reap(study: optuna.Study, storage: BaseStorage, tracker: Tracker) -> list[Reaped]:
    """Fail the RUNNING trials whose process is gone (studies.reap_dead_trials), say so, end
    their MLflow runs as KILLED, and queue their cells again for any process to claim."""
    reaped = reap_dead_trials(study, storage)
    for trial in reaped:
        queued = requeue(study, trial.trial)
        sys.stderr.write(
            f"Reaped trial {trial.number} ({trial.cell}): its process is gone"
            f"{'; its cell is queued again' if queued else ''}.\n"
        )
        if trial.mlflow_run_id:
            tracker.set_tags(trial.mlflow_run_id, {Key.STATE: State.REAPED})
            tracker.end(trial.mlflow_run_id, "KILLED")
    return reaped


class Reaper:
    """Reaps dead processes' trials from a daemon thread, every heartbeat interval, whatever
    this process is doing: a dead host's cell is free within its grace plus two beats, not
    only when some process runs out of work and waits. Every process on the study runs one;
    reaping twice is harmless (the second finds the trial no longer RUNNING)."""

    def __init__(self, study: optuna.Study, storage: BaseStorage, tracker: Tracker) -> None:
        self._args = (study, storage, tracker)
        self._every = heartbeat_every(dead_after(study))
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cnnlab-reaper", daemon=True)

    def __enter__(self) -> Reaper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopped.wait(self._every):
            try:
                reap(*self._args)
            except Exception:
                # Another process reaped it first, or the store is briefly away: the next
                # round looks again (and the training thread reports a store that is gone).
                continue


def end_stale_runs(study: optuna.Study, tracker: Tracker, experiment_id: str) -> int:
    """End (KILLED) the MLflow runs still RUNNING whose trial has ended: a trial failed while
    the tracking server was away could not end its run then. Returns how many were ended."""
    states = {str(t.number): t for t in study.get_trials(deepcopy=False)}
    ended = 0
    for run_id, number in tracker.running_trials(experiment_id, study.study_name):
        trial = states.get(number)
        if trial is None or trial.state == TrialState.RUNNING:
            continue  # a live trial's run, or one this study does not know
        state = str(trial.user_attrs.get(Key.STATE, State.FAIL))
        complete = trial.state == TrialState.COMPLETE
        tracker.set_tags(run_id, {Key.STATE: State.COMPLETE if complete else state})
        tracker.end(run_id, "FINISHED" if complete else "KILLED")
        ended += 1
    if ended:
        sys.stderr.write(
            f"Ended {ended} MLflow run(s) left RUNNING by trials that ended while the tracking "
            "server was away.\n"
        )
    return ended


def done_and_live(study: optuna.Study) -> tuple[set[str], set[str]]:
    """Cells with a finished trial, and cells a RUNNING trial holds."""
    done: set[str] = set()
    live: set[str] = set()
    states = (TrialState.COMPLETE, TrialState.RUNNING)
    for trial in study.get_trials(deepcopy=False, states=states):
        key = trial.user_attrs.get(Key.CELL)
        if key:
            (done if trial.state == TrialState.COMPLETE else live).add(key)
    return done, live


def finished_seconds(study: optuna.Study) -> dict[str, list[float]]:
    """Each arm's trained trials' wall seconds (start to complete), oldest first, by arm key
    (`Cell.arm_key`: an arm under two budgets trains for two durations): a resumed run's ETA
    starts from them (a reused cell took no training time)."""
    seconds: dict[str, list[float]] = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        cell = trial.user_attrs.get(Key.CELL)
        arm = cell.rsplit("/seed=", 1)[0] if cell else trial.user_attrs.get(Key.ARM, "search")
        if trial.duration is not None and not trial.user_attrs.get(Key.REUSED_FROM):
            seconds.setdefault(arm, []).append(trial.duration.total_seconds())
    return seconds


def finished_searches(study: optuna.Study) -> int:
    """A search's finished trials: counted, not keyed (two samples may pick one cell)."""
    states = (TrialState.COMPLETE, TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))
