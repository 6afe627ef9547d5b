"""The results table rebuilt from a real Optuna study (no training)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from cnnlab.results import RESULT_ATTR, trials_table
from cnnlab.studies import default_storage_url, open_storage

pytestmark = pytest.mark.integration


def _result(seed: int, accuracy: float) -> dict[str, object]:
    epoch = {"epoch": 1, "loss": 0.1, "accuracy": 0.9, "val_loss": 0.2, "val_accuracy": 0.8}
    return {
        "seed": seed,
        "test_accuracy": accuracy,
        "test_loss": 1 - accuracy,
        "history": [epoch],
        "params": 10,
        "flops": 100,
        "seconds_per_epoch_mean": 1.0,
        "wall_seconds": 1.0,
        "split_hash": "s",
        "data_order_hash": "o",
        "init_hash": "i",
    }


def _finished(study: optuna.Study, cell: str, accuracy: float) -> None:
    arm, seed = cell.split("/seed=")
    attrs = {"cnnlab.cell": cell, "cnnlab.arm": arm, RESULT_ATTR: _result(int(seed), accuracy)}
    study.add_trial(optuna.trial.create_trial(value=accuracy, user_attrs=attrs))


def test_a_cell_finished_twice_counts_once_the_first_trial(tmp_path: Path) -> None:
    # Two sweep processes racing on one study finished max/seed=00 twice (trials 0 and 2).
    study = optuna.create_study(storage=open_storage(default_storage_url(tmp_path)))
    for cell, accuracy in (("max/seed=00", 0.9), ("avg/seed=00", 0.8), ("max/seed=00", 0.1)):
        _finished(study, cell, accuracy)
    results, epochs = trials_table(study)
    assert sorted(results["cell"]) == ["avg/seed=00", "max/seed=00"]
    assert results.set_index("cell").loc["max/seed=00", "trial"] == 0
    assert sorted(epochs["trial"]) == [0, 1]
    # A search's samples may repeat a cell; each is a result of its own.
    assert len(trials_table(study, one_per_cell=False)[0]) == 3
