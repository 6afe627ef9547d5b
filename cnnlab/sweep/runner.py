"""Running a sweep: the composition of design, data, Optuna, training and MLflow.

`run_sweep` is what `python -m cnnlab.sweep NAME` does:
1. apply `--quick` / `--seeds` / `--epochs` / `--dataset` to the declared sweep and print
   the design's size and a time estimate (`cnnlab.sweep.launch`);
2. open the MLflow store and experiment *first* (once, before any trial), then the Optuna
   study (refusing a changed definition), reap trials whose owner died, find the parent run;
3. `SweepRun.train`: every unfinished cell (skipping finished ones and ones a live worker is
   running, as the study says just before each claim, since other processes may share it),
   replicate by replicate, each as an Optuna trial with a nested MLflow child run; a
   sequential plan look by look; how cells are produced is the run's `CellSource`;
4. `SweepRun.close`: build the results table once and write `results.csv`, analyse it once
   (verdicts, per-arm summaries) for the report, the parent run's end and the one-screen
   summary of the current design's cells (a study extended with more seeds may hold more).

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

from cnnlab.data import LoadedDataset
from cnnlab.report.analysis import Analysis
from cnnlab.report.build import ReportError, analyse_results_csv
from cnnlab.spec.design import Cell, Sweep
from cnnlab.stats.claims import Judgement, cells_needed, judge
from cnnlab.sweep.console.calibration import record as record_speed
from cnnlab.sweep.console.estimate import cell_seconds, trial_seconds
from cnnlab.sweep.console.progress import Progress
from cnnlab.sweep.console.summary import SweepOutcome, look_standing, summary_text
from cnnlab.sweep.fingerprint import content_checksums, training_environment
from cnnlab.sweep.launch import Launched, launch
from cnnlab.sweep.options import SweepOptions
from cnnlab.sweep.parallelism import Parallelism
from cnnlab.sweep.publish import RunFacts, StudyFacts, TrainedWith, publish_report
from cnnlab.sweep.sources import CellSource, cell_source
from cnnlab.sweep.stores.cache import CellCache, export_cells
from cnnlab.sweep.stores.keys import Key, State
from cnnlab.sweep.stores.opening import (
    Reaper,
    Remaining,
    Stores,
    done_and_live,
    finished_seconds,
    open_stores,
    reap,
)
from cnnlab.sweep.stores.redact import first_line, redact
from cnnlab.sweep.stores.results import append_timings, trials_table, write_tables
from cnnlab.sweep.stores.studies import dead_after, default_storage_url
from cnnlab.sweep.stores.tracking import is_server
from cnnlab.sweep.trials.book import TrialBook
from cnnlab.sweep.trials.execution import (
    FailStatus,
    StopLatch,
    SweepInterrupted,
    stop_signals_as_interrupts,
    train_here,
    train_in_workers,
)

WAIT_POLL_S = 5.0  # how often a process with nothing left to claim reads the study again


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
    run = SweepRun(launched, options)
    try:
        stopped = run.train()
    finally:  # after an interrupt too: what finished must reach the archive
        if options.archive is not None:
            run.write_archive(options.archive)
    if options.joins:
        return run.worker_end()
    return run.close(stopped)


def _threads_before_training(parallelism: Parallelism) -> dict[str, int]:
    """The thread settings trials will run with, as tagged before a worker reports its own."""
    if parallelism.in_process:
        from cnnlab.training.runtime import thread_settings

        return thread_settings()
    cores = os.cpu_count() or 0
    return {"intra_op": parallelism.threads, "inter_op": 0, "cpu_count": cores}


class SweepRun:
    """One run of a sweep in this process, from its open stores to its end: what the steps
    share (the sweep, its stores, its cell source, the trial book, the trainers, the options)
    is held here once, and the steps are its verbs."""

    def __init__(self, launched: Launched, options: SweepOptions) -> None:
        sweep = launched.sweep
        self.sweep, self.options, self.launched = sweep, options, launched
        self.source: CellSource = cell_source(sweep)
        self.stores: Stores = open_stores(
            sweep,
            launched.identity,
            self.source.sampling,
            options,
            data_source=launched.dataset.source,
            threads=_threads_before_training(launched.parallelism),
        )
        # A sequential plan starts from where the study stands: the cells of its next look.
        first_cells = cells_needed(sweep, self._judgement()) if sweep.plan else None
        self.first = self.source.remaining(
            self.stores.study, launched.design_cells if first_cells is None else first_cells
        )
        if self.first.already:
            sys.stderr.write(
                f"Resuming study {self.stores.study.study_name}: {self.first.already} of "
                f"{self.first.total} cells finished; {self.first.count} to run.\n"
            )
        if not options.joins and (options.storage or options.tracking_uri):
            # The study and its parent run exist from here on: a worker started earlier is
            # refused (there is nothing to join yet).
            sys.stderr.write(
                f"Study {self.stores.study.study_name} is open: workers on other machines may "
                f"join now (cnnlab worker {options.sweep_source or sweep.name} with the same "
                "options, --storage and --tracking-uri).\n"
            )
        parallelism = launched.parallelism
        # Each cell's (or a search trial's) estimated seconds: the ETA's start and, against
        # the measured seconds, this machine's calibration.
        measured = launched.measured
        self.estimates = {
            c.key: cell_seconds(c, parallelism, measured) for c in launched.design_cells
        }
        self.search_estimate = trial_seconds(sweep.base, parallelism, size=measured)
        self.progress = self._progress()
        environment = training_environment(
            content_checksums(launched.dataset), parallelism.threads, parallelism.cores
        )
        self.cache = CellCache(
            self.stores.storage,
            environment,
            enabled=options.reuse and self.source.reusable,
            archived=launched.archived,
        )
        self.book = TrialBook(
            self.stores,
            self.progress,
            on_complete=self._calibrate,
            fingerprint=self.cache.fingerprint if self.source.reusable else None,
        )
        self.latch = StopLatch()  # replaced by the signal handlers' own while training
        self.tried: set[str] = set()  # cells claimed here: a failure here is not retried here

    # --- the verbs -----------------------------------------------------------------------

    def train(self) -> bool:
        """Train until no cell is left here (see `until_settled`); True if `--max-time`
        stopped it. An interrupt or an error ends the parent run as it should and re-raises."""
        try:
            stores = self.stores
            with (
                stop_signals_as_interrupts() as latch,
                Reaper(stores.study, stores.storage, stores.tracker),
            ):
                self.latch = latch
                if self.source.settles:
                    stopped = self.until_settled()
                else:
                    stopped = self.execute(self.first, self._deadline())
                self.launched.trainers.close()
        except (KeyboardInterrupt, SweepInterrupted) as stop:
            self.progress.note(
                f"\nInterrupted ({stop or 'Ctrl-C'}): the running cell is marked FAIL/KILLED; "
                "finished ones are kept. Run the same command to resume."
            )
            self._end_parent(State.INTERRUPTED, "KILLED")
            raise
        except Exception:  # the workers are closed by run_sweep's `finally`
            # The failing trial is already FAIL (execution.train_here); the parent must not
            # stay RUNNING either. Finished cells are kept; the error keeps its traceback. The
            # error may be MLflow's own (a server gone): then telling it fails too, and must
            # not hide why.
            with contextlib.suppress(Exception):
                self._end_parent(State.ERROR, "FAILED")
            raise
        return stopped

    def execute(self, remaining: Remaining, deadline: float | None) -> bool:
        """Run what remains, here or in workers; True if `--max-time` stopped it early."""
        study = self.stores.study

        def next_trial() -> tuple[optuna.Trial, Cell] | None:
            # A claimed cell that an identical earlier training answers is completed from it
            # here, and the next one claimed: the trainers only ever see cells to train.
            while (found := self.source.next_trial(study, remaining, self.tried)) is not None:
                source = self.cache.find(found[1])
                if source is None:
                    return found
                self.book.reuse(*found, source)
            return None

        trainers = self.launched.trainers
        if not trainers.parallelism.in_process and remaining.count:
            if deadline is not None and time.monotonic() > deadline:
                return True
            pool = trainers.pool(self.book)
            return train_in_workers(
                self.book, next_trial, remaining.count, pool, deadline=deadline, latch=self.latch
            )
        batches = self.progress.batch if self.progress.interactive else None
        for _ in range(remaining.count):
            self.latch.raise_if_stopped()
            if deadline is not None and time.monotonic() > deadline:
                return True
            found = next_trial()
            if found is None:
                break
            train_here(self.book, *found, trainers.dataset, latch=self.latch, progress=batches)
        return False

    def until_settled(self) -> bool:
        """Train cells until none is left to train here or held by another process.

        A fixed design's cells are its design. A sequential plan's are those of its current
        look, judged again from the study's finished trials each time round, so a resumed run
        (or one that another process advanced) continues where the study is, and whichever
        process finds a look complete judges it: the judgement is a function of the finished
        trials alone, the same in every process. When every cell left is held by another
        process (a `cnnlab worker`, or a second sweep process on the same study), this one
        waits for them, reaping any whose process stopped beating: the look they complete may
        ask for more cells, and the sweep's own process writes the results only once all of
        them are in. `--max-time` stops inside a look; that look is not judged (only complete
        looks are). True if stopped for time.
        """
        plan = self.sweep.plan
        deadline = self._deadline()
        standing = ""
        while True:
            if plan is None:
                needed = self.launched.design_cells
            else:
                judgement = self._judgement()
                if look_standing(self.sweep, judgement) != standing:
                    standing = look_standing(self.sweep, judgement)
                    self.progress.note(standing)
                needed = cells_needed(self.sweep, judgement)
            remaining = self.source.remaining(self.stores.study, needed)
            pending = {c.key for c in remaining.pending}
            if remaining.count == 0 or pending <= self.tried:
                if remaining.running_elsewhere:
                    if self.wait_for_others(needed, deadline):
                        return True
                    continue
                if remaining.count:
                    # Every cell left failed in this run (a diverging trial fails again with
                    # the same seed): stop, and let the summary list them, not retrain them.
                    self.progress.note(
                        f"{len(pending)} cell(s) failed in this run; "
                        f"{'the look cannot be judged until they finish; ' if plan else ''}"
                        "fix the cause and rerun the command."
                    )
                return False
            remaining = self.reused_first(remaining)
            if plan is not None:
                self.progress.note(self._look_line(needed, remaining))
            pending_arms = [c.arm_key for c in remaining.pending]
            self.progress.stage(remaining.total, remaining.already, pending_arms)
            if self.execute(remaining, deadline):
                return True

    def reused_first(self, remaining: Remaining) -> Remaining:
        """`remaining` with the cells the cache holds first (they are claimed and copied in
        the first second, so the ETA is the training's), and a line saying so."""
        if not self.cache.enabled or not remaining.pending:
            return remaining
        self.cache.refresh()
        hits = self.cache.hits(remaining.pending)
        if not hits:
            return remaining
        own = self.stores.study.study_name
        origins = sorted({self.cache.origin_study(c) for c in hits} - {own})
        restored = [c for c in hits if self.cache.origin_study(c) == own]
        if restored:
            self.progress.note(
                f"{len(restored)} of {len(remaining.pending)} cell(s) to run were trained by an "
                "earlier invocation of this study (a --cells-from archive, with the same seed, "
                "data, threads, CPU and versions): they are restored, not retrained."
            )
        if origins:
            self.progress.note(
                f"{len(hits) - len(restored)} of {len(remaining.pending)} cell(s) to run were "
                "trained before with the same definition, seed, data, threads, CPU and versions "
                f"(in {', '.join(origins)}): they are copied, not retrained (--retrain trains "
                "them again)."
            )
        hit_keys = {c.key for c in hits}
        rest = [c for c in remaining.pending if c.key not in hit_keys]
        return dataclasses.replace(remaining, pending=[*hits, *rest])

    def write_archive(self, path: Path) -> None:
        """Every finished cell of the study to the cell archive `path` (`--archive`); a store
        that cannot be read any more leaves the archive as it was, and says so."""
        study = self.stores.study.study_name
        url = self.options.storage or default_storage_url(self.options.runs_dir)
        try:
            count = export_cells(
                self.stores.storage, path, store=redact(url), only=study, by_sweep=False
            )
        except Exception as error:  # the store may be the reason the run ended
            self.progress.note(
                f"The cell archive {path} was not updated ({first_line(error)}); the store "
                f"keeps the finished cells: `cnnlab studies --export {path} --study {study}`."
            )
            return
        if count:
            self.progress.note(
                f"Cell archive: the {count} finished cell(s) of {study} are in {path} "
                f"(continue anywhere with --archive {path})."
            )

    def wait_for_others(self, cells: list[Cell], deadline: float | None) -> bool:
        """Wait until a cell of `cells` that other processes hold finishes or is reaped (the
        caller then looks again); True if `--max-time` ran out first."""
        stores = self.stores
        keys = {c.key for c in cells}
        _, live = done_and_live(stores.study)
        held = live & keys
        grace = dead_after(stores.study)
        self.progress.note(
            f"Waiting for {len(held)} cell(s) that other processes are training "
            f"({', '.join(sorted(held)[:3])}{', …' if len(held) > 3 else ''}); a process "
            f"silent for {grace:.0f} s (--dead-after) has its cell run again here."
        )
        while True:
            self.latch.raise_if_stopped()
            if deadline is not None and time.monotonic() > deadline:
                return True
            time.sleep(WAIT_POLL_S)
            if reap(stores.study, stores.storage, stores.tracker):
                return False
            _, live = done_and_live(stores.study)
            if live & keys != held:
                return False

    def close(self, stopped_for_time: bool) -> SweepOutcome:
        """The sweep's own process's end: the results table built and written once, analysed
        once (the report, the parent run's verdict tags and the summary share it), the parent
        run ended, the summary printed."""
        study, tracker, parent = self.stores.study, self.stores.tracker, self.stores.parent_run_id
        results_dir = self.options.runs_dir / "results" / study.study_name
        results_csv, results = write_tables(
            study, results_dir, one_per_cell=self.source.one_row_per_cell
        )
        append_timings(self.book.timings, results_dir)
        trained = results
        if "reused_from" in results:
            trained = results[results["reused_from"].isna() | (results["reused_from"] == "")]
        # A reused cell's seconds were spent by the study it came from, not by this one.
        trial_seconds_total = float(trained["wall_seconds"].sum()) if not trained.empty else 0.0
        facts = self._facts(trial_seconds_total)
        finished_any = self.source.finished(study, self.launched.design_cells) > 0
        analysis = self._analysis(results_csv, facts) if finished_any else None
        design_cells, total = self.launched.design_cells, self.first.total
        if self.sweep.plan is not None:  # the cells the plan's looks asked for, as far as it went
            design_cells = cells_needed(self.sweep, analysis.judgement if analysis else None)
            total = len(design_cells)
        done, _ = done_and_live(study)
        # Only this design's cells count: the study may hold more (run once with more --seeds).
        missing = [c.run_name for c in design_cells if c.key not in done]
        tracker.log_artifacts(parent, [results_csv, results_dir / "epochs.csv"])
        complete = not missing and not stopped_for_time
        state = State.COMPLETE if complete else State.INCOMPLETE
        tracker.set_tags(parent, {Key.STATE: state, Key.MISSING: str(len(missing))})
        tracker.end(parent, "FINISHED" if complete else "KILLED")
        outcome = SweepOutcome(
            study_name=study.study_name,
            total=total,
            finished=self.source.finished(study, design_cells),
            failed=self.book.failed,
            missing=missing,
            results_csv=results_csv,
            runs_table_url=tracker.runs_table_url(self.stores.experiment_id),
            trial_seconds=trial_seconds_total,
            tracking_server=is_server(tracker.tracking_uri),
        )
        index_html = self.report(analysis, facts, outcome)
        # The summary is the result: stdout. The plan and the progress went to stderr.
        sys.stdout.write(
            summary_text(
                self.sweep,
                outcome,
                analysis,
                self.progress.elapsed(),
                stopped_for_time,
                self.options.runs_dir,
            )
        )
        if index_html is not None:
            sys.stdout.write(f"Report:  {index_html}\n")
        return outcome

    def report(
        self, analysis: Analysis | None, facts: RunFacts, outcome: SweepOutcome
    ) -> Path | None:
        """Write the report to reports/<study>/ and attach it to the parent run (see
        cnnlab.sweep.publish); the path of its index.html, or None without one."""
        if analysis is None or self.options.reports_dir is None or outcome.results_csv is None:
            return None
        written = publish_report(
            analysis,
            facts,
            self.stores,
            results_csv=outcome.results_csv,
            reports_dir=self.options.reports_dir,
        )
        return None if written is None else written.index_html

    def worker_end(self) -> SweepOutcome:
        """A joined process's end: it says what it trained; results and report are the sweep's
        own process's (it waits for every cell, this one's included)."""
        trained = len(self.book.timings)
        study = self.stores.study
        done, _ = done_and_live(study)
        failed = self.book.failed
        sys.stdout.write(
            f"Worker on {socket.gethostname()} done after {self.progress.elapsed():.0f} s: "
            f"trained {trained} cell(s) of study {study.study_name}"
            f"{f', {len(failed)} failed' if failed else ''}; the study has {len(done)} "
            "finished. The sweep's own process writes results.csv and the report.\n"
        )
        return SweepOutcome(
            study_name=study.study_name,
            total=trained + len(failed),
            finished=trained,
            failed=failed,
            missing=[],
            results_csv=None,
            runs_table_url=None,
        )

    # --- what the verbs share ------------------------------------------------------------

    def _judgement(self) -> Judgement:
        """The claims' standing on the study's finished trials (a sequential plan's looks)."""
        results, _ = trials_table(self.stores.study)
        return judge(self.sweep, results, quick=self.options.quick)

    def _deadline(self) -> float | None:
        max_time = self.options.max_time
        return None if max_time is None else time.monotonic() + max_time

    def _look_line(self, needed: list[Cell], remaining: Remaining) -> str:
        plan = self.sweep.plan
        assert plan is not None
        # The look the cells still to train belong to: finished arms that reached a later
        # look for another claim do not move it.
        highest = max(c.seed for c in (remaining.pending or needed)) + 1
        look = next((k for k, n in enumerate(plan.looks, 1) if n >= highest), len(plan.looks))
        arms = ", ".join(sorted({c.arm for c in remaining.pending}))
        return (
            f"Look {look} of {len(plan.looks)} ({plan.looks[look - 1]} paired seeds): "
            f"{remaining.count} cell(s) to train for arms {arms}."
        )

    def _progress(self) -> Progress:
        launched, first = self.launched, self.first
        parallelism, speed = launched.parallelism, launched.speed
        per_arm = {c.arm_key: self.estimates[c.key] * speed.factor for c in launched.design_cells}
        progress = Progress(
            total=first.total,
            done=first.already,
            remaining_estimate=per_arm or {"search": self.search_estimate * speed.factor},
            workers=parallelism.workers,
            measured=finished_seconds(self.stores.study),
        )
        progress.plan([c.arm_key for c in first.pending] or ["search"] * first.count)
        return progress

    def _calibrate(self, cell: Cell, seconds: float) -> None:
        estimated = self.estimates.get(cell.key, self.search_estimate)
        record_speed(self.options.runs_dir, self.launched.parallelism, estimated, seconds)

    def _end_parent(self, state: State, status: FailStatus) -> None:
        """End the parent run after an interrupt or an error; a joined worker leaves it to
        the sweep's own process."""
        if not self.options.joins:
            self.stores.tracker.set_tags(self.stores.parent_run_id, {Key.STATE: state})
            self.stores.tracker.end(self.stores.parent_run_id, status)

    def _facts(self, trial_seconds_total: float) -> RunFacts:
        attrs = self.stores.study.user_attrs
        study = StudyFacts(
            self.stores.study.study_name,
            attrs.get(Key.CLAIMS_HASH),
            attrs.get(Key.PLAN_HASH),
            attrs.get(Key.RULE),
        )
        commit = self.stores.common_tags[Key.GIT_COMMIT]  # recorded as the sweep started
        trained_with = TrainedWith(commit, self.launched.parallelism.describe(), self.book.threads)
        return RunFacts(
            sweep=self.sweep,
            study=study,
            dataset=self.launched.dataset,
            quick=self.options.quick,
            sweep_source=self.options.sweep_source or self.sweep.name,
            sweep_seconds=self.progress.elapsed(),
            trial_seconds=trial_seconds_total,
            trained_with=trained_with,
        )

    def _analysis(self, results_csv: Path, facts: RunFacts) -> Analysis | None:
        """The end-of-sweep analysis, computed once from results.csv: the report's (with its
        provenance), the summary's and the plan's last standing."""
        provenance = facts.provenance() if self.options.reports_dir is not None else None
        try:
            return analyse_results_csv(
                self.sweep, results_csv, quick=self.options.quick, provenance=provenance
            )
        except ReportError as error:
            sys.stderr.write(f"No verdicts: {error}\n")
            return None
