"""Running a sweep: the composition of design, data, Optuna, training and MLflow.

`run_sweep` is what `python -m cnnlab.sweep NAME` does:
1. apply `--quick` / `--seeds` / `--epochs` / `--dataset` to the declared sweep and print
   the design's size and a time estimate;
2. open the MLflow store and experiment *first* (once, before any trial), then the Optuna
   study (refusing a changed definition), reap trials whose owner died, find the parent run;
3. run every unfinished cell (skipping finished ones and ones a live worker is running, as
   the study says just before each claim, since other processes may share it), replicate by
   replicate, each as an Optuna trial with a nested MLflow child run;
4. write `results.csv`, close the parent run and print a one-screen summary of the current
   design's cells (a study extended with more seeds may hold more).

Ctrl-C or SIGTERM marks the running trial FAIL and its MLflow run KILLED, then exits; the
same command resumes. `kill -9` leaves a RUNNING trial that the next run reaps.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from cnnlab.data import LoadedDataset, load_dataset
from cnnlab.design import Cell, Sweep, cells, claims_hash, config_hash
from cnnlab.errors import SpecError
from cnnlab.estimate import trial_seconds
from cnnlab.execution import (
    SweepInterrupted,
    next_enumerated_trial,
    raise_if_stopped,
    stop_signals_as_interrupts,
    train_here,
    train_in_workers,
)
from cnnlab.geometry import count_params
from cnnlab.objective import register_distributions, suggest_cell
from cnnlab.progress import Progress
from cnnlab.provenance import git_commit, package_versions
from cnnlab.publish import StudyFacts, publish_report
from cnnlab.report.build import WrittenReport
from cnnlab.results import write_tables
from cnnlab.space import DataSpec, TrialSpec
from cnnlab.studies import (
    ATTR_CELL,
    ATTR_CLAIMS,
    claim_trial,
    default_storage_url,
    open_storage,
    open_study,
    reap_dead_trials,
)
from cnnlab.summary import SweepOutcome, describe_plan, summary_text
from cnnlab.tracking import Tracker, default_tracking_uri
from cnnlab.train import thread_settings
from cnnlab.trials import TrialBook
from cnnlab.workers import WorkerPool

QUICK_SEEDS = 3
QUICK_EPOCHS = 1
QUICK_TRAIN_IMAGES = 5_000
QUICK_SEARCH_TRIALS = 4
QUICK_PROBE_IMAGES = 2_000  # 17 probe passes over all 10,000 test images would triple a smoke run


@dataclass(frozen=True, kw_only=True)
class SweepOptions:
    quick: bool = False
    dry_run: bool = False
    seeds: int | None = None
    epochs: int | None = None
    max_time: float | None = None  # seconds
    dataset: str | None = None
    data_dir: Path | None = None
    only_data_dir: bool = False
    keras_home: Path | None = None
    storage: str | None = None
    tracking_uri: str | None = None
    workers: int = 1
    runs_dir: Path = Path("runs")
    new_study: bool = False
    reports_dir: Path | None = None  # where to write the report (the CLI: reports/); None: none
    sweep_source: str | None = None  # how the sweep was named (name or path), for rebuilds


# --- the effective sweep -------------------------------------------------------------------


def effective_sweep(sweep: Sweep, options: SweepOptions) -> Sweep:
    """The declared sweep with `--quick`, `--seeds`, `--epochs` and `--dataset` applied."""
    base, changes = sweep.base, dict[str, Any]()
    if options.quick:
        subset = base.data.train_subset
        base = dataclasses.replace(
            base,
            train=dataclasses.replace(base.train, epochs=QUICK_EPOCHS),
            data=dataclasses.replace(
                base.data,
                train_subset=QUICK_TRAIN_IMAGES
                if subset is None
                else min(subset, QUICK_TRAIN_IMAGES),
            ),
        )
        changes["seeds"] = (
            tuple(sweep.seed_values[:QUICK_SEEDS])
            if len(sweep.seed_values) >= QUICK_SEEDS
            else QUICK_SEEDS
        )
        changes["n_backgrounds"] = 1
        changes["n_trials"] = min(sweep.n_trials, QUICK_SEARCH_TRIALS)
        changes["probe_images"] = QUICK_PROBE_IMAGES
    if options.seeds is not None:
        changes["seeds"] = seeds_for_count(sweep.seeds, options.seeds)
    if options.epochs is not None:
        base = dataclasses.replace(
            base, train=dataclasses.replace(base.train, epochs=options.epochs)
        )
    if options.dataset is not None:
        base = dataclasses.replace(
            base,
            data=dataclasses.replace(base.data, dataset=options.dataset),  # type: ignore[arg-type]
        )
    return dataclasses.replace(sweep, base=base, **changes)


def seeds_for_count(declared: int | tuple[int, ...], count: int) -> int | tuple[int, ...]:
    """`--seeds N` applied to the sweep's declared `seeds`.

    A declared count becomes N (seeds 0..N-1). Declared explicit seeds are kept, so results
    already in the study still pair: the first N of them, or all of them followed by the
    smallest integers not among them (as `seeds=N` counts up from 0).
    """
    if count < 1:
        raise SpecError("seeds", f"`--seeds` must be at least 1, but {count} was passed.")
    if isinstance(declared, int):
        return count
    if count <= len(declared):
        return declared[:count]
    used = set(declared)
    unused = (seed for seed in itertools.count() if seed not in used)
    return (*declared, *itertools.islice(unused, count - len(declared)))


def study_base_name(sweep: Sweep, options: SweepOptions) -> str:
    name = sweep.name + ("-quick" if options.quick else "")
    if sweep.base.data.dataset != DataSpec().dataset:
        name += f"-{sweep.base.data.dataset}"
    return name


# --- dry run -------------------------------------------------------------------------------


def dry_run(sweep: Sweep, design_cells: list[Cell], dataset: LoadedDataset) -> None:
    """Build every arm's model and train it on one batch. Writes nothing."""
    import numpy as np

    from cnnlab.model import build_model
    from cnnlab.train import seed_everything

    seen: dict[str, TrialSpec] = {}
    for cell in design_cells or [suggest_dry(sweep)]:
        seen.setdefault(cell.arm + (f"/bg={cell.background}" if cell.background else ""), cell.spec)
    for label, spec in seen.items():
        seed_everything(0)
        model = build_model(spec.arch, precision=spec.train.precision, seed=0)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        batch = spec.train.batch_size
        x = (dataset.x_train[:batch].astype(np.float32) / 255.0)[..., None]
        loss = float(model.train_on_batch(x, dataset.y_train[:batch].astype(np.int32)))
        sys.stderr.write(
            f"  ok  {sweep.name}/{label}: {count_params(spec.arch):,} parameters, "
            f"one batch of {batch} trained (loss {loss:.3f})\n"
        )


def suggest_dry(sweep: Sweep) -> Cell:
    """For a search's dry run: the first level of every factor."""
    trial = optuna.trial.FixedTrial({f.path: f.labels[0] for f in sweep.factors})
    return suggest_cell(trial, sweep)  # type: ignore[arg-type]


# --- the run -------------------------------------------------------------------------------


def _done_and_live(study: optuna.Study) -> tuple[set[str], set[str]]:
    """Cells with a finished trial, and cells a RUNNING trial holds."""
    done: set[str] = set()
    live: set[str] = set()
    states = (TrialState.COMPLETE, TrialState.RUNNING)
    for trial in study.get_trials(deepcopy=False, states=states):
        key = trial.user_attrs.get(ATTR_CELL)
        if key:
            (done if trial.state == TrialState.COMPLETE else live).add(key)
    return done, live


@dataclass
class _Stores:
    """The open Optuna study and MLflow experiment/parent run of one sweep run."""

    tracker: Tracker
    experiment_id: str
    storage: Any
    study: optuna.Study
    parent_run_id: str
    common_tags: dict[str, str]


@dataclass
class _Remaining:
    """What is left to run: cells (enumerated designs) or a number of trials (search)."""

    total: int
    already: int
    pending: list[Cell]
    count: int


def _open_stores(sweep: Sweep, options: SweepOptions, dataset: LoadedDataset) -> _Stores:
    """MLflow first (once, before any trial: parallel first use of a fresh SQLite store corrupts
    it), then the Optuna study with dead trials reaped, then the parent run."""
    out = sys.stderr
    options.runs_dir.mkdir(parents=True, exist_ok=True)
    tracking_uri = options.tracking_uri or default_tracking_uri(options.runs_dir)
    tracker = Tracker(tracking_uri, artifact_root=options.runs_dir / "mlartifacts")
    experiment_id = tracker.experiment_id(sweep.name)
    storage = open_storage(options.storage or default_storage_url(options.runs_dir))
    search = sweep.design == "search"
    study = open_study(
        storage,
        study_base_name(sweep, options),
        config_hash=config_hash(sweep),
        claims_hash=claims_hash(sweep),
        sweep_name=sweep.name,
        quick=options.quick,
        new_study=options.new_study,
        sampler=optuna.samplers.TPESampler(seed=0) if search else optuna.samplers.RandomSampler(0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3) if search else None,
    )
    for reaped in reap_dead_trials(study, storage):
        out.write(f"Reaped trial {reaped.number} ({reaped.cell}): its process is gone.\n")
        if reaped.mlflow_run_id:
            tracker.set_tags(reaped.mlflow_run_id, {"cnnlab.state": "REAPED"})
            tracker.end(reaped.mlflow_run_id, "KILLED")
    versions = package_versions()
    common_tags = {
        "cnnlab.sweep": sweep.name,
        "cnnlab.study": study.study_name,
        "cnnlab.design": sweep.design,
        "cnnlab.quick": str(options.quick),
        "cnnlab.git_commit": git_commit(),
        "cnnlab.versions": json.dumps(versions, sort_keys=True),
        "cnnlab.threads": json.dumps(thread_settings()),
        "cnnlab.data_source": dataset.source,
        **{f"cnnlab.version.{k}": v for k, v in versions.items()},
    }
    parent_tags = {
        **common_tags,
        "cnnlab.config_hash": config_hash(sweep),
        "cnnlab.claims_hash": claims_hash(sweep),
    }
    parent_run_id = tracker.parent_run(experiment_id, study.study_name, parent_tags)
    study.set_user_attr("cnnlab.mlflow_parent_run_id", parent_run_id)
    return _Stores(tracker, experiment_id, storage, study, parent_run_id, common_tags)


def _remaining(sweep: Sweep, study: optuna.Study, design_cells: list[Cell]) -> _Remaining:
    """Finished cells are skipped; cells a live process is running are left to it."""
    done, live = _done_and_live(study)
    if sweep.design == "search":
        count = max(0, sweep.n_trials - _finished_searches(study))
        return _Remaining(sweep.n_trials, sweep.n_trials - count, [], count)
    pending = [c for c in design_cells if c.key not in done and c.key not in live]
    running_elsewhere = len(live & {c.key for c in design_cells})
    if running_elsewhere:
        sys.stderr.write(
            f"{running_elsewhere} replicate(s) are being run by another live process; "
            "skipped here.\n"
        )
    already = len(design_cells) - len(pending) - running_elsewhere
    return _Remaining(len(design_cells), already, pending, len(pending))


def _finished_searches(study: optuna.Study) -> int:
    """A search's finished trials: counted, not keyed (two samples may pick one cell)."""
    states = (TrialState.COMPLETE, TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def _execute(
    sweep: Sweep,
    stores: _Stores,
    remaining: _Remaining,
    design_cells: list[Cell],
    book: TrialBook,
    dataset: LoadedDataset,
    options: SweepOptions,
) -> bool:
    """Run what remains, here or in workers; True if `--max-time` stopped it early."""
    study = stores.study
    by_key = {cell.key: cell for cell in design_cells}
    tried: set[str] = set()
    deadline = None if options.max_time is None else time.monotonic() + options.max_time

    def next_trial() -> tuple[optuna.Trial, Cell] | None:
        """The next trial to run, or None when no cell is left."""
        if sweep.design == "search":
            trial = study.ask()
            claim_trial(trial)
            cell = suggest_cell(trial, sweep)
        else:
            found = next_enumerated_trial(study, remaining.pending, by_key, tried)
            if found is None:
                return None
            trial, cell = found
        register_distributions(trial, sweep)
        return trial, cell

    if options.workers > 1 and remaining.count:
        scratch = options.runs_dir / ".work" / study.study_name
        pool = WorkerPool(min(options.workers, remaining.count), dataset, scratch)
        return train_in_workers(book, next_trial, remaining.count, pool, options.workers, deadline)
    for _ in range(remaining.count):
        raise_if_stopped()
        if deadline is not None and time.monotonic() > deadline:
            return True
        found = next_trial()
        if found is None:
            break
        train_here(book, *found, dataset)
    return False


def _close(
    sweep: Sweep,
    stores: _Stores,
    design_cells: list[Cell],
    book: TrialBook,
    total: int,
    stopped_for_time: bool,
    runs_dir: Path,
) -> SweepOutcome:
    """Write the results tables, attach them to the parent run and end it."""
    study, tracker, parent = stores.study, stores.tracker, stores.parent_run_id
    results_dir = runs_dir / "results" / study.study_name
    results_csv = write_tables(study, results_dir, one_per_cell=sweep.design != "search")
    done, _ = _done_and_live(study)
    # Only this design's cells count: the study may hold more (run once with more --seeds).
    missing = [c.run_name for c in design_cells if c.key not in done]
    finished = (
        _finished_searches(study)
        if sweep.design == "search"
        else len(done & {c.key for c in design_cells})
    )
    tracker.log_artifacts(parent, [results_csv, results_dir / "epochs.csv"])
    complete = not missing and not stopped_for_time
    state = "COMPLETE" if complete else "INCOMPLETE"
    tracker.set_tags(parent, {"cnnlab.state": state, "cnnlab.missing": str(len(missing))})
    tracker.end(parent, "FINISHED" if complete else "KILLED")
    return SweepOutcome(
        study_name=study.study_name,
        total=total,
        finished=finished,
        failed=book.failed,
        missing=missing,
        results_csv=results_csv,
        runs_table_url=tracker.runs_table_url(stores.experiment_id),
    )


def run_sweep(
    declared: Sweep, options: SweepOptions, *, dataset: LoadedDataset | None = None
) -> SweepOutcome | None:
    """Run (or resume) a sweep; see the module docstring. Returns None for a dry run.

    `dataset` replaces loading the sweep's dataset (tests pass tiny synthetic data).
    """
    sweep = effective_sweep(declared, options)
    design_cells = cells(sweep)
    sys.stderr.write(describe_plan(sweep, design_cells) + "\n")
    if options.quick:
        sys.stderr.write("Quick smoke run: its own study and report; no evidence for any claim.\n")
    if dataset is None:
        dataset = load_dataset(
            sweep.base.data.dataset,
            data_dir=options.data_dir,
            only_data_dir=options.only_data_dir,
            keras_home=options.keras_home,
        )
    if options.dry_run:
        sys.stderr.write(
            "Dry run: building every arm and training one batch; nothing is written.\n"
        )
        dry_run(sweep, design_cells, dataset)
        return None

    stores = _open_stores(sweep, options, dataset)
    remaining = _remaining(sweep, stores.study, design_cells)
    if remaining.already:
        sys.stderr.write(
            f"Resuming study {stores.study.study_name}: {remaining.already} of "
            f"{remaining.total} replicates finished; {remaining.count} to run.\n"
        )
    estimates = {c.arm: trial_seconds(c.spec) for c in design_cells} or {
        "search": trial_seconds(sweep.base)
    }
    progress = Progress(total=remaining.total, done=remaining.already, remaining_estimate=estimates)
    progress.plan([c.arm for c in remaining.pending] or ["search"] * remaining.count)
    book = TrialBook(
        sweep,
        stores.study,
        stores.tracker,
        stores.experiment_id,
        stores.parent_run_id,
        progress,
        stores.common_tags,
    )
    try:
        with stop_signals_as_interrupts():
            stopped = _execute(sweep, stores, remaining, design_cells, book, dataset, options)
    except (KeyboardInterrupt, SweepInterrupted) as stop:
        progress.note(
            f"\nInterrupted ({stop or 'Ctrl-C'}): the running replicate is marked FAIL/KILLED; "
            "finished ones are kept. Run the same command to resume."
        )
        stores.tracker.set_tags(stores.parent_run_id, {"cnnlab.state": "INTERRUPTED"})
        stores.tracker.end(stores.parent_run_id, "KILLED")
        raise
    except Exception:
        # The failing trial is already FAIL (execution.train_here); the parent must not stay
        # RUNNING either. Finished replicates are kept; the error keeps its traceback.
        stores.tracker.set_tags(stores.parent_run_id, {"cnnlab.state": "ERROR"})
        stores.tracker.end(stores.parent_run_id, "FAILED")
        raise
    outcome = _close(sweep, stores, design_cells, book, remaining.total, stopped, options.runs_dir)
    report = _report(sweep, stores, outcome, options, dataset, progress.elapsed())
    # The summary is the result: stdout. The plan and the progress went to stderr.
    sys.stdout.write(
        summary_text(
            sweep,
            stores.study,
            outcome,
            progress.elapsed(),
            stopped,
            options.runs_dir,
            quick=options.quick,
        )
    )
    if report is not None:
        sys.stdout.write(f"Report:  {report.index_html}\n")
    return outcome


def _report(
    sweep: Sweep,
    stores: _Stores,
    outcome: SweepOutcome,
    options: SweepOptions,
    dataset: LoadedDataset,
    elapsed: float,
) -> WrittenReport | None:
    """The sweep's report in reports/<study>/, attached to the parent run (see cnnlab.publish)."""
    if options.reports_dir is None or outcome.results_csv is None or outcome.finished == 0:
        return None
    study = StudyFacts(stores.study.study_name, stores.study.user_attrs.get(ATTR_CLAIMS))
    return publish_report(
        sweep,
        study,
        dataset,
        stores.tracker,
        stores.parent_run_id,
        quick=options.quick,
        sweep_source=options.sweep_source or sweep.name,
        results_csv=outcome.results_csv,
        reports_dir=options.reports_dir,
        sweep_seconds=elapsed,
    )
