"""Running a sweep: the composition of design, data, Optuna, training and MLflow.

`run_sweep` is what `python -m cnnlab.sweep NAME` does:
1. apply `--quick` / `--seeds` / `--epochs` / `--dataset` to the declared sweep and print
   the design's size and a time estimate;
2. open the MLflow store and experiment *first* (once, before any trial), then the Optuna
   study (refusing a changed definition), reap trials whose owner died, find the parent run;
3. run every unfinished cell (skipping finished ones and ones a live worker is running, as
   the study says just before each claim, since other processes may share it), replicate by
   replicate, each as an Optuna trial with a nested MLflow child run;
4. write `results.csv`, close the parent run, analyse the results once (verdicts, per-arm
   summaries) for both the report and the one-screen summary of the current design's cells
   (a study extended with more seeds may hold more).

Ctrl-C or SIGTERM marks the running trial FAIL and its MLflow run KILLED, then exits; the
same command resumes. `kill -9` leaves a RUNNING trial that the next run reaps.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import optuna

from cnnlab.data import LoadedDataset, load_dataset
from cnnlab.report.analysis import Analysis
from cnnlab.report.build import ReportError, analyse_results_csv
from cnnlab.spec.design import Cell, Sweep, cells
from cnnlab.stats.claims import Judgement, cells_needed, judge
from cnnlab.sweep.calibration import machine_speed
from cnnlab.sweep.calibration import record as record_speed
from cnnlab.sweep.claiming import next_enumerated_trial
from cnnlab.sweep.estimate import MachineSpeed, cell_seconds, estimate_sweep, trial_seconds
from cnnlab.sweep.execution import (
    StopLatch,
    SweepInterrupted,
    stop_signals_as_interrupts,
    train_here,
    train_in_workers,
)
from cnnlab.sweep.keys import Key, State
from cnnlab.sweep.objective import register_distributions, suggest_cell
from cnnlab.sweep.options import SweepOptions, effective_sweep
from cnnlab.sweep.parallelism import Parallelism, resolve
from cnnlab.sweep.progress import Progress
from cnnlab.sweep.publish import StudyFacts, TrainedWith, publish_report
from cnnlab.sweep.results import append_timings, trials_table, write_tables
from cnnlab.sweep.stores import (
    Remaining,
    Stores,
    done_and_live,
    finished_searches,
    finished_seconds,
    open_stores,
)
from cnnlab.sweep.stores import remaining as remaining_work
from cnnlab.sweep.studies import claim_trial
from cnnlab.sweep.summary import SweepOutcome, describe_plan, look_standing, summary_text
from cnnlab.sweep.trials import TrialBook
from cnnlab.sweep.workers import WorkerPool


class Trainers:
    """Where this run's trials train: in this process, or in one pool of worker processes
    kept for the whole run (every look of a plan), so its start-up (importing TensorFlow in
    each worker, ~15 s) is paid once. `start` launches the workers without waiting, as soon as
    the dataset is loaded, so that their start-up overlaps the sweep process opening its
    stores; `pool` waits for them when the first cell needs them."""

    def __init__(
        self, parallelism: Parallelism, dataset: LoadedDataset, scratch: Path, most_cells: int
    ) -> None:
        self.parallelism, self.dataset, self.scratch = parallelism, dataset, scratch
        self.most_cells = most_cells  # the most cells this run may train (caps the workers)
        self._pool: WorkerPool | None = None

    def start(self) -> None:
        """Start the worker processes (not in-process runs, not with nothing to train)."""
        if self.parallelism.in_process or self._pool is not None or self.most_cells < 1:
            return
        count = min(self.parallelism.workers, self.most_cells)
        threads = self.parallelism.threads
        sys.stderr.write(
            f"Starting {count} worker process{'es' if count != 1 else ''} "
            f"({threads} thread{'s' if threads != 1 else ''} each)…\n"
        )
        self._pool = WorkerPool(count, threads, self.dataset, self.scratch, wait=False)

    def pool(self, book: TrialBook) -> WorkerPool:
        """The ready pool (started now if `start` was not called); `book` learns its threads."""
        self.start()
        assert self._pool is not None, "pool() on an in-process run"
        if self._pool.thread_settings is None:  # the first call: wait, then say so once
            book.set_threads(self._pool.wait_ready())
            book.progress.note(
                f"Workers ready {self._pool.startup_seconds:.1f} s after they started "
                "(each imported TensorFlow and received the dataset)."
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def _execute(
    sweep: Sweep,
    stores: Stores,
    remaining: Remaining,
    design_cells: list[Cell],
    book: TrialBook,
    trainers: Trainers,
    options: SweepOptions,
    latch: StopLatch,
) -> bool:
    """Run what remains, here or in workers; True if `--max-time` stopped it early."""
    study = stores.study
    dataset = trainers.dataset
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

    if not trainers.parallelism.in_process and remaining.count:
        if deadline is not None and time.monotonic() > deadline:
            return True
        pool = trainers.pool(book)
        workers = len(pool.processes)
        return train_in_workers(
            book, next_trial, remaining.count, pool, workers, deadline, latch=latch
        )
    batches = book.progress.batch if book.progress.interactive else None
    for _ in range(remaining.count):
        latch.raise_if_stopped()
        if deadline is not None and time.monotonic() > deadline:
            return True
        found = next_trial()
        if found is None:
            break
        train_here(book, *found, dataset, latch=latch, progress=batches)
    return False


def _judgement(sweep: Sweep, stores: Stores, options: SweepOptions) -> Judgement:
    """The claims' standing on the study's finished trials (a sequential plan's looks)."""
    results, _ = trials_table(stores.study)
    return judge(sweep, results, quick=options.quick)


def _execute_looks(
    sweep: Sweep,
    stores: Stores,
    book: TrialBook,
    trainers: Trainers,
    options: SweepOptions,
    latch: StopLatch,
) -> bool:
    """A sequential plan: train a look's cells, judge, go on for the open claims only.

    The standing is recomputed from the study's finished trials before each look, so a resumed
    run (or one that another process advanced) continues where the study is. `--max-time`
    stops inside a look; that look is not judged (only complete looks are). True if stopped
    for time.
    """
    plan = sweep.plan
    assert plan is not None
    deadline = None if options.max_time is None else time.monotonic() + options.max_time
    attempted: set[str] = set()
    while True:
        judgement = _judgement(sweep, stores, options)
        book.progress.note(look_standing(sweep, judgement))
        needed = cells_needed(sweep, judgement)
        remaining = remaining_work(sweep, stores.study, needed)
        if remaining.count == 0:
            return False
        pending = {c.key for c in remaining.pending}
        if pending <= attempted:
            # Every cell left failed in this run (a diverging trial fails again with the same
            # seed): stop, and let the summary list them, rather than retrain them forever.
            book.progress.note(
                f"{len(pending)} cell(s) of this look failed in this run; the look cannot be "
                "judged until they finish. Fix the cause and rerun the command."
            )
            return False
        attempted |= pending
        look = next(
            (k for k, n in enumerate(plan.looks, 1) if n >= max(c.seed for c in needed) + 1),
            len(plan.looks),
        )
        book.progress.note(
            f"Look {look} of {len(plan.looks)} ({plan.looks[look - 1]} paired seeds): "
            f"{remaining.count} cell(s) to train for arms "
            f"{', '.join(sorted({c.arm for c in remaining.pending}))}."
        )
        book.progress.stage(remaining.total, remaining.already, [c.arm for c in remaining.pending])
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        look_options = dataclasses.replace(options, max_time=left)
        if _execute(sweep, stores, remaining, needed, book, trainers, look_options, latch):
            return True


def _close(
    sweep: Sweep,
    stores: Stores,
    design_cells: list[Cell],
    book: TrialBook,
    total: int,
    stopped_for_time: bool,
    runs_dir: Path,
) -> SweepOutcome:
    """Write the results tables, attach them to the parent run and end it."""
    study, tracker, parent = stores.study, stores.tracker, stores.parent_run_id
    results_dir = runs_dir / "results" / study.study_name
    results_csv, results = write_tables(study, results_dir, one_per_cell=sweep.design != "search")
    append_timings(book.timings, results_dir)
    done, _ = done_and_live(study)
    # Only this design's cells count: the study may hold more (run once with more --seeds).
    missing = [c.run_name for c in design_cells if c.key not in done]
    finished = (
        finished_searches(study)
        if sweep.design == "search"
        else len(done & {c.key for c in design_cells})
    )
    tracker.log_artifacts(parent, [results_csv, results_dir / "epochs.csv"])
    complete = not missing and not stopped_for_time
    state = State.COMPLETE if complete else State.INCOMPLETE
    tracker.set_tags(parent, {Key.STATE: state, Key.MISSING: str(len(missing))})
    tracker.end(parent, "FINISHED" if complete else "KILLED")
    trial_seconds_total = float(results["wall_seconds"].sum()) if not results.empty else 0.0
    return SweepOutcome(
        study_name=study.study_name,
        total=total,
        finished=finished,
        failed=book.failed,
        missing=missing,
        results_csv=results_csv,
        runs_table_url=tracker.runs_table_url(stores.experiment_id),
        trial_seconds=trial_seconds_total,
    )


def run_sweep(
    declared: Sweep, options: SweepOptions, *, dataset: LoadedDataset | None = None
) -> SweepOutcome | None:
    """Run (or resume) a sweep; see the module docstring. Returns None for a dry run.

    `dataset` replaces loading the sweep's dataset (tests pass tiny synthetic data).
    """
    sweep = effective_sweep(declared, options)
    design_cells = cells(sweep)
    parallelism = resolve(options.workers)
    if options.dry_run or parallelism.in_process:  # this process trains: TensorFlow, quietly
        from cnnlab.training.runtime import import_tensorflow_quietly

        import_tensorflow_quietly()
    speed = machine_speed(options.runs_dir, parallelism)
    report = options.reports_dir is not None
    estimate = estimate_sweep(sweep, parallelism, speed, report=report)
    sys.stderr.write(describe_plan(sweep, design_cells, parallelism, estimate) + "\n")
    if parallelism.warning():
        sys.stderr.write(f"{parallelism.warning()}\n")
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
        from cnnlab.sweep.dry_run import dry_run  # TensorFlow: only a process that trains

        dry_run(sweep, design_cells, dataset)
        return None
    # Workers start importing TensorFlow (~15 s each) now, while this process opens its
    # stores; this process itself imports TensorFlow only if it trains (--workers 1).
    scratch = options.runs_dir / ".work" / f"{sweep.name}-{os.getpid()}"
    trainers = Trainers(parallelism, dataset, scratch, most_cells=_most_cells(sweep, design_cells))
    trainers.start()
    try:
        return _run_started(sweep, options, dataset, design_cells, parallelism, speed, trainers)
    finally:
        trainers.close()


def _most_cells(sweep: Sweep, design_cells: list[Cell]) -> int:
    """The most cells a run may train, before the study is open: every cell of the design
    (a plan's every look; its pool serves them all), or a search's trials."""
    return sweep.n_trials if sweep.design == "search" else len(design_cells)


def _threads_before_training(parallelism: Parallelism) -> dict[str, int]:
    """The thread settings trials will run with, as tagged before a worker reports its own."""
    if parallelism.in_process:
        from cnnlab.training.runtime import thread_settings

        return thread_settings()
    cores = os.cpu_count() or 0
    return {"intra_op": parallelism.threads, "inter_op": 0, "cpu_count": cores}


def _run_started(
    sweep: Sweep,
    options: SweepOptions,
    dataset: LoadedDataset,
    design_cells: list[Cell],
    parallelism: Parallelism,
    speed: MachineSpeed,
    trainers: Trainers,
) -> SweepOutcome:
    """`run_sweep` once its workers are starting: the stores, the looks, the end."""
    stores = open_stores(sweep, options, dataset, _threads_before_training(parallelism))
    # A sequential plan starts from where the study stands: the cells of its next look.
    first_cells = (
        design_cells
        if sweep.plan is None
        else cells_needed(sweep, _judgement(sweep, stores, options))
    )
    remaining = remaining_work(sweep, stores.study, first_cells)
    if remaining.already:
        sys.stderr.write(
            f"Resuming study {stores.study.study_name}: {remaining.already} of "
            f"{remaining.total} cells finished; {remaining.count} to run.\n"
        )
    estimates = {c.key: cell_seconds(c, parallelism) for c in design_cells}
    search_estimate = trial_seconds(sweep.base, parallelism)
    per_arm = {c.arm: estimates[c.key] * speed.factor for c in design_cells} or {
        "search": search_estimate * speed.factor
    }
    progress = Progress(
        total=remaining.total,
        done=remaining.already,
        remaining_estimate=per_arm,
        workers=parallelism.workers,
        measured=finished_seconds(stores.study),
    )
    progress.plan([c.arm for c in remaining.pending] or ["search"] * remaining.count)

    def calibrate(cell: Cell, seconds: float) -> None:
        estimated = estimates.get(cell.key, search_estimate)
        record_speed(options.runs_dir, parallelism, estimated, seconds)

    book = TrialBook(
        sweep,
        stores.study,
        stores.tracker,
        stores.experiment_id,
        stores.parent_run_id,
        progress,
        stores.common_tags,
        on_complete=calibrate,
    )
    try:
        with stop_signals_as_interrupts() as latch:
            if sweep.plan is None:
                stopped = _execute(
                    sweep, stores, remaining, design_cells, book, trainers, options, latch
                )
            else:
                stopped = _execute_looks(sweep, stores, book, trainers, options, latch)
            trainers.close()
    except (KeyboardInterrupt, SweepInterrupted) as stop:
        progress.note(
            f"\nInterrupted ({stop or 'Ctrl-C'}): the running cell is marked FAIL/KILLED; "
            "finished ones are kept. Run the same command to resume."
        )
        stores.tracker.set_tags(stores.parent_run_id, {Key.STATE: State.INTERRUPTED})
        stores.tracker.end(stores.parent_run_id, "KILLED")
        raise
    except Exception:  # the workers are closed by run_sweep's `finally`
        # The failing trial is already FAIL (execution.train_here); the parent must not stay
        # RUNNING either. Finished cells are kept; the error keeps its traceback.
        stores.tracker.set_tags(stores.parent_run_id, {Key.STATE: State.ERROR})
        stores.tracker.end(stores.parent_run_id, "FAILED")
        raise
    total = remaining.total
    if sweep.plan is not None:  # the cells the plan's looks asked for, as far as it went
        design_cells = cells_needed(sweep, _judgement(sweep, stores, options))
        total = len(design_cells)
    outcome = _close(sweep, stores, design_cells, book, total, stopped, options.runs_dir)
    commit = stores.common_tags[Key.GIT_COMMIT]  # recorded as the sweep started
    trained_with = TrainedWith(commit, parallelism.describe(), book.threads)
    analysis, index_html = _analyse_and_report(
        sweep, stores, outcome, options, dataset, progress, trained_with
    )
    # The summary is the result: stdout. The plan and the progress went to stderr.
    sys.stdout.write(
        summary_text(sweep, outcome, analysis, progress.elapsed(), stopped, options.runs_dir)
    )
    if index_html is not None:
        sys.stdout.write(f"Report:  {index_html}\n")
    return outcome


def _analyse_and_report(
    sweep: Sweep,
    stores: Stores,
    outcome: SweepOutcome,
    options: SweepOptions,
    dataset: LoadedDataset,
    progress: Progress,
    trained_with: TrainedWith,
) -> tuple[Analysis | None, Path | None]:
    """The end-of-sweep analysis, computed once: the report's (written to reports/<study>/
    and attached to the parent run, see cnnlab.sweep.publish), or without a report the
    summary's own. (None, None) when nothing has finished."""
    if outcome.results_csv is None or outcome.finished == 0:
        return None, None
    if options.reports_dir is not None:
        attrs = stores.study.user_attrs
        study = StudyFacts(
            stores.study.study_name, attrs.get(Key.CLAIMS_HASH), attrs.get(Key.PLAN_HASH)
        )
        written = publish_report(
            sweep,
            study,
            dataset,
            stores.tracker,
            stores.parent_run_id,
            quick=options.quick,
            sweep_source=options.sweep_source or sweep.name,
            results_csv=outcome.results_csv,
            reports_dir=options.reports_dir,
            sweep_seconds=progress.elapsed(),
            trial_seconds=outcome.trial_seconds,
            trained_with=trained_with,
        )
        if written is not None:
            return written.analysis, written.index_html
    try:
        return analyse_results_csv(sweep, outcome.results_csv, quick=options.quick), None
    except ReportError as error:
        sys.stderr.write(f"No verdicts: {error}\n")
        return None, None
