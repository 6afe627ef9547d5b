"""The tidy results table of a study: one row per finished cell (or trial), plus one per epoch.

Rows follow the schema of `cnnlab.stats.table.ResultRow`: the factors' dotted names
(`arch.pooling`), then `arm`, `seed`, `background`, the final metrics, cost (`params`,
`flops`, `seconds_per_epoch`) and the pairing fingerprints. The table is rebuilt from the
Optuna study (each trial keeps its `TrainingResult` in its user attributes), so it never
disagrees with the store.

Two sweep processes racing on one study can finish a cell twice; the table keeps one row per
cell, the lowest trial number's, so pairing never counts a cell twice. A search is the
exception: two of its samples may pick the same levels (one cell) and both are results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import TrialState

from cnnlab.stats.table import ResultRow, results_frame
from cnnlab.sweep.stores.keys import Key
from cnnlab.training.result import TrainingResult


def result_row(trial: optuna.trial.FrozenTrial, result: TrainingResult) -> ResultRow:
    """The results row of a finished trial."""
    final = result.final
    return ResultRow(
        trial=trial.number,
        cell=trial.user_attrs.get(Key.CELL),
        arm=trial.user_attrs.get(Key.ARM),
        labels=dict(trial.user_attrs.get(Key.LEVELS, {})),
        seed=result.seed,
        background=trial.user_attrs.get(Key.BACKGROUND),
        test_accuracy=result.test_accuracy,
        test_loss=result.test_loss,
        val_accuracy=final.val_accuracy,
        val_loss=final.val_loss,
        train_accuracy=final.accuracy,
        train_loss=final.loss,
        epochs=len(result.history),
        params=result.params,
        flops=result.flops,
        seconds_per_epoch=result.seconds_per_epoch,
        wall_seconds=result.wall_seconds,
        split_hash=result.split_hash,
        data_order_hash=result.data_order_hash,
        init_hash=result.init_hash,
        mlflow_run_id=trial.user_attrs.get(Key.MLFLOW_RUN_ID),
        reused_from=str(trial.user_attrs.get(Key.REUSED_FROM) or ""),
        init_paired=result.init_paired,
        probes=dict(result.probes),
        test_correct=result.test_correct,
    )


def trials_table(
    study: optuna.Study, *, one_per_cell: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(results, epochs): finished trials only; failed, pruned and running ones are left out.

    `one_per_cell`: of several finished trials of one cell keep the lowest-numbered (pass
    False for a search design, whose samples may repeat a cell).
    """
    rows: list[ResultRow] = []
    epoch_rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    for trial in sorted(finished, key=lambda t: t.number):
        stored = trial.user_attrs.get(Key.RESULT)
        if not stored:
            continue
        cell = trial.user_attrs.get(Key.CELL)
        if one_per_cell and cell is not None:
            if cell in seen:
                continue
            seen.add(cell)
        row = result_row(trial, TrainingResult.from_dict(stored))
        rows.append(row)
        for record in stored["history"]:
            epoch_rows.append(
                {
                    "trial": row.trial,
                    "arm": row.arm,
                    "seed": row.seed,
                    "background": row.background,
                    **record,
                }
            )
    return results_frame(rows), pd.DataFrame(epoch_rows)


def write_tables(
    study: optuna.Study, folder: Path, *, one_per_cell: bool = True
) -> tuple[Path, pd.DataFrame]:
    """Write `results.csv` and `epochs.csv` for `study` into `folder`: (results.csv, results)."""
    folder.mkdir(parents=True, exist_ok=True)
    results, epochs = trials_table(study, one_per_cell=one_per_cell)
    path = folder / "results.csv"
    _write_whole(results, path)
    _write_whole(epochs, folder / "epochs.csv")
    return path, results


def _write_whole(table: pd.DataFrame, path: Path) -> None:
    """Write `path` whole or not at all: a full disk or a kill mid-write leaves the previous
    file (or none), never a truncated table that a report would read as the results."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        table.to_csv(partial, index=False)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def append_timings(rows: list[dict[str, Any]], folder: Path) -> Path | None:
    """Add this run's finished trials to `timings.csv` (where each trial's seconds went:
    training, evaluation, Optuna, MLflow, artifacts; `cnnlab.sweep.trials.book.timing_row`),
    after the rows of earlier runs of the study."""
    if not rows:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "timings.csv"
    pd.DataFrame(rows).to_csv(path, mode="a", header=not path.exists(), index=False)
    return path
