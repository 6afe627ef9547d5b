"""Running a sweep: the composition of design, data, Optuna, training and MLflow.

`run_sweep` is what `python -m cnnlab.sweep NAME` does:
1. apply `--quick` / `--seeds` / `--epochs` / `--dataset` to the declared sweep and print
   the design's size and a time estimate;
2. open the MLflow store and experiment *first* (once, before any trial), then the Optuna
   study (refusing a changed definition), reap trials whose owner died, find the parent run;
3. run every unfinished cell (skipping finished ones and ones a live worker is running),
   replicate by replicate, each as an Optuna trial with a nested MLflow child run;
4. write `results.csv`, close the parent run and print a one-screen summary.

Ctrl-C or SIGTERM marks the running trial FAIL and its MLflow run KILLED, then exits; the
same command resumes. `kill -9` leaves a RUNNING trial that the next run reaps.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import optuna
from optuna.trial import TrialState

from cnnlab import __version__
from cnnlab.artifacts import read_trial_files, write_trial_files
from cnnlab.data import LoadedDataset, load_dataset
from cnnlab.design import Cell, Sweep, cells, claims_hash, config_hash
from cnnlab.errors import CnnlabError, TrainingFailed
from cnnlab.estimate import format_duration, sweep_seconds, trial_seconds
from cnnlab.geometry import count_params
from cnnlab.objective import cell_params, register_distributions, suggest_cell, train_cell
from cnnlab.progress import Progress
from cnnlab.results import write_tables
from cnnlab.space import DataSpec, TrialSpec
from cnnlab.studies import (
    ATTR_CELL,
    default_storage_url,
    open_storage,
    open_study,
    reap_dead_trials,
)
from cnnlab.tracking import Tracker, default_tracking_uri
from cnnlab.train import EpochRecord, thread_settings
from cnnlab.trials import ActiveTrial, TrialBook
from cnnlab.workers import WorkerPool

QUICK_SEEDS = 3
QUICK_EPOCHS = 1
QUICK_TRAIN_IMAGES = 5_000
QUICK_SEARCH_TRIALS = 4


class SweepInterrupted(Exception):
    """Ctrl-C or SIGTERM arrived while a sweep was running."""


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


@dataclass(frozen=True)
class SweepOutcome:
    study_name: str
    total: int
    finished: int
    failed: list[str]
    missing: list[str]
    results_csv: Path | None
    runs_table_url: str | None


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
    if options.seeds is not None:
        changes["seeds"] = options.seeds
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


def study_base_name(sweep: Sweep, options: SweepOptions) -> str:
    name = sweep.name + ("-quick" if options.quick else "")
    if sweep.base.data.dataset != DataSpec().dataset:
        name += f"-{sweep.base.data.dataset}"
    return name


def describe_plan(sweep: Sweep, design_cells: list[Cell]) -> str:
    spec = sweep.base
    images = spec.data.train_subset or 60_000 - spec.data.validation_size
    arms = sweep.arm_labels()
    if sweep.design == "search":
        size = f"{sweep.n_trials} sampled trials over {len(arms)} combinations"
    else:
        bgs = f" × {sweep.n_backgrounds} backgrounds" if sweep.design == "randomized" else ""
        size = (
            f"{len(arms)} arms × {len(sweep.seed_values)} paired seeds{bgs} = "
            f"{len(design_cells)} trials"
        )
    epochs = spec.train.epochs
    return (
        f"{sweep.name} ({sweep.design}): {size}; {epochs} epoch{'s' if epochs != 1 else ''} "
        f"each on {images:,} {spec.data.dataset} training images, batch {spec.train.batch_size}.\n"
        f"Arms: {', '.join(arms) if len(arms) <= 12 else f'{len(arms)} combinations'}.\n"
        f"Estimated time on this machine: {format_duration(sweep_seconds(sweep))} "
        "(a rough model; the ETA below uses measured times)."
    )


# --- provenance ----------------------------------------------------------------------------


def git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"cnnlab": __version__, "python": sys.version.split()[0]}
    for name in ("tensorflow", "keras", "numpy", "optuna", "mlflow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


# --- signals -------------------------------------------------------------------------------


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise SweepInterrupted("terminated (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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


def _train_here(book: TrialBook, trial: optuna.Trial, cell: Cell, dataset: LoadedDataset) -> None:
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
    with tempfile.TemporaryDirectory() as tmp:
        book.complete(active, write_trial_files(result, cell, Path(tmp)))


def _train_in_workers(
    book: TrialBook,
    next_trial: Callable[[], tuple[optuna.Trial, Cell]],
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
                trial, cell = next_trial()
                started += 1
                job_id = f"trial-{trial.number}"
                active[job_id] = book.begin(trial, cell)
                pool.submit(job_id, cell)
            event = pool.next_event(timeout=1.0)
            if event is None:
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


def _done_and_live(
    study: optuna.Study,
) -> tuple[set[str], set[str], list[optuna.trial.FrozenTrial]]:
    done, live, waiting = set(), set(), []
    for trial in study.get_trials(deepcopy=False):
        key = trial.user_attrs.get(ATTR_CELL)
        if trial.state == TrialState.COMPLETE and key:
            done.add(key)
        elif trial.state == TrialState.RUNNING and key:
            live.add(key)
        elif trial.state == TrialState.WAITING:
            waiting.append(trial)
    return done, live, waiting


def _next_enumerated_trial(
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


def run_sweep(
    declared: Sweep, options: SweepOptions, *, dataset: LoadedDataset | None = None
) -> SweepOutcome | None:
    """Run (or resume) a sweep; see the module docstring. Returns None for a dry run.

    `dataset` replaces loading the sweep's dataset (tests pass tiny synthetic data).
    """
    sweep = effective_sweep(declared, options)
    design_cells = cells(sweep)
    out = sys.stderr
    out.write(describe_plan(sweep, design_cells) + "\n")
    if options.quick:
        out.write("Quick smoke run: its own study and report; no evidence for any claim.\n")
    if dataset is None:
        dataset = load_dataset(
            sweep.base.data.dataset,
            data_dir=options.data_dir,
            only_data_dir=options.only_data_dir,
            keras_home=options.keras_home,
        )
    if options.dry_run:
        out.write("Dry run: building every arm and training one batch; nothing is written.\n")
        dry_run(sweep, design_cells, dataset)
        return None

    # MLflow first, once, before any trial: parallel first use of a fresh store corrupts it.
    runs_dir = options.runs_dir
    runs_dir.mkdir(parents=True, exist_ok=True)
    tracking_uri = options.tracking_uri or default_tracking_uri(runs_dir)
    tracker = Tracker(tracking_uri, artifact_root=runs_dir / "mlartifacts")
    experiment_id = tracker.experiment_id(sweep.name)

    storage = open_storage(options.storage or default_storage_url(runs_dir))
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
    parent_run_id = tracker.parent_run(
        experiment_id,
        study.study_name,
        {
            **common_tags,
            "cnnlab.config_hash": config_hash(sweep),
            "cnnlab.claims_hash": claims_hash(sweep),
        },
    )
    study.set_user_attr("cnnlab.mlflow_parent_run_id", parent_run_id)

    done, live, waiting = _done_and_live(study)
    by_key = {cell.key: cell for cell in design_cells}
    if search:
        finished = sum(
            1
            for t in study.get_trials(deepcopy=False)
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
        )
        pending_count = max(0, sweep.n_trials - finished)
        total, already = sweep.n_trials, sweep.n_trials - pending_count
        pending: list[Cell] = []
    else:
        pending = [c for c in design_cells if c.key not in done and c.key not in live]
        total, already = (
            len(design_cells),
            len(design_cells) - len(pending) - len(live & set(by_key)),
        )
        pending_count = len(pending)
    if already:
        out.write(
            f"Resuming study {study.study_name}: {already} of {total} replicates finished; "
            f"{pending_count} to run.\n"
        )
    if live:
        out.write(
            f"{len(live)} replicate(s) are being run by another live process; skipped here.\n"
        )

    estimates = (
        {c.arm: trial_seconds(c.spec) for c in design_cells}
        if design_cells
        else {"search": trial_seconds(sweep.base)}
    )
    progress = Progress(total=total, done=already, remaining_estimate=estimates)
    if search:
        progress.plan(["search"] * pending_count)
    else:
        progress.plan([c.arm for c in pending])
    book = TrialBook(sweep, study, tracker, experiment_id, parent_run_id, progress, common_tags)
    deadline = None if options.max_time is None else time.monotonic() + options.max_time
    waiting_keys = {t.user_attrs.get(ATTR_CELL) for t in waiting}
    queue_of_cells = iter(pending)

    def next_trial() -> tuple[optuna.Trial, Cell]:
        if search:
            trial = study.ask()
            cell = suggest_cell(trial, sweep)
        else:
            trial, cell = _next_enumerated_trial(
                study, next(queue_of_cells), waiting_keys, by_key, done
            )
        register_distributions(trial, sweep)
        return trial, cell

    stopped_for_time = False
    try:
        with _sigterm_as_interrupt():
            if options.workers > 1 and pending_count:
                pool = WorkerPool(
                    min(options.workers, pending_count),
                    dataset,
                    runs_dir / ".work" / study.study_name,
                )
                stopped_for_time = _train_in_workers(
                    book, next_trial, pending_count, pool, options.workers, deadline
                )
            else:
                for _ in range(pending_count):
                    if deadline is not None and time.monotonic() > deadline:
                        stopped_for_time = True
                        break
                    trial, cell = next_trial()
                    _train_here(book, trial, cell, dataset)
    except (KeyboardInterrupt, SweepInterrupted) as stop:
        progress.note(
            f"\nInterrupted ({stop or 'Ctrl-C'}): the running replicate is marked FAIL/KILLED; "
            "finished ones are kept. Run the same command to resume."
        )
        tracker.set_tags(parent_run_id, {"cnnlab.state": "INTERRUPTED"})
        tracker.end(parent_run_id, "KILLED")
        raise

    results_dir = runs_dir / "results" / study.study_name
    results_csv = write_tables(study, results_dir)
    done, live, _ = _done_and_live(study)
    missing = [] if search else [c.run_name for c in design_cells if c.key not in done]
    tracker.log_artifacts(parent_run_id, [results_csv, results_dir / "epochs.csv"])
    complete = not missing and not stopped_for_time
    tracker.set_tags(
        parent_run_id,
        {
            "cnnlab.state": "COMPLETE" if complete else "INCOMPLETE",
            "cnnlab.missing": str(len(missing)),
        },
    )
    tracker.end(parent_run_id, "FINISHED" if complete else "KILLED")
    outcome = SweepOutcome(
        study_name=study.study_name,
        total=total,
        finished=len(done),
        failed=book.failed,
        missing=missing,
        results_csv=results_csv,
        runs_table_url=tracker.runs_table_url(experiment_id),
    )
    # The summary is the result: stdout. Plan and progress went to stderr.
    sys.stdout.write(
        summary_text(sweep, study, outcome, progress.elapsed(), stopped_for_time, options)
    )
    return outcome


def summary_text(
    sweep: Sweep,
    study: optuna.Study,
    outcome: SweepOutcome,
    elapsed: float,
    stopped_for_time: bool,
    options: SweepOptions,
) -> str:
    """The one-screen summary: per arm mean ± SD of test accuracy and time, and where things are."""
    from cnnlab.results import trials_table

    results, _ = trials_table(study)
    lines = [
        "",
        f"Study {outcome.study_name}: {outcome.finished} of {outcome.total} "
        f"replicates finished in {format_duration(elapsed)} this run.",
    ]
    if not results.empty:
        lines.append(f"{'arm':<18} {'n':>3} {'test accuracy':>20} {'s/epoch':>8} {'params':>11}")
        order = [a for a in sweep.arm_labels() if a in set(results["arm"])] or sorted(
            set(results["arm"])
        )
        for arm in order:
            rows = results[results["arm"] == arm]
            accs = list(rows["test_accuracy"])
            sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
            lines.append(
                f"{arm:<18} {len(accs):>3} {100 * statistics.fmean(accs):>11.2f} ± "
                f"{100 * sd:>4.2f} % {statistics.fmean(rows['seconds_per_epoch']):>8.1f} "
                f"{int(rows['params'].iloc[0]):>11,}"
            )
    if outcome.failed:
        lines.append(f"Failed this run ({len(outcome.failed)}): {', '.join(outcome.failed[:6])}")
    if outcome.missing:
        why = " (stopped by --max-time)" if stopped_for_time else ""
        lines.append(
            f"Missing replicates{why}: {len(outcome.missing)}; run the same command to finish them."
        )
    lines.append(f"Results: {outcome.results_csv}")
    lines.append(
        f"MLflow:  python -m cnnlab.ui --runs-dir {options.runs_dir}   then open "
        f"{outcome.runs_table_url}"
    )
    return "\n".join(lines) + "\n"
