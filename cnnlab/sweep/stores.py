"""Opening a sweep's stores, and reading from them what is done and what remains.

MLflow is opened first (once, before any trial: parallel first use of a fresh SQLite store
corrupts it), then the Optuna study (refusing a changed definition) with the trials of dead
processes reaped, then the study's parent run.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from cnnlab.data import LoadedDataset
from cnnlab.spec.design import Cell, Sweep, claims_hash, config_hash, seeds_hash
from cnnlab.sweep.keys import Key, State, version_key
from cnnlab.sweep.objective import pruner_for, sampler_for
from cnnlab.sweep.options import SweepOptions, study_base_name
from cnnlab.sweep.provenance import git_commit, package_versions
from cnnlab.sweep.studies import default_storage_url, open_storage, open_study, reap_dead_trials
from cnnlab.sweep.tracking import Tracker, default_tracking_uri


@dataclass
class Stores:
    """The open Optuna study and MLflow experiment/parent run of one sweep run."""

    tracker: Tracker
    experiment_id: str
    study: optuna.Study
    parent_run_id: str
    common_tags: dict[str, str]  # tags every trial's run gets too


@dataclass
class Remaining:
    """What is left to run: cells (enumerated designs) or a number of trials (search)."""

    total: int
    already: int
    pending: list[Cell]
    count: int


def open_stores(
    sweep: Sweep, options: SweepOptions, dataset: LoadedDataset, threads: dict[str, int]
) -> Stores:
    """MLflow, then the Optuna study with dead trials reaped, then the parent run.

    `threads` are the thread settings trials will train with, as far as they are known before
    training starts (a worker pool's real ones replace them: `TrialBook.set_threads`)."""
    options.runs_dir.mkdir(parents=True, exist_ok=True)
    tracking_uri = options.tracking_uri or default_tracking_uri(options.runs_dir)
    tracker = Tracker(tracking_uri, artifact_root=options.runs_dir / "mlartifacts")
    experiment_id = tracker.experiment_id(sweep.name)
    storage = open_storage(options.storage or default_storage_url(options.runs_dir))
    study = open_study(
        storage,
        study_base_name(sweep, options),
        config_hash=config_hash(sweep),
        claims_hash=claims_hash(sweep),
        plan_hash=seeds_hash(sweep),
        sweep_name=sweep.name,
        quick=options.quick,
        new_study=options.new_study,
        sampler=sampler_for(sweep),
        pruner=pruner_for(sweep),
    )
    for reaped in reap_dead_trials(study, storage):
        sys.stderr.write(f"Reaped trial {reaped.number} ({reaped.cell}): its process is gone.\n")
        if reaped.mlflow_run_id:
            tracker.set_tags(reaped.mlflow_run_id, {Key.STATE: State.REAPED})
            tracker.end(reaped.mlflow_run_id, "KILLED")
    versions = package_versions()
    common_tags = {
        Key.SWEEP: sweep.name,
        Key.STUDY: study.study_name,
        Key.DESIGN: sweep.design,
        Key.QUICK: str(options.quick),
        Key.GIT_COMMIT: git_commit(),
        Key.VERSIONS: json.dumps(versions, sort_keys=True),
        Key.THREADS: json.dumps(threads),
        Key.DATA_SOURCE: dataset.source,
        **{version_key(package): version for package, version in versions.items()},
    }
    parent_tags = {
        **common_tags,
        Key.CONFIG_HASH: config_hash(sweep),
        Key.CLAIMS_HASH: claims_hash(sweep),
        Key.PLAN_HASH: seeds_hash(sweep),
    }
    parent_run_id = tracker.parent_run(experiment_id, study.study_name, parent_tags)
    study.set_user_attr(Key.MLFLOW_PARENT_RUN_ID, parent_run_id)
    return Stores(tracker, experiment_id, study, parent_run_id, common_tags)


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


def remaining(sweep: Sweep, study: optuna.Study, design_cells: list[Cell]) -> Remaining:
    """Finished cells are skipped; cells a live process is running are left to it."""
    done, live = done_and_live(study)
    if sweep.design == "search":
        count = max(0, sweep.n_trials - finished_searches(study))
        return Remaining(sweep.n_trials, sweep.n_trials - count, [], count)
    pending = [c for c in design_cells if c.key not in done and c.key not in live]
    running_elsewhere = len(live & {c.key for c in design_cells})
    if running_elsewhere:
        sys.stderr.write(
            f"{running_elsewhere} cell(s) are being run by another live process; skipped here.\n"
        )
    already = len(design_cells) - len(pending) - running_elsewhere
    return Remaining(len(design_cells), already, pending, len(pending))


def finished_seconds(study: optuna.Study) -> dict[str, list[float]]:
    """Each arm's finished trials' wall seconds (start to complete), oldest first: a resumed
    run's ETA starts from them."""
    seconds: dict[str, list[float]] = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        arm = trial.user_attrs.get(Key.ARM, "search")
        if trial.duration is not None:
            seconds.setdefault(arm, []).append(trial.duration.total_seconds())
    return seconds


def finished_searches(study: optuna.Study) -> int:
    """A search's finished trials: counted, not keyed (two samples may pick one cell)."""
    states = (TrialState.COMPLETE, TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))
