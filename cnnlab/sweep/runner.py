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

import contextlib
import dataclasses
import os
import socket
import sys
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from cnnlab.data import LoadedDataset
from cnnlab.report.analysis import Analysis
from cnnlab.report.build import ReportError, analyse_results_csv
from cnnlab.spec.design import Cell, Sweep
from cnnlab.stats.claims import Judgement, cells_needed, judge
from cnnlab.sweep.console.calibration import record as record_speed
from cnnlab.sweep.console.estimate import MachineSpeed, cell_seconds, trial_seconds
from cnnlab.sweep.console.progress import Progress
from cnnlab.sweep.console.summary import SweepOutcome, look_standing, summary_text
from cnnlab.sweep.launch import Launched, Trainers, launch
from cnnlab.sweep.options import SweepOptions
from cnnlab.sweep.parallelism import Parallelism
from cnnlab.sweep.publish import StudyFacts, TrainedWith, publish_report
from cnnlab.sweep.stores.claiming import next_enumerated_trial
from cnnlab.sweep.stores.keys import Key, State
from cnnlab.sweep.stores.objective import register_distributions, suggest_cell
from cnnlab.sweep.stores.opening import (
    Remaining,
    Stores,
    done_and_live,
    finished_searches,
    finished_seconds,
    open_stores,
    reap,
)
from cnnlab.sweep.stores.opening import remaining as remaining_work
from cnnlab.sweep.stores.results import append_timings, trials_table, write_tables
from cnnlab.sweep.stores.studies import claim_trial, dead_after
from cnnlab.sweep.stores.tracking import is_server
from cnnlab.sweep.trials.book import TrialBook
from cnnlab.sweep.trials.execution import (
    StopLatch,
    SweepInterrupted,
    stop_signals_as_interrupts,
    train_here,
    train_in_workers,
)


def _execute(
    sweep: Sweep,
    stores: Stores,
    remaining: Remaining,
    design_cells: list[Cell],
    book: TrialBook,
    trainers: Trainers,
    options: SweepOptions,
    latch: StopLatch,
    tried: set[str] | None = None,
) -> bool:
    """Run what remains, here or in workers; True if `--max-time` stopped it early. `tried`
    (the cells this process has claimed in this run, added to here) are not claimed again."""
    study = stores.study
    dataset = trainers.dataset
    by_key = {cell.key: cell for cell in design_cells}
    tried = set() if tried is None else tried
    deadline = None if options.max_time is None else time.monotonic() + options.max_time

    def next_trial() -> tuple[optuna.Trial, Cell] | None:
        """The next trial to run, or None when no cell is left."""
        if sweep.design == "search":
            # Other processes (workers on other hosts) sample on the same study: stop at the
            # search's size counting theirs, finished or running, not only this process's.
            states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
            if len(study.get_trials(deepcopy=False, states=states)) >= sweep.n_trials:
                return None
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


WAIT_POLL_S = 5.0  # how often a process with nothing left to claim reads the study again


def _execute_until_settled(
    sweep: Sweep,
    stores: Stores,
    design_cells: list[Cell],
    book: TrialBook,
    trainers: Trainers,
    options: SweepOptions,
    latch: StopLatch,
) -> bool:
    """Train cells until none is left to train here or held by another process.

    A fixed design's cells are its design. A sequential plan's are those of its current look,
    judged again from the study's finished trials each time round, so a resumed run (or one
    that another process advanced) continues where the study is, and whichever process finds
    a look complete judges it: the judgement is a function of the finished trials alone, the
    same in every process. When every cell left is held by another process (a `cnnlab
    worker`, or a second sweep process on the same study), this one waits for them, reaping
    any whose process stopped beating: the look they complete may ask for more cells, and the
    sweep's own process writes the results only once all of them are in. `--max-time` stops
    inside a look; that look is not judged (only complete looks are). True if stopped for time.
    """
    plan = sweep.plan
    deadline = None if options.max_time is None else time.monotonic() + options.max_time
    tried: set[str] = set()  # cells this process claimed: a failure here is not retried here
    standing = ""
    while True:
        if plan is None:
            needed = design_cells
        else:
            judgement = _judgement(sweep, stores, options)
            if look_standing(sweep, judgement) != standing:
                standing = look_standing(sweep, judgement)
                book.progress.note(standing)
            needed = cells_needed(sweep, judgement)
        remaining = remaining_work(sweep, stores.study, needed)
        pending = {c.key for c in remaining.pending}
        if remaining.count == 0 or pending <= tried:
            if remaining.running_elsewhere:
                if _wait_for_others(stores, needed, book, latch, deadline):
                    return True
                continue
            if remaining.count:
                # Every cell left failed in this run (a diverging trial fails again with the
                # same seed): stop, and let the summary list them, rather than retrain them.
                book.progress.note(
                    f"{len(pending)} cell(s) failed in this run; "
                    f"{'the look cannot be judged until they finish; ' if plan else ''}"
                    "fix the cause and rerun the command."
                )
            return False
        if plan is not None:
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
        if _execute(sweep, stores, remaining, needed, book, trainers, look_options, latch, tried):
            return True


def _wait_for_others(
    stores: Stores, cells: list[Cell], book: TrialBook, latch: StopLatch, deadline: float | None
) -> bool:
    """Wait until a cell of `cells` that other processes hold finishes or is reaped (the
    caller then looks again); True if `--max-time` ran out first."""
    keys = {c.key for c in cells}
    _, live = done_and_live(stores.study)
    held = live & keys
    grace = dead_after(stores.study)
    book.progress.note(
        f"Waiting for {len(held)} cell(s) that other processes are training "
        f"({', '.join(sorted(held)[:3])}{', …' if len(held) > 3 else ''}); a process silent "
        f"for {grace:.0f} s (--dead-after) has its cell run again here."
    )
    while True:
        latch.raise_if_stopped()
        if deadline is not None and time.monotonic() > deadline:
            return True
        time.sleep(WAIT_POLL_S)
        if reap(stores.study, stores.storage, stores.tracker):
            return False
        _, live = done_and_live(stores.study)
        if live & keys != held:
            return False


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
        tracking_server=is_server(tracker.tracking_uri),
    )


def run_sweep(
    declared: Sweep, options: SweepOptions, *, dataset: LoadedDataset | None = None
) -> SweepOutcome | None:
    """Run (or resume) a sweep; see the module docstring. Returns None for a dry run.

    `dataset` replaces loading the sweep's dataset (tests pass tiny synthetic data).
    """
    launched = launch(declared, options, dataset=dataset)
    try:
        return run_launched(launched, options)
    finally:
        launched.trainers.close()


def run_launched(launched: Launched, options: SweepOptions) -> SweepOutcome | None:
    """`run_sweep` once `cnnlab.sweep.launch` has printed the plan and started the workers
    (`python -m cnnlab.sweep` launches before importing this module). The caller closes
    `launched.trainers`."""
    if options.dry_run:
        sys.stderr.write(
            "Dry run: building every arm and training one batch; nothing is written.\n"
        )
        from cnnlab.sweep.trials.dry_run import dry_run  # TensorFlow: only a process that trains

        dry_run(launched.sweep, launched.design_cells, launched.dataset)
        return None
    return _run_started(
        launched.sweep,
        options,
        launched.dataset,
        launched.design_cells,
        launched.parallelism,
        launched.speed,
        launched.trainers,
    )


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
            if sweep.design == "search":  # Optuna samples: nothing to wait for
                stopped = _execute(
                    sweep, stores, remaining, design_cells, book, trainers, options, latch
                )
            else:
                stopped = _execute_until_settled(
                    sweep, stores, design_cells, book, trainers, options, latch
                )
            trainers.close()
    except (KeyboardInterrupt, SweepInterrupted) as stop:
        progress.note(
            f"\nInterrupted ({stop or 'Ctrl-C'}): the running cell is marked FAIL/KILLED; "
            "finished ones are kept. Run the same command to resume."
        )
        if not options.joins:  # the parent run is the sweep's own process's to end
            stores.tracker.set_tags(stores.parent_run_id, {Key.STATE: State.INTERRUPTED})
            stores.tracker.end(stores.parent_run_id, "KILLED")
        raise
    except Exception:  # the workers are closed by run_sweep's `finally`
        # The failing trial is already FAIL (execution.train_here); the parent must not stay
        # RUNNING either. Finished cells are kept; the error keeps its traceback. The error may
        # be MLflow's own (a server gone): then telling it fails too, and must not hide why.
        if not options.joins:
            with contextlib.suppress(Exception):
                stores.tracker.set_tags(stores.parent_run_id, {Key.STATE: State.ERROR})
                stores.tracker.end(stores.parent_run_id, "FAILED")
        raise
    if options.joins:
        return _worker_end(stores, book, progress)
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


def _worker_end(stores: Stores, book: TrialBook, progress: Progress) -> SweepOutcome:
    """A joined process's end: it says what it trained; results and report are the sweep's
    own process's (it waits for every cell, this one's included)."""
    trained = len(book.timings)
    done, _ = done_and_live(stores.study)
    sys.stdout.write(
        f"Worker on {socket.gethostname()} done after {progress.elapsed():.0f} s: trained "
        f"{trained} cell(s) of study {stores.study.study_name}"
        f"{f', {len(book.failed)} failed' if book.failed else ''}; the study has {len(done)} "
        "finished. The sweep's own process writes results.csv and the report.\n"
    )
    return SweepOutcome(
        study_name=stores.study.study_name,
        total=trained + len(book.failed),
        finished=trained,
        failed=book.failed,
        missing=[],
        results_csv=None,
        runs_table_url=None,
    )


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
