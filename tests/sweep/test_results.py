"""The results table rebuilt from a real Optuna study (no training)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from cnnlab.sweep.stores.keys import Key
from cnnlab.sweep.stores.results import trials_table
from cnnlab.sweep.stores.studies import default_storage_url, open_storage
from cnnlab.training.result import TrainingResult
from tests.conftest import epoch_record

pytestmark = pytest.mark.integration


def _result(seed: int, accuracy: float) -> TrainingResult:
    epoch = epoch_record(1, test_loss=1 - accuracy, test_accuracy=accuracy)
    return TrainingResult(
        seed=seed,
        history=(epoch,),
        test_loss=1 - accuracy,
        test_accuracy=accuracy,
        params=10,
        flops=100,
        split_hash="s",
        data_order_hash="o",
        init_hash="i",
        threads={"intra_op": 0, "inter_op": 0, "cpu_count": 2},
        wall_seconds=1.0,
    )


def _finished(study: optuna.Study, cell: str, accuracy: float) -> None:
    arm, seed = cell.split("/seed=")
    result = _result(int(seed), accuracy).to_dict()
    attrs = {Key.CELL: cell, Key.ARM: arm, Key.RESULT: result}
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


def test_a_result_stored_by_an_earlier_version_reads_the_same(tmp_path: Path) -> None:
    # Before the typed record, trials stored a per-epoch `seconds_per_epoch` list and a
    # `seconds_per_epoch_mean`; such studies must still give the same results row.
    study = optuna.create_study(storage=open_storage(default_storage_url(tmp_path)))
    old = _result(0, 0.9).to_dict() | {"seconds_per_epoch": [3.0], "seconds_per_epoch_mean": 3.0}
    old["history"][0]["seconds"] = 3.0
    attrs = {"cnnlab.cell": "max/seed=00", "cnnlab.arm": "max", "cnnlab.result": old}
    study.add_trial(optuna.trial.create_trial(value=0.9, user_attrs=attrs))
    [row] = trials_table(study)[0].to_dict("records")
    assert row["seconds_per_epoch"] == 3.0 and row["test_accuracy"] == 0.9 and row["epochs"] == 1
