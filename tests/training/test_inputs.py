"""The model's inputs: batches drawn from the uint8 tensor are the arrays `as_inputs` makes,
bit for bit, and training on them changes no weight's last bit against training on NumPy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cnnlab.data import epoch_order, make_splits, synthetic_dataset
from cnnlab.spec.presets import small
from cnnlab.spec.specs import TrainSpec, TrialSpec
from cnnlab.training.inputs import TrainingImages, as_inputs
from cnnlab.training.train import STEPS_PER_EXECUTION, compiled_model


def test_batches_are_the_scaled_images_in_order_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(1_000, 28, 28), dtype=np.uint8)
    images[:256] = np.arange(256, dtype=np.uint8)[:, None, None]  # every pixel value
    labels = rng.integers(0, 10, size=1_000).astype(np.uint8)
    order = epoch_order(3, 1, len(labels))
    batches = list(TrainingImages(images, labels).epoch(order, 128).as_numpy_iterator())
    assert [len(y) for _, y in batches] == [128] * 7 + [104]  # the last batch shorter
    drawn = np.concatenate([x for x, _ in batches])
    expected = as_inputs(images[order])
    assert drawn.dtype == np.float32 and drawn.shape == expected.shape == (1_000, 28, 28, 1)
    # Bit for bit, not approximately: x * (1 / 255) differs from x / 255 in the last bit for
    # some values, and that would change every trained weight.
    assert drawn.tobytes() == expected.tobytes()
    assert np.concatenate([y for _, y in batches]).tolist() == labels[order].tolist()
    assert batches[0][1].dtype == np.int32


@pytest.mark.parametrize("batch_size", [32, 100])
def test_training_on_drawn_batches_matches_training_on_numpy(batch_size: int) -> None:
    splits = make_splits(synthetic_dataset(480, 64, seed=1), seed=2, validation_size=64)
    spec = TrialSpec(arch=small, train=TrainSpec(epochs=1, batch_size=batch_size))
    order = epoch_order(2, 0, len(splits.y_train))
    y = splits.y_train.astype(np.int32)

    numpy_model = compiled_model(spec, seed=2)
    numpy_model.fit(
        as_inputs(splits.x_train)[order],
        y[order],
        batch_size=batch_size,
        shuffle=False,
        epochs=1,
        verbose=0,
    )
    numpy_weights = [w.numpy().tobytes() for w in numpy_model.weights]

    drawn_model = compiled_model(spec, seed=2)
    images = TrainingImages(splits.x_train, splits.y_train)
    drawn_model.fit(images.epoch(order, batch_size), epochs=1, verbose=0)
    drawn_weights = [w.numpy().tobytes() for w in drawn_model.weights]
    assert drawn_weights == numpy_weights


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_several_steps_per_call_train_the_same_weights_as_one_step_per_call(
    dropout: float,
) -> None:
    """`STEPS_PER_EXECUTION` only changes how often Python calls into TensorFlow; a change
    that altered the arithmetic (a fused or reordered update, or dropout masks drawn from a
    differently advanced seed stream) would fail this."""
    splits = make_splits(synthetic_dataset(600, 64, seed=4), seed=1, validation_size=64)
    arch = dataclasses.replace(small, dropout=dropout)
    spec = TrialSpec(arch=arch, train=TrainSpec(epochs=1, batch_size=32))
    images = TrainingImages(splits.x_train, splits.y_train)
    order = epoch_order(1, 0, len(splits.y_train))  # 536 images: the last call is partial

    weights = {}
    for steps in (1, STEPS_PER_EXECUTION):
        model = compiled_model(spec, seed=1)
        assert model.steps_per_execution == STEPS_PER_EXECUTION
        model.compile(
            optimizer=model.optimizer,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            steps_per_execution=steps,
        )
        fit = model.fit(images.epoch(order, 32), epochs=1, verbose=0)
        weights[steps] = ([w.numpy().tobytes() for w in model.weights], fit.history["loss"])
    assert STEPS_PER_EXECUTION > 1
    assert weights[1] == weights[STEPS_PER_EXECUTION]
