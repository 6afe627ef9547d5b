"""The tidy results table of a study: one row per finished trial, plus one row per epoch.

Columns use the dotted names of the factors (`arch.pooling`), then `arm`, `seed`,
`background`, the final metrics, cost (`params`, `flops`, `seconds_per_epoch`) and the pairing
fingerprints. It is rebuilt from the Optuna study (each trial keeps its result in its user
attributes), so it never disagrees with the store.
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


def trials_table(study: optuna.Study) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(results, epochs): finished trials only; failed, pruned and running ones are left out."""
    rows: list[dict[str, Any]] = []
    epoch_rows: list[dict[str, Any]] = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        result = trial.user_attrs.get(RESULT_ATTR)
        if not result:
            continue
        levels = trial.user_attrs.get("cnnlab.levels", {})
        row: dict[str, Any] = {
            "trial": trial.number,
            "cell": trial.user_attrs.get("cnnlab.cell"),
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


def write_tables(study: optuna.Study, folder: Path) -> Path:
    """Write `results.csv` and `epochs.csv` for `study` into `folder`; returns results.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    results, epochs = trials_table(study)
    path = folder / "results.csv"
    results.to_csv(path, index=False)
    epochs.to_csv(folder / "epochs.csv", index=False)
    return path
