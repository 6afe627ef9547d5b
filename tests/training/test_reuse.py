"""Kept compiled models (cnnlab.training.reuse) train bit for bit what fresh models train.

A sweep's process trains arm after arm and seed after seed; with kept models every trial after
the first of its network starts from a reset model instead of a new one. Each test trains the
same sequence both ways and compares every weight's bytes and every epoch's metrics.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cnnlab.data import make_splits, synthetic_dataset
from cnnlab.spec.presets import small
from cnnlab.spec.specs import TrainSpec, TrialSpec
from cnnlab.training.result import TrainingResult
from cnnlab.training.reuse import CompiledModels
from cnnlab.training.train import compiled_model, train_and_evaluate

# Dropout 0.5 so that a seed-generator state left over from the previous trial would show.
_MAX = TrialSpec(
    arch=dataclasses.replace(small, dropout=0.5), train=TrainSpec(epochs=2, batch_size=32)
)
_AVG = dataclasses.replace(_MAX, arch=dataclasses.replace(_MAX.arch, pooling="avg"))


@pytest.fixture(scope="module")
def dataset():  # type: ignore[no-untyped-def]
    return synthetic_dataset(420, 64, seed=3)


def _train(dataset, spec: TrialSpec, seed: int, models: CompiledModels | None) -> TrainingResult:  # type: ignore[no-untyped-def]
    splits = make_splits(dataset, seed, validation_size=64)
    return train_and_evaluate(spec, splits, seed, models=models)


def _fingerprint(result: TrainingResult) -> tuple[list[bytes], list[object]]:
    weights = [np.asarray(w.numpy()).tobytes() for w in result.model.weights]
    epochs = [dataclasses.replace(e, seconds=0.0, eval_seconds=0.0) for e in result.history]
    return weights, [*epochs, result.init_hash, result.test_correct]


def test_a_kept_model_trains_the_same_bits_as_a_fresh_one(dataset) -> None:  # type: ignore[no-untyped-def]
    sequence = [(_MAX, 1), (_AVG, 1), (_MAX, 2), (_AVG, 2), (_MAX, 1)]
    models = CompiledModels()
    for spec, seed in sequence:
        kept = _fingerprint(_train(dataset, spec, seed, models))
        fresh = _fingerprint(_train(dataset, spec, seed, None))
        assert kept == fresh, f"{spec.arch.pooling} seed {seed}"
    assert len(models) == 2 and models.reused == 3  # every trial after each network's first


def test_a_trial_stopped_mid_training_leaves_nothing_for_the_next(dataset) -> None:  # type: ignore[no-untyped-def]
    """Pruning (or a failure) stops a trial with its weights and optimizer half-trained."""
    models = CompiledModels()

    def stop(record: object) -> None:
        raise RuntimeError("pruned")

    splits = make_splits(dataset, 5, validation_size=64)
    with pytest.raises(RuntimeError, match="pruned"):
        train_and_evaluate(_MAX, splits, 5, on_epoch=stop, models=models)
    kept = _fingerprint(_train(dataset, _MAX, 6, models))
    assert models.reused == 1
    assert kept == _fingerprint(_train(dataset, _MAX, 6, None))


def test_a_changed_learning_rate_is_another_network_and_the_oldest_is_dropped() -> None:
    models = CompiledModels(most=1)
    faster = dataclasses.replace(_MAX, train=dataclasses.replace(_MAX.train, learning_rate=0.01))
    first = compiled_model(_MAX, 0, models)
    assert compiled_model(_MAX, 1, models) is first
    assert compiled_model(faster, 0, models) is not first  # lr is in the traced graph
    assert len(models) == 1 and compiled_model(_MAX, 0, models) is not first
