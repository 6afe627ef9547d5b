"""train_and_evaluate on tiny synthetic data: history, determinism in-process, divergence."""

from __future__ import annotations

import dataclasses
import math

import pytest

from cnnlab.data import make_splits, synthetic_dataset
from cnnlab.errors import TrainingFailed
from cnnlab.presets import small
from cnnlab.space import TrainSpec, TrialSpec
from cnnlab.train import DIVERGED_LOSS, is_diverged, train_and_evaluate

SPEC = TrialSpec(arch=small, train=TrainSpec(epochs=2, batch_size=32))


@pytest.fixture(scope="module")
def splits():  # type: ignore[no-untyped-def]
    return make_splits(synthetic_dataset(640, 200, seed=0), seed=0, validation_size=128)


def test_history_has_every_metric_for_every_epoch(splits) -> None:  # type: ignore[no-untyped-def]
    result = train_and_evaluate(SPEC, splits, seed=0)
    assert [record.epoch for record in result.history] == [1, 2]
    for record in result.history:
        for value in (record.loss, record.val_loss, record.test_loss, record.seconds):
            assert math.isfinite(value) and value >= 0
        assert 0 <= record.accuracy <= 1 and 0 <= record.test_accuracy <= 1
    assert result.test_accuracy == result.history[-1].test_accuracy
    # The synthetic classes are easy: two epochs must be far above chance (10%).
    assert result.test_accuracy > 0.8
    assert result.params == 113_386 and result.flops == 2_827_008
    assert result.model is not None and result.model.count_params() == 113_386
    assert set(result.to_dict()) >= {"history", "seconds_per_epoch", "split_hash", "threads"}
    assert "model" not in result.to_dict()


def test_same_seed_same_history_other_seed_other_history(splits) -> None:  # type: ignore[no-untyped-def]
    first = train_and_evaluate(SPEC, splits, seed=1)
    again = train_and_evaluate(SPEC, splits, seed=1)
    other = train_and_evaluate(SPEC, splits, seed=2)
    metrics = lambda r: [dataclasses.replace(h, seconds=0, eval_seconds=0) for h in r.history]  # noqa: E731
    assert metrics(first) == metrics(again)
    assert metrics(first) != metrics(other)
    assert first.data_order_hash == again.data_order_hash != other.data_order_hash


def test_on_epoch_receives_each_record(splits) -> None:  # type: ignore[no-untyped-def]
    seen: list[int] = []
    train_and_evaluate(SPEC, splits, seed=0, on_epoch=lambda record: seen.append(record.epoch))
    assert seen == [1, 2]


def test_a_diverging_run_fails_with_reason_nan_loss(splits) -> None:  # type: ignore[no-untyped-def]
    spec = dataclasses.replace(SPEC, train=TrainSpec(epochs=2, learning_rate=1e4))
    with pytest.raises(TrainingFailed) as failure:
        train_and_evaluate(spec, splits, seed=0)
    assert failure.value.reason == "nan_loss"
    assert failure.value.epoch == 1 and failure.value.batch is not None
    assert failure.value.to_dict()["status"] == "failed"


def test_divergence_means_nan_inf_or_exploded() -> None:
    assert is_diverged(float("nan")) and is_diverged(float("inf"))
    assert is_diverged(DIVERGED_LOSS * 10)
    assert not is_diverged(2.3) and not is_diverged(150.0)
