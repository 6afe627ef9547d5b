"""The tidy results table of a study: one row per finished cell (or trial), plus one per epoch.

Columns use the dotted names of the factors (`arch.pooling`), then `arm`, `seed`,
`background`, the final metrics, cost (`params`, `flops`, `seconds_per_epoch`) and the pairing
fingerprints. It is rebuilt from the Optuna study (each trial keeps its result in its user
attributes), so it never disagrees with the store.

Two sweep processes racing on one study can finish a cell twice; the table keeps one row per
cell, the lowest trial number's, so pairing never counts a replicate twice. A search is the
exception: two of its samples may pick the same levels (one cell) and both are results.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import TrialState

RESULT_ATTR = "cnnlab.result"
FAILURE_ATTR = "cnnlab.failure"


def result_record(result: dict[str, Any]) -> dict[str, Any]:
    """What a trial keeps of its result (`TrainingResult.to_dict()`), with the mean epoch time."""
    return {**result, "seconds_per_epoch_mean": statistics.fmean(result["seconds_per_epoch"])}


def trials_table(
    study: optuna.Study, *, one_per_cell: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(results, epochs): finished trials only; failed, pruned and running ones are left out.

    `one_per_cell`: of several finished trials of one cell keep the lowest-numbered (pass
    False for a search design, whose samples may repeat a cell).
    """
    rows: list[dict[str, Any]] = []
    epoch_rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    for trial in sorted(finished, key=lambda t: t.number):
        result = trial.user_attrs.get(RESULT_ATTR)
        if not result:
            continue
        cell = trial.user_attrs.get("cnnlab.cell")
        if one_per_cell and cell is not None:
            if cell in seen:
                continue
            seen.add(cell)
        levels = trial.user_attrs.get("cnnlab.levels", {})
        row: dict[str, Any] = {
            "trial": trial.number,
            "cell": cell,
            "arm": trial.user_attrs.get("cnnlab.arm"),
            **levels,
            "seed": result["seed"],
            "background": trial.user_attrs.get("cnnlab.background"),
            "test_accuracy": result["test_accuracy"],
            "test_loss": result["test_loss"],
            "val_accuracy": result["history"][-1]["val_accuracy"],
            "val_loss": result["history"][-1]["val_loss"],
            "train_accuracy": result["history"][-1]["accuracy"],
            "train_loss": result["history"][-1]["loss"],
            "epochs": len(result["history"]),
            "params": result["params"],
            "flops": result["flops"],
            "seconds_per_epoch": result["seconds_per_epoch_mean"],
            "wall_seconds": result["wall_seconds"],
            "split_hash": result["split_hash"],
            "data_order_hash": result["data_order_hash"],
            "init_hash": result["init_hash"],
            "mlflow_run_id": trial.user_attrs.get("cnnlab.mlflow_run_id"),
            **result.get("probes", {}),
        }
        rows.append(row)
        for record in result["history"]:
            epoch_rows.append(
                {
                    "trial": trial.number,
                    "arm": row["arm"],
                    "seed": row["seed"],
                    "background": row["background"],
                    **record,
                }
            )
    results = pd.DataFrame(rows)
    if not results.empty:
        results = results.sort_values(["seed", "background", "trial"], na_position="first")
    return results.reset_index(drop=True), pd.DataFrame(epoch_rows)


def write_tables(study: optuna.Study, folder: Path, *, one_per_cell: bool = True) -> Path:
    """Write `results.csv` and `epochs.csv` for `study` into `folder`; returns results.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    results, epochs = trials_table(study, one_per_cell=one_per_cell)
    path = folder / "results.csv"
    results.to_csv(path, index=False)
    epochs.to_csv(folder / "epochs.csv", index=False)
    return path
