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
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import optuna
from optuna.trial import TrialState

from cnnlab.artifacts import TrialFiles
from cnnlab.design import Cell, Sweep
from cnnlab.objective import objective_metric, report_epoch
from cnnlab.progress import Progress
from cnnlab.results import FAILURE_ATTR, RESULT_ATTR, result_record
from cnnlab.space import flat_params
from cnnlab.studies import ATTR_CELL, Heartbeat
from cnnlab.tracking import EPOCH_METRICS, Tracker
from cnnlab.train import EpochRecord


@dataclass
class ActiveTrial:
    trial: optuna.Trial
    cell: Cell
    run_id: str
    started: float
    heartbeat: Heartbeat


class TrialBook:
    def __init__(
        self,
        sweep: Sweep,
        study: optuna.Study,
        tracker: Tracker,
        experiment_id: str,
        parent_run_id: str,
        progress: Progress,
        common_tags: dict[str, str],
    ) -> None:
        self.sweep, self.study, self.tracker = sweep, study, tracker
        self.experiment_id, self.parent_run_id = experiment_id, parent_run_id
        self.progress, self.common_tags = progress, common_tags
        self.failed: list[str] = []

    def begin(self, trial: optuna.Trial, cell: Cell) -> ActiveTrial:
        for key, value in (
            (ATTR_CELL, cell.key),
            ("cnnlab.arm", cell.arm),
            ("cnnlab.levels", cell.levels),
            ("cnnlab.background", cell.background),
        ):
            trial.set_user_attr(key, value)
        params: dict[str, Any] = {**flat_params(cell.spec), "seed": cell.seed}
        tags = {
            **self.common_tags,
            "cnnlab.arm": cell.arm,
            "cnnlab.seed": str(cell.seed),
            "cnnlab.cell": cell.key,
            "cnnlab.trial_number": str(trial.number),
            "cnnlab.state": "RUNNING",
            **{f"cnnlab.level.{k}": v for k, v in cell.levels.items()},
        }
        if cell.background is not None:
            params["background"] = cell.background
            tags["cnnlab.background"] = str(cell.background)
        run_id = self.tracker.start_child(
            self.experiment_id, self.parent_run_id, cell.run_name, params, tags
        )
        trial.set_user_attr("cnnlab.mlflow_run_id", run_id)
        self.progress.start(cell.run_name)
        # Last: an error above leaves no thread keeping a half-begun trial looking alive.
        heartbeat = Heartbeat(trial)
        return ActiveTrial(
            trial=trial, cell=cell, run_id=run_id, started=time.monotonic(), heartbeat=heartbeat
        )

    def epoch(self, active: ActiveTrial, record: EpochRecord) -> bool:
        """Log one epoch; True when a search's pruner says to stop this trial."""
        values = {name: getattr(record, name) for name in EPOCH_METRICS}
        values["epoch_seconds"] = record.seconds
        self.tracker.log_epoch(active.run_id, record.epoch, values)
        self.progress.epoch(record.epoch, active.cell.spec.train.epochs, record.val_accuracy)
        return report_epoch(active.trial, record, prune=self.sweep.design == "search")

    def complete(self, active: ActiveTrial, files: TrialFiles) -> None:
        from cnnlab.report.curves import learning_curve_png

        result = result_record(files.result)
        active.trial.set_user_attr(RESULT_ATTR, result)
        probes = {f"probe.{k}": v for k, v in result.get("probes", {}).items()}
        self.tracker.log_final(
            active.run_id,
            metrics={
                **probes,
                "final_test_accuracy": result["test_accuracy"],
                "final_test_loss": result["test_loss"],
                "seconds_per_epoch": result["seconds_per_epoch_mean"],
                "wall_seconds": result["wall_seconds"],
                "params": result["params"],
                "flops": result["flops"],
            },
            tags={
                "cnnlab.split_hash": result["split_hash"],
                "cnnlab.data_order_hash": result["data_order_hash"],
                "cnnlab.init_hash": result["init_hash"],
                "cnnlab.threads": json.dumps(result["threads"]),
            },
        )
        with tempfile.TemporaryDirectory() as tmp:
            curve = learning_curve_png(
                result["history"], Path(tmp) / "learning_curve.png", active.cell.run_name
            )
            self.tracker.log_artifacts(active.run_id, [files.summary, curve])
        self.tracker.log_artifacts(active.run_id, [files.weights], subdir="weights")
        value = result["history"][-1][objective_metric(self.sweep)]
        active.heartbeat.stop()
        # Tagged COMPLETE only now, not with the metrics: a run killed while its artifacts
        # upload must not say COMPLETE. Then MLflow before Optuna: interrupted between the two,
        # the trial is still RUNNING in Optuna (failed by `interrupt_if_open`, or reaped later
        # and its run marked KILLED), never COMPLETE beside a RUNNING run.
        self.tracker.set_tags(active.run_id, {"cnnlab.state": "COMPLETE"})
        self.tracker.end(active.run_id, "FINISHED")
        self.study.tell(active.trial, value)
        self._done(active, f"test {result['test_accuracy']:.2%}")

    def fail(
        self,
        active: ActiveTrial,
        failure: dict[str, Any],
        *,
        run_status: Literal["FAILED", "KILLED"] = "FAILED",
    ) -> None:
        """FAIL in Optuna; the MLflow run ends FAILED, or KILLED when its process was killed."""
        active.heartbeat.stop()
        active.trial.set_user_attr(FAILURE_ATTR, failure)
        self.study.tell(active.trial, state=TrialState.FAIL)
        self.tracker.set_tags(
            active.run_id,
            {
                "cnnlab.state": "FAIL",
                "cnnlab.reason": failure.get("reason", "error"),
                "cnnlab.message": failure.get("message", ""),
            },
        )
        self.tracker.end(active.run_id, run_status)
        self.failed.append(active.cell.run_name)
        self._done(active, f"FAILED ({failure.get('reason', 'error')})")

    def prune(self, active: ActiveTrial, message: str) -> None:
        active.heartbeat.stop()
        self.study.tell(active.trial, state=TrialState.PRUNED)
        self.tracker.set_tags(active.run_id, {"cnnlab.state": "PRUNED", "cnnlab.reason": message})
        self.tracker.end(active.run_id, "KILLED")
        self._done(active, "pruned")

    def interrupt(self, active: ActiveTrial) -> None:
        active.heartbeat.stop()
        active.trial.set_user_attr("cnnlab.state", "interrupted")
        self.study.tell(active.trial, state=TrialState.FAIL)
        self.tracker.set_tags(active.run_id, {"cnnlab.state": "INTERRUPTED"})
        self.tracker.end(active.run_id, "KILLED")

    def interrupt_if_open(self, active: ActiveTrial) -> None:
        """`interrupt`, unless the trial was already told (interrupted after `complete`)."""
        running = self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if any(t.number == active.trial.number for t in running):
            self.interrupt(active)

    def _done(self, active: ActiveTrial, outcome: str) -> None:
        seconds = time.monotonic() - active.started
        self.progress.finish(active.cell.arm, active.cell.run_name, outcome, seconds)
