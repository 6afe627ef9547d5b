"""A study made before the restructuring of issue 21 (commit 33da3d2) resumes with today's code.

No module path is stored in the stores (a study holds keys, values and hashes; a run its params
and tags), so moving modules must not invalidate them; this proves it on a real store: an
Optuna SQLite study and an MLflow store made at that commit (tests/end_to_end/fixtures/).
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

from cnnlab.spec.design import config_hash
from cnnlab.sweep import SweepOptions, run_sweep
from cnnlab.sweep.stores.keys import Key
from cnnlab.sweep.stores.studies import default_storage_url, open_storage
from cnnlab.sweep.stores.tracking import default_tracking_uri

FIXTURES = Path(__file__).parent / "fixtures"
STORE = FIXTURES / "store_33da3d2"
MADE_AT = "file:///work/main/tests/end_to_end/fixtures/store_33da3d2"  # where it was made

sys.path.insert(0, str(FIXTURES))
from fixture_sweep import DATA, SWEEP  # noqa: E402

pytestmark = pytest.mark.integration


def _copy(tmp_path: Path) -> Path:
    """The store copied, with MLflow's absolute artifact locations moved along with it."""
    runs = tmp_path / "runs"
    shutil.copytree(STORE, runs)
    with sqlite3.connect(runs / "mlflow.db") as db:
        here = runs.resolve().as_uri()
        db.execute(
            "UPDATE experiments SET artifact_location = replace(artifact_location, ?, ?)",
            (MADE_AT, here),
        )
        db.execute("UPDATE runs SET artifact_uri = replace(artifact_uri, ?, ?)", (MADE_AT, here))
    return runs


def test_the_old_study_has_todays_definition_hash() -> None:
    study = optuna.load_study(
        study_name="fixture", storage=open_storage(default_storage_url(STORE))
    )
    assert study.user_attrs[Key.CONFIG_HASH] == config_hash(SWEEP)


def test_a_study_made_before_the_restructuring_resumes(tmp_path: Path) -> None:
    runs = _copy(tmp_path)
    storage = open_storage(default_storage_url(runs))
    before = {
        t.user_attrs[Key.CELL]: (t.number, t.value)
        for t in optuna.load_study(study_name="fixture", storage=storage).get_trials()
    }
    assert sorted(before) == ["avg/seed=00", "max/seed=00"]

    outcome = run_sweep(SWEEP, SweepOptions(runs_dir=runs, workers=1), dataset=DATA)

    assert outcome is not None and outcome.finished == 4 and not outcome.failed
    trials = optuna.load_study(study_name="fixture", storage=storage).get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4  # one study, no -v2
    after = {t.user_attrs[Key.CELL]: (t.number, t.value) for t in trials}
    assert {cell: after[cell] for cell in before} == before  # the old cells kept, not rerun
    assert sorted(after) == ["avg/seed=00", "avg/seed=01", "max/seed=00", "max/seed=01"]
    client = MlflowClient(tracking_uri=default_tracking_uri(runs))
    experiment = client.get_experiment_by_name("fixture")
    found = client.search_runs([experiment.experiment_id], max_results=100)
    parents = [r for r in found if r.data.tags.get(Key.ROLE) == "parent"]
    children = [r for r in found if r.data.tags.get(Key.ROLE) == "trial"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(children) == 4
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
