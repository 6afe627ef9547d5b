"""build_model: the Keras model matches its plan; the pooling factor swaps just what it should."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from cnnlab.spec.geometry import plan_layers
from cnnlab.spec.presets import geron, small
from cnnlab.training.model import build_model, layer_seed, summary_table


@pytest.mark.parametrize("pooling", ["max", "avg", "none", "strided"])
@pytest.mark.parametrize("arch", [small, geron], ids=["small", "geron"])
def test_keras_model_matches_the_plan(arch, pooling: str) -> None:  # type: ignore[no-untyped-def]
    arch = dataclasses.replace(arch, pooling=pooling)
    model = build_model(arch, seed=0)
    plan = plan_layers(arch)
    assert [layer.name for layer in model.layers] == [layer.name for layer in plan]
    for layer, planned in zip(model.layers, plan, strict=True):
        assert tuple(layer.output.shape[1:]) == planned.output_shape, layer.name
        assert layer.count_params() == planned.params, layer.name


def test_seed_layer_types_are_reproduced() -> None:
    types = [type(layer).__name__ for layer in build_model(geron).layers]
    assert types == [
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
        "Dropout",
        "Dense",
        "Dropout",
        "Dense",
    ]
    model = build_model(small)
    assert model.count_params() == 113_386
    assert model.layers[-1].activation.__name__ == "softmax"


def _weights(model: keras.Model) -> dict[str, list[np.ndarray]]:
    return {layer.name: [w.numpy() for w in layer.weights] for layer in model.layers}


def test_max_avg_swap_only_the_pooling_layers_and_start_from_identical_weights() -> None:
    max_model = build_model(small, seed=7)
    avg_model = build_model(dataclasses.replace(small, pooling="avg"), seed=7)
    pairs = list(zip(max_model.layers, avg_model.layers, strict=True))
    swapped = [(type(a).__name__, type(b).__name__) for a, b in pairs if type(a) is not type(b)]
    assert swapped == [("MaxPooling2D", "AveragePooling2D")] * 2
    assert max_model.count_params() == avg_model.count_params()
    max_weights, avg_weights = _weights(max_model), _weights(avg_model)
    for name, weights in max_weights.items():
        for w_max, w_avg in zip(weights, avg_weights[name], strict=True):
            np.testing.assert_array_equal(w_max, w_avg)


def test_layers_of_the_same_name_and_shape_share_initial_weights_across_arms() -> None:
    # A 7×7 first layer changes block1_conv1 only; the later layers of the seed start equal.
    wide = dataclasses.replace(
        small, blocks=(dataclasses.replace(small.blocks[0], kernel_size=7), small.blocks[1])
    )
    a, b = _weights(build_model(small, seed=3)), _weights(build_model(wide, seed=3))
    np.testing.assert_array_equal(a["block2_conv1"][0], b["block2_conv1"][0])
    assert a["block1_conv1"][0].shape != b["block1_conv1"][0].shape


def test_a_different_seed_gives_different_initial_weights() -> None:
    a, b = _weights(build_model(small, seed=1)), _weights(build_model(small, seed=2))
    assert not np.array_equal(a["block1_conv1"][0], b["block1_conv1"][0])
    assert layer_seed(1, "dense1") != layer_seed(2, "dense1")
    assert layer_seed(1, "dense1") == layer_seed(1, "dense1")


def test_mixed_precision_keeps_the_softmax_output_in_float32() -> None:
    model = build_model(small, precision="mixed_bfloat16")
    assert model.layers[0].dtype_policy.name == "mixed_bfloat16"
    assert model.layers[-1].dtype_policy.name == "float32"
    assert model(np.zeros((1, 28, 28, 1), np.float32)).dtype == "float32"


def test_summary_table_shows_layers_params_and_flops() -> None:
    text = summary_table(geron, build_model(geron, name="geron"))
    assert 'Model: "geron"' in text
    assert "block1_conv1 (Conv2D)" in text and "(None, 28, 28, 64)" in text
    assert "1,413,834" in text and "178,932,992" in text
