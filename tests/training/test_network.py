"""Networks you bring: the function's errors at the user's line, what it returns checked, the
initial weights paired with the reference arm's, the cost counted from the built model, and
the spec's hashing and pickling."""

from __future__ import annotations

import importlib.util
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import keras
import numpy as np
import pytest

from cnnlab.errors import SpecError
from cnnlab.spec.design import Factor, Sweep, cells, config_hash
from cnnlab.spec.geometry import forward_flops
from cnnlab.spec.network import Network
from cnnlab.spec.presets import small
from cnnlab.spec.specs import TrainSpec, TrialSpec
from cnnlab.training.network import (
    NetworkError,
    build_paired,
    call_build,
    check_fits,
    network_cost,
)
from cnnlab.training.runtime import seed_everything

NETS = """
import keras


def build(hp):
    pool = keras.layers.MaxPooling2D if hp["pooling"] == "max" else keras.layers.AveragePooling2D
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Conv2D(32, 3, activation="relu")(inputs)
    x = pool(2)(x)
    x = keras.layers.Conv2D(32, 3, activation="relu")(x)
    x = pool(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(hp.get("units", 128), activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))


def broken(hp):
    width = hp["pooling"]
    return keras.layers.Dense(width)  # a string width: Keras raises here


def not_a_model(hp):
    return {"layers": 3}


def make():
    def inner(hp):
        return None

    return inner


def logits(hp):
    inputs = keras.Input(shape=(28, 28, 1))
    return keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))


def any_size(hp):
    inputs = keras.Input(shape=(None, None, 1))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3)(inputs))
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))


def initialised(hp):
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Conv2D(8, 3, kernel_initializer=hp["init"])(inputs)
    x = keras.layers.Dense(4)(x)  # on every position of the feature map
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
"""


def _module(folder: Path, text: str = NETS, name: str = "nets") -> ModuleType:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    spec = importlib.util.spec_from_file_location(f"test_nets_{abs(hash(path))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def nets(tmp_path: Path) -> ModuleType:
    return _module(tmp_path)


def test_the_function_must_be_importable_by_workers(nets: ModuleType) -> None:
    with pytest.raises(SpecError, match="is a lambda"):
        Network(build=lambda hp: None)
    with pytest.raises(SpecError, match=r"inside another function \(a closure\)"):
        Network(build=nets.make())
    with pytest.raises(SpecError, match="must be a function"):
        Network(build=keras.Sequential)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="must be a plain value"):
        Network(build=nets.build, hp={"pooling": ["max"]})


def test_factors_name_hyperparameters_and_a_misspelt_one_is_refused(nets: ModuleType) -> None:
    base = TrialSpec(arch=Network(build=nets.build, hp={"pooling": "max"}))
    sweep = Sweep(
        name="n",
        base=base,
        factors=(Factor(path="arch.hp.pooling", levels=("max", "avg")),),
        seeds=2,
    )
    made = cells(sweep)
    assert [c.spec.arch.hp.as_dict() for c in made[:2]] == [  # type: ignore[union-attr]
        {"pooling": "max"},
        {"pooling": "avg"},
    ]
    assert all(c.pair_with == base.arch for c in made)  # the first arm is every cell's reference
    with pytest.raises(SpecError, match=r"design='search' does not take a network you bring"):
        Sweep(name="n", base=base, factors=sweep.factors, design="search")
    with pytest.raises(SpecError, match=r"have no 'pool'.*Did you mean 'pooling'"):
        Sweep(name="n", base=base, factors=(Factor(path="arch.hp.pool", levels=("a", "b")),))


def test_the_source_is_the_definition_and_the_file_is_not(tmp_path: Path) -> None:
    first = _module(tmp_path, name="a")
    (tmp_path / "copy").mkdir()
    same = _module(tmp_path / "copy", name="a")
    edited = _module(tmp_path, NETS.replace('hp.get("units", 128)', 'hp.get("units", 64)'), "b")

    def sweep(module: ModuleType) -> Sweep:
        base = TrialSpec(arch=Network(build=module.build, hp={"pooling": "max"}))
        return Sweep(
            name="n", base=base, factors=(Factor(path="arch.hp.pooling", levels=("max", "avg")),)
        )

    assert config_hash(sweep(first)) == config_hash(sweep(same))
    assert config_hash(sweep(first)) != config_hash(sweep(edited))


def test_an_error_in_the_function_is_reported_at_the_users_line(nets: ModuleType) -> None:
    with pytest.raises(NetworkError) as caught:
        call_build(Network(build=nets.broken, hp={"pooling": "max"}))
    message = str(caught.value)
    assert "nets.py, line 19: return keras.layers.Dense(width)" in message, message
    assert "raised" in message and "Traceback" not in message


def test_what_the_function_returns_is_checked(nets: ModuleType) -> None:
    with pytest.raises(NetworkError, match=r"returned dict .* not a keras\.Model"):
        call_build(Network(build=nets.not_a_model))
    network = Network(build=nets.build, hp={"pooling": "max"})
    model = call_build(network)
    check_fits(network, model, (28, 28, 1), 10)
    with pytest.raises(NetworkError, match=r"dataset has 3 classes: end it with keras\.layers"):
        check_fits(network, model, (28, 28, 1), 3)
    with pytest.raises(NetworkError, match=r"takes inputs of shape \(28, 28, 1\).*\(32, 32, 3\)"):
        check_fits(network, model, (32, 32, 3), 10)


def test_a_model_must_give_probabilities_and_may_take_any_image_size(nets: ModuleType) -> None:
    logits = Network(build=nets.logits)
    with pytest.raises(NetworkError, match=r"not probabilities .*activation='softmax'"):
        check_fits(logits, call_build(logits), (28, 28, 1), 10)
    any_size = Network(build=nets.any_size)
    model = call_build(any_size)
    check_fits(any_size, model, (28, 28, 1), 10)
    check_fits(any_size, model, (8, 8, 1), 10)
    with pytest.raises(NetworkError, match=r"takes inputs of shape \(None, None, 1\)"):
        check_fits(any_size, model, (32, 32, 3), 10)


def test_an_initializer_that_is_a_factor_is_not_paired_away(nets: ModuleType) -> None:
    reference = Network(build=nets.initialised, hp={"init": "glorot_uniform"})
    other = Network(build=nets.initialised, hp={"init": "he_normal"})
    ref_model, _ = build_paired(reference, None, 5, "float32", seed_everything)
    ref = {v.path: v.numpy().copy() for v in ref_model.trainable_variables}
    model, pairing = build_paired(other, reference, 5, "float32", seed_everything)
    mine = {v.path: v.numpy() for v in model.trainable_variables}
    kernel = next(p for p in mine if p.endswith("kernel") and mine[p].ndim == 4)
    assert not np.array_equal(mine[kernel], ref[kernel])  # he_normal's own start, kept
    conv = 3 * 3 * 8 + 8  # the whole layer whose initializers differ: kernel and bias
    assert pairing.total == model.count_params() and pairing.paired == pairing.total - conv
    same, _ = build_paired(reference, reference, 5, "float32", seed_everything)
    for variable in same.trainable_variables:
        np.testing.assert_array_equal(variable.numpy(), ref[variable.path])


def test_a_dense_layer_on_a_feature_map_counts_every_position(nets: ModuleType) -> None:
    cost = network_cost(call_build(Network(build=nets.initialised, hp={"init": "he_normal"})))
    conv = 2 * 26 * 26 * 3 * 3 * 1 * 8
    dense_per_position = 2 * 26 * 26 * 8 * 4
    head = 2 * 26 * 26 * 4 * 10
    assert cost.flops == conv + dense_per_position + head and not cost.uncounted


def test_arms_that_differ_in_pooling_start_from_the_same_weights(nets: ModuleType) -> None:
    reference = Network(build=nets.build, hp={"pooling": "max"})
    other = Network(build=nets.build, hp={"pooling": "avg"})
    ref_model, ref_pairing = build_paired(reference, None, 7, "float32", seed_everything)
    ref_weights = [w.copy() for w in ref_model.get_weights()]
    model, pairing = build_paired(other, reference, 7, "float32", seed_everything)
    assert pairing.share == 1.0 and ref_pairing.share == 1.0
    for mine, theirs in zip(model.get_weights(), ref_weights, strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_only_variables_of_the_same_path_and_shape_are_paired(nets: ModuleType) -> None:
    reference = Network(build=nets.build, hp={"pooling": "max", "units": 128})
    wider = Network(build=nets.build, hp={"pooling": "max", "units": 64})
    ref_model, _ = build_paired(reference, None, 3, "float32", seed_everything)
    ref = {v.path: v.numpy().copy() for v in ref_model.variables}
    model, pairing = build_paired(wider, reference, 3, "float32", seed_everything)
    # The convolutions match; the 64-unit dense layer and the output layer's kernel do not.
    conv = 3 * 3 * 32 + 32 + 3 * 3 * 32 * 32 + 32
    assert pairing.paired == conv + 10  # the output bias (10) has the same shape in both
    assert pairing.total == model.count_params() and 0 < pairing.share < 1
    for variable in model.variables:
        same = variable.path in ref and ref[variable.path].shape == tuple(variable.shape)
        assert np.array_equal(variable.numpy(), ref[variable.path]) == same


def test_the_cost_counts_conv_dense_and_pooling(nets: ModuleType) -> None:
    model = call_build(Network(build=nets.build, hp={"pooling": "max"}))
    cost = network_cost(model)
    assert cost.params == 113_386 and not cost.uncounted  # `small`'s own count
    pooling = 26 * 26 * 32 + 11 * 11 * 32  # one op per pooled input element
    assert cost.flops == forward_flops(small) + pooling


def test_a_network_pickles_by_its_file_for_a_spawned_worker(nets: ModuleType) -> None:
    network = Network(build=nets.build, hp={"pooling": "avg"})
    code = (
        "import pickle, sys; n = pickle.loads(sys.stdin.buffer.read()); "
        "print(n.function.split(':')[1], n.hp.as_dict(), n.source_sha256)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=pickle.dumps(network), capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().split() == ["build", "{'pooling':", "'avg'}", network.source_sha256]


def test_a_trial_of_your_network_trains_and_records_its_pairing(nets: ModuleType) -> None:
    from cnnlab.data import make_splits, synthetic_dataset
    from cnnlab.training.train import train_and_evaluate

    reference = Network(build=nets.build, hp={"pooling": "max"})
    spec = TrialSpec(
        arch=Network(build=nets.build, hp={"pooling": "avg"}),
        train=TrainSpec(epochs=1, batch_size=64),
    )
    splits = make_splits(synthetic_dataset(n_train=300, n_test=50), 0, validation_size=50)
    result = train_and_evaluate(spec, splits, 0, pair_with=reference)
    assert result.init_paired == 1.0 and result.params == 113_386
    assert "init_paired" in result.to_dict()
