"""Bookkeeping of one trial across its life: Optuna attributes and state, the MLflow child run,
progress, and the final artifacts.

`TrialBook` is used in stages so that it works the same whether the model trains in this
process or in a worker: `begin` (trial attributes, child run with params and tags, then a
heartbeat thread; the owner was written right after `ask`), `epoch` (per-epoch metrics,
pruning decision), then exactly one of `complete`, `fail`, `prune` or `interrupt`, each of
which stops the heartbeat before the trial is told. Only the sweep process calls it (the
heartbeat thread writes only the heartbeat), so Optuna and MLflow have a single writer.
"""

from __future__ import annotations

import json
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from cnnlab.spec.design import Cell
from cnnlab.spec.specs import flat_params
from cnnlab.sweep.console.progress import Progress
from cnnlab.sweep.stores.cache import CachedCell, origin_study
from cnnlab.sweep.stores.keys import Key, State, level_key
from cnnlab.sweep.stores.objective import report_epoch
from cnnlab.sweep.stores.opening import Stores
from cnnlab.sweep.stores.studies import Heartbeat, dead_after, heartbeat_every
from cnnlab.sweep.trials.artifacts import TrialFiles
from cnnlab.sweep.trials.execution import FailStatus
from cnnlab.training.result import EpochRecord, TrainingResult


@dataclass
class ActiveTrial:
    trial: optuna.Trial
    cell: Cell
    run_id: str
    started: float
    heartbeat: Heartbeat
    spent: dict[str, float] = field(default_factory=dict)  # bookkeeping part -> seconds


@contextmanager
def timed(spent: dict[str, float], part: str) -> Iterator[None]:
    """Add the seconds of the block to `spent[part]` (optuna, mlflow, artifacts)."""
    tick = time.perf_counter()
    try:
        yield
    finally:
        spent[part] = spent.get(part, 0.0) + time.perf_counter() - tick


def timing_row(active: ActiveTrial, seconds: float, result: TrainingResult) -> dict[str, Any]:
    """Where one finished trial's seconds went (a row of timings.csv)."""
    training = sum(r.seconds for r in result.history)
    evaluation = sum(r.eval_seconds for r in result.history)
    book = {part: round(active.spent.get(part, 0.0), 4) for part in BOOKKEEPING_PARTS}
    return {
        "trial": active.trial.number,
        "cell": active.cell.key,
        "arm": active.cell.arm,
        "seconds": round(seconds, 3),
        "training_s": round(training, 3),
        "evaluation_s": round(evaluation, 3),
        # building the model, the final correctness pass, the probes: the rest of the worker's
        "model_and_probes_s": round(result.wall_seconds - training - evaluation, 3),
        **{f"{part}_s": value for part, value in book.items()},
        # handing the cell to a worker and its files back, splits, weights on disk
        "other_s": round(seconds - result.wall_seconds - sum(book.values()), 3),
        "intra_op_threads": result.threads.get("intra_op", 0),
    }


BOOKKEEPING_PARTS = ("optuna", "mlflow", "artifacts")


def run_params(cell: Cell) -> dict[str, Any]:
    """The MLflow params of a cell's run: every spec field under its dotted name, the seed
    (and background), and every factor under its own path, so a labelled factor such as
    `arch.blocks` has a param of that name (its label) beside the fields it sets."""
    params: dict[str, Any] = {**flat_params(cell.spec), **cell.labels, "seed": cell.seed}
    if cell.background is not None:
        params["background"] = cell.background
    return params


def epoch_metrics(record: EpochRecord) -> dict[str, float]:
    """One epoch's MLflow metrics, named as the fields of `EpochRecord` (and epochs.csv)."""
    values = asdict(record)
    del values["epoch"]  # the step
    return values


def final_metrics(result: TrainingResult) -> dict[str, float]:
    """A finished trial's MLflow metrics beside its per-epoch series, named as the columns of
    results.csv. Test accuracy and loss are not repeated: they are the last points of their
    per-epoch series (step = epoch), which MLflow's runs table shows."""
    return {
        **result.probes,
        "seconds_per_epoch": result.seconds_per_epoch,
        "wall_seconds": result.wall_seconds,
        "params": result.params,
        "flops": result.flops,
    }


def pairing_tags(result: TrainingResult) -> dict[str, str]:
    """A finished run's pairing fingerprints and thread settings, as MLflow tags."""
    return {
        Key.SPLIT_HASH: result.split_hash,
        Key.DATA_ORDER_HASH: result.data_order_hash,
        Key.INIT_HASH: result.init_hash,
        Key.THREADS: json.dumps(result.threads),
    }


class TrialBook:
    """The stages of `cnnlab.sweep.trials.execution.TrialStages`, written to Optuna and MLflow."""

    def __init__(
        self,
        stores: Stores,
        progress: Progress,
        on_complete: Callable[[Cell, float], None] | None = None,
        fingerprint: Callable[[Cell], str] | None = None,
    ) -> None:
        self.study, self.tracker, self.sampling = stores.study, stores.tracker, stores.sampling
        self.experiment_id, self.parent_run_id = stores.experiment_id, stores.parent_run_id
        self.progress, self.common_tags = progress, stores.common_tags
        self.on_complete = on_complete  # (cell, seconds from begin to complete)
        # Recorded on every trial, so a later run with the same cell can reuse it
        # (cnnlab.sweep.stores.cache); None: not recorded (a search's samples).
        self.fingerprint = fingerprint
        self.reused: list[str] = []  # cells this run copied from earlier trainings
        self.timings: list[dict[str, Any]] = []  # where each finished trial's time went
        self.failed: list[str] = []
        # Every process on the study beats at the pace its grace period asks (studies.py).
        self.heartbeat_every = heartbeat_every(dead_after(stores.study))

    def set_threads(self, settings: dict[str, int]) -> None:
        """The thread settings trials now train with (a worker pool's, once it is ready): each
        run is tagged with them from its start, and again from its own result when it ends;
        the parent run's tag is corrected to them too."""
        self.common_tags = {**self.common_tags, Key.THREADS: json.dumps(settings)}
        self.tracker.set_tags(self.parent_run_id, {Key.THREADS: json.dumps(settings)})

    @property
    def threads(self) -> dict[str, int]:
        """The thread settings trials train with (the sweep process's until a pool is ready)."""
        settings: dict[str, int] = json.loads(self.common_tags[Key.THREADS])
        return settings

    def _identify(
        self, trial: optuna.Trial, cell: Cell, source: CachedCell | None = None
    ) -> dict[str, str]:
        """The cell's attributes on the trial (and, for a reused cell, where it came from);
        the tags of its MLflow run."""
        extra: dict[str, str] = {}
        if source is not None:
            # The same study, trained by an earlier invocation elsewhere (a cell archive):
            # this study's own training, restored; any other study's: a copy.
            own = origin_study(source.origin) == self.study.study_name
            origin_key = Key.RESTORED_FROM if own else Key.REUSED_FROM
            extra = {origin_key: source.origin, Key.REUSED_RUN: source.mlflow_run_id or ""}
        attrs: dict[str, Any] = {
            Key.CELL: cell.key,
            Key.ARM: cell.arm,
            Key.LEVELS: cell.labels,
            Key.BACKGROUND: cell.background,
            **extra,
        }
        if self.fingerprint is not None:
            attrs[Key.FINGERPRINT] = self.fingerprint(cell)
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        tags = {
            **self.common_tags,
            Key.ARM: cell.arm,
            Key.SEED: str(cell.seed),
            Key.CELL: cell.key,
            Key.TRIAL_NUMBER: str(trial.number),
            Key.HOST: socket.gethostname(),
            Key.STATE: State.RUNNING,
            **{level_key(path): label for path, label in cell.labels.items()},
            **{key: str(value) for key, value in extra.items()},
        }
        if self.fingerprint is not None:
            tags[Key.FINGERPRINT] = attrs[Key.FINGERPRINT]
        if cell.background is not None:
            tags[Key.BACKGROUND] = str(cell.background)
        return tags

    def begin(self, trial: optuna.Trial, cell: Cell) -> ActiveTrial:
        started, spent = time.monotonic(), dict[str, float]()
        with timed(spent, "optuna"):
            tags = self._identify(trial, cell)
        with timed(spent, "mlflow"):
            run_id = self.tracker.start_child(
                self.experiment_id, self.parent_run_id, cell.run_name, run_params(cell), tags
            )
        with timed(spent, "optuna"):
            trial.set_user_attr(Key.MLFLOW_RUN_ID, run_id)
        self.progress.start(cell.run_name)
        # Last: an error above leaves no thread keeping a half-begun trial looking alive.
        heartbeat = Heartbeat(trial, every=self.heartbeat_every)
        return ActiveTrial(
            trial=trial,
            cell=cell,
            run_id=run_id,
            started=started,
            heartbeat=heartbeat,
            spent=spent,
        )

    def epoch(self, active: ActiveTrial, record: EpochRecord) -> bool:
        """Log one epoch; True when a search's pruner says to stop this trial."""
        with timed(active.spent, "mlflow"):
            self.tracker.log_epoch(active.run_id, record.epoch, epoch_metrics(record))
        self.progress.epoch(record.epoch, active.cell.spec.train.epochs, record.val_accuracy)
        with timed(active.spent, "optuna"):
            return report_epoch(active.trial, record, prune=self.sampling.prunes)

    def complete(self, active: ActiveTrial, files: TrialFiles) -> None:
        from cnnlab.report.curves import learning_curve_png

        result = files.result
        with timed(active.spent, "optuna"):
            active.trial.set_user_attr(Key.RESULT, result.to_dict())
        with timed(active.spent, "mlflow"):
            self.tracker.log_final(
                active.run_id, metrics=final_metrics(result), tags=pairing_tags(result)
            )
        with timed(active.spent, "artifacts"), tempfile.TemporaryDirectory() as tmp:
            history = [asdict(record) for record in result.history]
            curve = learning_curve_png(
                history, Path(tmp) / "learning_curve.png", active.cell.run_name
            )
            self.tracker.log_artifacts(active.run_id, [files.summary, curve])
            self.tracker.log_artifacts(active.run_id, [files.weights], subdir="weights")
        value = getattr(result.final, self.sampling.objective_metric)
        active.heartbeat.stop()
        # Tagged COMPLETE only now, not with the metrics: a run killed while its artifacts
        # upload must not say COMPLETE. Then MLflow before Optuna: interrupted between the two,
        # the trial is still RUNNING in Optuna (failed by `interrupt_if_open`, or reaped later
        # and its run marked KILLED), never COMPLETE beside a RUNNING run.
        with timed(active.spent, "mlflow"):
            self.tracker.set_tags(active.run_id, {Key.STATE: State.COMPLETE})
            self.tracker.end(active.run_id, "FINISHED")
        with timed(active.spent, "optuna"):
            self.study.tell(active.trial, value)
        seconds = self._done(active, f"test {result.test_accuracy:.2%}")
        self.timings.append(timing_row(active, seconds, result))
        if self.on_complete is not None:
            self.on_complete(active.cell, seconds)

    def reuse(self, trial: optuna.Trial, cell: Cell, source: CachedCell) -> None:
        """Complete a claimed trial from an identical earlier training instead of training it:
        the source's result, per-epoch values and metrics, under this study's parent run, with
        a link to the source's run (restored, when the source is this study's own training in
        another store). Its time is not training time (no timings row, no speed
        calibration); the progress line says where it came from."""
        started = time.monotonic()
        tags = self._identify(trial, cell, source)
        result = TrainingResult.from_dict(source.result)
        run_id = self.tracker.start_child(
            self.experiment_id, self.parent_run_id, cell.run_name, run_params(cell), tags
        )
        trial.set_user_attr(Key.MLFLOW_RUN_ID, run_id)
        self.progress.start(cell.run_name)
        for record in result.history:
            self.tracker.log_epoch(run_id, record.epoch, epoch_metrics(record))
            report_epoch(trial, record, prune=False)
        self.tracker.log_final(run_id, metrics=final_metrics(result), tags=pairing_tags(result))
        trial.set_user_attr(Key.RESULT, source.result)
        self.tracker.set_tags(run_id, {Key.STATE: State.COMPLETE})
        self.tracker.end(run_id, "FINISHED")
        self.study.tell(trial, getattr(result.final, self.sampling.objective_metric))
        seconds = time.monotonic() - started
        if Key.RESTORED_FROM in tags:
            how = f"restored from {source.origin} (an archive of an earlier invocation)"
        else:
            self.reused.append(cell.key)
            how = f"reused from {source.origin}"
        self.progress.finish(cell.arm_key, cell.run_name, how, seconds, trained=False)

    def fail(
        self,
        active: ActiveTrial,
        failure: dict[str, Any],
        *,
        run_status: FailStatus = "FAILED",
    ) -> None:
        """FAIL in Optuna; the MLflow run ends FAILED, or KILLED when its process was killed."""
        active.heartbeat.stop()
        active.trial.set_user_attr(Key.FAILURE, failure)
        self.study.tell(active.trial, state=TrialState.FAIL)
        self.tracker.set_tags(
            active.run_id,
            {
                Key.STATE: State.FAIL,
                Key.REASON: failure.get("reason", "error"),
                Key.MESSAGE: failure.get("message", ""),
            },
        )
        self.tracker.end(active.run_id, run_status)
        self.failed.append(active.cell.run_name)
        self._done(active, f"FAILED ({failure.get('reason', 'error')})")

    def prune(self, active: ActiveTrial, message: str) -> None:
        active.heartbeat.stop()
        self.study.tell(active.trial, state=TrialState.PRUNED)
        self.tracker.set_tags(active.run_id, {Key.STATE: State.PRUNED, Key.REASON: message})
        self.tracker.end(active.run_id, "KILLED")
        self._done(active, "pruned")

    def interrupt(self, active: ActiveTrial) -> None:
        active.heartbeat.stop()
        active.trial.set_user_attr(Key.STATE, State.INTERRUPTED)
        self.study.tell(active.trial, state=TrialState.FAIL)
        self.tracker.set_tags(active.run_id, {Key.STATE: State.INTERRUPTED})
        self.tracker.end(active.run_id, "KILLED")

    def interrupt_if_open(self, active: ActiveTrial) -> None:
        """`interrupt`, unless the trial was already told (interrupted after `complete`)."""
        running = self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if any(t.number == active.trial.number for t in running):
            self.interrupt(active)

    def _done(self, active: ActiveTrial, outcome: str) -> float:
        seconds = time.monotonic() - active.started
        self.progress.finish(active.cell.arm_key, active.cell.run_name, outcome, seconds)
        return seconds
