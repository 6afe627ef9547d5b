"""What a trial's MLflow run is named and given, without a store: params and metric names."""

from __future__ import annotations

import dataclasses

from cnnlab.spec import cells
from cnnlab.spec.loading import load_sweep
from cnnlab.spec.metrics import METRICS
from cnnlab.stats.table import ResultRow
from cnnlab.sweep.trials.book import epoch_metrics, final_metrics, run_params
from cnnlab.training.result import EpochRecord, TrainingResult
from tests.conftest import epoch_record


def test_every_factor_is_a_param_under_its_dotted_path_labelled_ones_too() -> None:
    # Before: a labelled factor (`arch.blocks`, levels of ConvBlock tuples) had no param of
    # its own name, only the leaves it sets.
    cell = cells(load_sweep("filters"))[0]
    params = run_params(cell)
    assert params["arch.blocks"] == "16-32"
    assert params["arch.blocks.0.filters"] == 16 and params["arch.blocks.1.filters"] == 32
    assert params["seed"] == 0 and "background" not in params


def test_a_scalar_factors_param_is_its_value_and_a_background_is_a_param() -> None:
    pooling = cells(load_sweep("pooling"))[1]
    assert run_params(pooling)["arch.pooling"] == "avg"
    randomized = cells(load_sweep("pooling_randomized"))[0]
    assert randomized.background is not None
    assert run_params(randomized)["background"] == randomized.background


def test_per_epoch_metrics_are_named_as_the_epochs_table_columns() -> None:
    metrics = epoch_metrics(epoch_record(2, seconds=4.5, test_accuracy=0.7))
    assert set(metrics) == {f.name for f in dataclasses.fields(EpochRecord)} - {"epoch"}
    assert metrics["seconds"] == 4.5 and metrics["test_accuracy"] == 0.7


def test_final_metrics_are_named_as_results_columns() -> None:
    # One name per quantity: before, MLflow said `final_test_accuracy` and `probe.shift2_drop`
    # where results.csv says `test_accuracy` and `shift2_drop`.
    result = TrainingResult(
        seed=0,
        history=(epoch_record(1, seconds=4.0), epoch_record(2, seconds=6.0)),
        test_loss=0.3,
        test_accuracy=0.7,
        params=10,
        flops=20,
        split_hash="s",
        data_order_hash="o",
        init_hash="i",
        threads={},
        wall_seconds=11.0,
        probes={"shift2_drop": 0.01, "unshifted_accuracy": 0.7},
    )
    metrics = final_metrics(result)
    columns = {f.name for f in dataclasses.fields(ResultRow)} | set(METRICS) | set(result.probes)
    assert set(metrics) <= columns
    assert metrics["seconds_per_epoch"] == 5.0 and metrics["shift2_drop"] == 0.01
