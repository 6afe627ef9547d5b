"""Shifted and rotated test images, and the probe on a small trained model."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.data import make_splits, synthetic_dataset
from cnnlab.spec.presets import small
from cnnlab.spec.specs import TrainSpec, TrialSpec
from cnnlab.training.probes import rotate_images, shift_and_rotation_accuracy, shift_images
from cnnlab.training.train import train_and_evaluate


def test_shift_is_zero_filled_and_never_wraps() -> None:
    image = np.arange(1, 17, dtype=np.uint8).reshape(1, 4, 4)
    right = shift_images(image, 0, 1)[0]
    assert list(right[0]) == [0, 1, 2, 3]  # the 4 that fell off the edge is gone
    up = shift_images(image, -2, 0)[0]
    assert up[:2].tolist() == image[0, 2:].tolist() and not up[2:].any()
    np.testing.assert_array_equal(shift_images(image, 0, 0), image)
    assert not shift_images(image, 4, 0).any()  # shifted out entirely


def test_rotation_keeps_shape_and_mass_roughly() -> None:
    images = synthetic_dataset(4, 2, seed=0).x_train
    rotated = rotate_images(images, 10)
    assert rotated.shape == images.shape and rotated.dtype == np.uint8
    assert rotated.sum() == pytest.approx(images.sum(), rel=0.1)
    np.testing.assert_array_equal(rotate_images(images, 0), images)


def test_probe_reports_accuracy_and_drops() -> None:
    splits = make_splits(synthetic_dataset(640, 200, seed=0), seed=0, validation_size=128)
    result = train_and_evaluate(
        TrialSpec(arch=small, train=TrainSpec(epochs=2, batch_size=32)), splits, seed=0
    )
    probe = shift_and_rotation_accuracy(result.model, splits.x_test, splits.y_test)
    assert probe["unshifted_accuracy"] == pytest.approx(result.test_accuracy, abs=1e-6)
    for k in (1, 2, 3):
        assert probe[f"shift{k}_drop"] == pytest.approx(
            probe["unshifted_accuracy"] - probe[f"shift{k}_accuracy"]
        )
    # The synthetic classes are bars at class-specific rows: moving them 3 rows up or down
    # turns one class into another, so the vertical shifts must hurt.
    assert probe["shift3_drop"] > 0.1
    assert {"rotm10_drop", "rotp5_accuracy"} <= probe.keys()


def test_other_image_sizes_scale_the_shifts_and_name_them_in_pixels() -> None:
    from cnnlab.spec.metrics import SHIFTS, probe_shifts, shift_metrics

    assert probe_shifts(28) == SHIFTS == (1, 2, 3)  # MNIST's, unchanged
    assert probe_shifts(32) == (1, 2, 3)
    assert probe_shifts(8) == (1,)  # 0.29, 0.57, 0.86 pixels: at least one, once
    assert probe_shifts(64) == (2, 5, 7)
    assert shift_metrics(64) == (
        "shift2_accuracy",
        "shift2_drop",
        "shift5_accuracy",
        "shift5_drop",
        "shift7_accuracy",
        "shift7_drop",
    )


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_colour_images_are_shifted_and_rotated_per_channel(dtype: type) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(3, 8, 8, 3)).astype(dtype)
    moved = shift_images(images, 1, 0)
    np.testing.assert_array_equal(moved[:, 1:], images[:, :-1])
    assert not moved[:, 0].any()
    rotated = rotate_images(images, 10)
    assert rotated.shape == images.shape and rotated.dtype == images.dtype
    for channel in range(3):  # each channel rotated on its own, as a grayscale image would be
        alone = rotate_images(images[..., channel], 10)
        np.testing.assert_allclose(rotated[..., channel], alone, atol=1e-5)


def test_the_probe_runs_on_colour_images_of_another_size() -> None:
    import keras

    rng = np.random.default_rng(1)
    images = rng.integers(0, 255, size=(40, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(40) % 10
    inputs = keras.Input(shape=(32, 32, 3))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    from cnnlab.spec.metrics import probe_shifts

    probe = shift_and_rotation_accuracy(model, images, labels, shifts=probe_shifts(32))
    assert {"shift1_drop", "shift3_drop", "rotm10_drop"} <= set(probe)
    assert all(0.0 <= probe[f"shift{k}_accuracy"] <= 1.0 for k in (1, 2, 3))
