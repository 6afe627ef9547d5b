"""The cell cache: a second sweep sharing an arm trains only its new cells, and a reused cell
is the same bits as a retrain (real Optuna study, real MLflow store, tiny synthetic data)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

from cnnlab.data import synthetic_dataset
from cnnlab.spec.design import Factor, Sweep
from cnnlab.spec.presets import small
from cnnlab.spec.specs import DataSpec, TrainSpec, TrialSpec
from cnnlab.sweep.options import SweepOptions
from cnnlab.sweep.runner import run_sweep
from cnnlab.sweep.stores.keys import Key
from cnnlab.sweep.stores.studies import default_storage_url, open_storage
from cnnlab.sweep.stores.tracking import default_tracking_uri

pytestmark = pytest.mark.integration

DATA = synthetic_dataset(n_train=400, n_test=160, seed=5)
BASE = TrialSpec(
    arch=small,
    train=TrainSpec(epochs=2, batch_size=64),
    data=DataSpec(dataset="mnist", validation_size=80),
)
FIRST = Sweep(
    name="first",
    base=BASE,
    factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
    seeds=2,
)
# Shares its `max` arm with FIRST (same spec, same seeds); `strided` is new.
SECOND = Sweep(
    name="second",
    base=BASE,
    factors=(Factor(path="arch.pooling", levels=("max", "strided")),),
    seeds=2,
)
# What must be equal between a reused cell and a retrain: everything but the clock.
TIMING = {"seconds", "eval_seconds", "wall_seconds", "seconds_per_epoch"}


def _run(runs: Path, sweep: Sweep, **options: object):  # type: ignore[no-untyped-def]
    return run_sweep(
        sweep,
        SweepOptions(runs_dir=runs, workers=1, **options),
        dataset=DATA,  # type: ignore[arg-type]
    )


def _trials(runs: Path, study: str) -> list[optuna.trial.FrozenTrial]:
    loaded = optuna.load_study(study_name=study, storage=open_storage(default_storage_url(runs)))
    return loaded.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def _bits(result: dict) -> dict:  # type: ignore[type-arg]
    """A stored result without its timings (and thread record: same settings either way)."""
    kept = {k: v for k, v in result.items() if k not in TIMING}
    kept["history"] = [{k: v for k, v in r.items() if k not in TIMING} for r in result["history"]]
    return kept


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("cache") / "runs"
    _run(runs, FIRST)
    _run(runs, SECOND)
    return runs


def test_a_second_sweep_trains_only_its_new_cells(both: Path) -> None:
    trials = {t.user_attrs[Key.CELL]: t for t in _trials(both, "second")}
    assert sorted(trials) == ["max/seed=00", "max/seed=01", "strided/seed=00", "strided/seed=01"]
    first = {t.user_attrs[Key.CELL]: t for t in _trials(both, "first")}
    for seed in ("00", "01"):
        reused = trials[f"max/seed={seed}"]
        source = first[f"max/seed={seed}"]
        assert reused.user_attrs[Key.REUSED_FROM] == f"first/{source.number}"
        assert reused.user_attrs[Key.RESULT] == source.user_attrs[Key.RESULT]
        assert reused.intermediate_values == source.intermediate_values
        assert reused.value == source.value
        assert Key.REUSED_FROM not in trials[f"strided/seed={seed}"].user_attrs
    # Only the trained cells have a row in timings.csv: the sweep's training time is theirs.
    timings = pd.read_csv(both / "results" / "second" / "timings.csv")
    assert sorted(timings["cell"]) == ["strided/seed=00", "strided/seed=01"]


def test_results_csv_says_which_cells_were_reused_and_from_where(both: Path) -> None:
    results = pd.read_csv(both / "results" / "second" / "results.csv", keep_default_na=False)
    reused = dict(zip(results["cell"], results["reused_from"], strict=True))
    first = {t.user_attrs[Key.CELL]: t.number for t in _trials(both, "first")}
    assert reused == {
        "max/seed=00": f"first/{first['max/seed=00']}",
        "max/seed=01": f"first/{first['max/seed=01']}",
        "strided/seed=00": "",
        "strided/seed=01": "",
    }


def test_a_reused_run_sits_under_the_new_parent_with_the_sources_metrics_and_a_link(
    both: Path,
) -> None:
    client = MlflowClient(tracking_uri=default_tracking_uri(both))
    second = client.get_experiment_by_name("second").experiment_id
    runs = client.search_runs([second])
    parent = next(r for r in runs if r.data.tags.get(Key.ROLE) == "parent")
    children = {r.data.tags[Key.CELL]: r for r in runs if r.data.tags.get(Key.ROLE) == "trial"}
    source_runs = {
        t.user_attrs[Key.CELL]: t.user_attrs[Key.MLFLOW_RUN_ID] for t in _trials(both, "first")
    }
    reused = children["max/seed=00"]
    assert reused.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert reused.data.tags[Key.REUSED_RUN] == source_runs["max/seed=00"]
    assert reused.data.tags[Key.REUSED_FROM].startswith("first/")
    assert reused.info.status == "FINISHED"
    source = client.get_run(source_runs["max/seed=00"])
    for metric in ("test_accuracy", "val_accuracy", "loss", "params"):
        assert reused.data.metrics[metric] == source.data.metrics[metric]
    history = client.get_metric_history(reused.info.run_id, "val_accuracy")
    expected = client.get_metric_history(source.info.run_id, "val_accuracy")
    assert [(m.step, m.value) for m in history] == [(m.step, m.value) for m in expected]
    assert Key.REUSED_FROM not in children["strided/seed=00"].data.tags


def test_a_reused_cell_is_bit_identical_to_a_retrain(both: Path) -> None:
    _run(both, SECOND, new_study=True, reuse=False)
    retrained = {t.user_attrs[Key.CELL]: t for t in _trials(both, "second-v2")}
    reused = {t.user_attrs[Key.CELL]: t for t in _trials(both, "second")}
    for cell in ("max/seed=00", "max/seed=01"):
        assert Key.REUSED_FROM not in retrained[cell].user_attrs  # --retrain trained it
        assert (
            retrained[cell].user_attrs[Key.FINGERPRINT] == reused[cell].user_attrs[Key.FINGERPRINT]
        )
        assert _bits(retrained[cell].user_attrs[Key.RESULT]) == _bits(
            reused[cell].user_attrs[Key.RESULT]
        )


def test_a_cell_that_differs_in_anything_that_decides_its_bits_is_trained(both: Path) -> None:
    runs = both  # FIRST's cells are in this store
    # One more epoch: a different training, even though the arm and the seeds are the same.
    longer = dataclasses.replace(
        FIRST,
        name="longer",
        base=dataclasses.replace(BASE, train=TrainSpec(epochs=3, batch_size=64)),
    )
    _run(runs, longer)
    assert all(Key.REUSED_FROM not in t.user_attrs for t in _trials(runs, "longer"))
    # Other data with the same shape and the same sweep: trained again.
    other = synthetic_dataset(n_train=400, n_test=160, seed=6)
    run_sweep(
        dataclasses.replace(FIRST, name="other_data"),
        SweepOptions(runs_dir=runs, workers=1),
        dataset=other,
    )
    assert all(Key.REUSED_FROM not in t.user_attrs for t in _trials(runs, "other_data"))


def test_the_report_counts_the_reused_cells_and_names_their_study(both: Path) -> None:
    from cnnlab.report.build import analyse_results_csv
    from cnnlab.report.document import build_document
    from cnnlab.report.render import to_markdown

    csv = both / "results" / "second" / "results.csv"
    analysis = analyse_results_csv(SECOND, csv, quick=True, provenance=None)
    assert analysis.reused == (("first", 2),)
    text = to_markdown(build_document(analysis, [], ""))
    assert "Reused cells: 2 of the 4 cells were not trained for this report" in text
    assert "in first (2)" in text and "not new confirmations" in text
