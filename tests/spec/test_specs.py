"""Spec validation: every invalid value fails at construction and the message names the field."""

from __future__ import annotations

import dataclasses

import pytest

from cnnlab.errors import SpecError
from cnnlab.spec.design import Factor, Sweep, config_hash
from cnnlab.spec.presets import geron, get_preset, small
from cnnlab.spec.specs import (
    ArchSpec,
    Augmentation,
    ConvBlock,
    DataSpec,
    TrainSpec,
    TrialSpec,
    definition_params,
    flat_params,
)


@pytest.mark.parametrize(
    ("changes", "field", "value_text"),
    [
        ({"pooling": "mean"}, "arch.pooling", "'mean'"),
        ({"padding": "full"}, "arch.padding", "'full'"),
        ({"head": "attention"}, "arch.head", "'attention'"),
        ({"dropout": 1.0}, "arch.dropout", "1.0"),
        ({"dropout": -0.1}, "arch.dropout", "-0.1"),
        ({"pool_size": 1}, "arch.pool_size", "1"),
        ({"dense_units": (0,)}, "arch.dense_units.0", "0"),
        ({"num_classes": 1}, "arch.num_classes", "1"),
    ],
)
def test_invalid_arch_field_is_named_with_value_and_allowed(
    changes: dict[str, object], field: str, value_text: str
) -> None:
    with pytest.raises(SpecError) as info:
        dataclasses.replace(small, **changes)
    assert info.value.field == field
    assert f"`{field}`" in str(info.value)
    assert value_text in str(info.value)


def test_choice_error_lists_the_allowed_values() -> None:
    with pytest.raises(SpecError, match=r"\['max', 'avg', 'none', 'strided'\], but 'mean'"):
        dataclasses.replace(small, pooling="mean")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"filters": 0}, "ConvBlock.filters"),
        ({"filters": True}, "ConvBlock.filters"),
        ({"filters": 32.0}, "ConvBlock.filters"),
        ({"filters": 32, "kernel_size": 0}, "ConvBlock.kernel_size"),
        ({"filters": 32, "convs": 0}, "ConvBlock.convs"),
    ],
)
def test_invalid_conv_block(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(SpecError) as info:
        ConvBlock(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"epochs": 0}, "train.epochs"),
        ({"batch_size": 0}, "train.batch_size"),
        ({"optimizer": "adagrad"}, "train.optimizer"),
        ({"learning_rate": 0.0}, "train.learning_rate"),
        ({"learning_rate": float("nan")}, "train.learning_rate"),
        ({"precision": "float16"}, "train.precision"),
    ],
)
def test_invalid_train_spec(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(SpecError) as info:
        TrainSpec(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert f"`{field}`" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"dataset": "cifar10"}, "data.dataset"),
        ({"validation_size": 0}, "data.validation_size"),
        ({"train_subset": 0}, "data.train_subset"),
    ],
)
def test_invalid_data_spec(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(SpecError) as info:
        DataSpec(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_seven_by_seven_kernel_after_three_poolings_names_the_layer() -> None:
    # 28 → 14 → 7 → 3 after three poolings: a 7×7 kernel in block 4 cannot fit.
    with pytest.raises(SpecError) as info:
        ArchSpec(
            blocks=(
                ConvBlock(filters=16),
                ConvBlock(filters=16),
                ConvBlock(filters=16),
                ConvBlock(filters=16, kernel_size=7),
            ),
            padding="same",
        )
    message = str(info.value)
    assert info.value.field == "arch.blocks.3.kernel_size"
    assert "`block4_conv1`" in message
    assert "7×7 kernel" in message and "3×3 feature map" in message
    assert "after 3 downsampling steps" in message


def test_pooling_a_map_smaller_than_the_window_names_the_layer() -> None:
    # 1×1 convs and 2×2 pooling: 28→14→7→3→1, then block 5 pools a 1×1 map.
    blocks = tuple(ConvBlock(filters=8, kernel_size=1) for _ in range(5))
    with pytest.raises(SpecError) as info:
        ArchSpec(blocks=blocks, padding="valid")
    assert info.value.field == "arch.pool_size"
    assert "`block5_pool`" in str(info.value)
    assert "1×1 feature map" in str(info.value)


def test_geometry_that_fits_is_accepted() -> None:
    arch = dataclasses.replace(
        small, blocks=(ConvBlock(filters=32, kernel_size=7), small.blocks[1])
    )
    assert arch.blocks[0].kernel_size == 7


def test_empty_blocks_and_wrong_types_are_refused() -> None:
    with pytest.raises(SpecError, match="at least one ConvBlock"):
        ArchSpec(blocks=())
    with pytest.raises(SpecError) as info:
        ArchSpec(blocks=({"filters": 8},))  # type: ignore[arg-type]
    assert info.value.field == "arch.blocks.0"
    with pytest.raises(SpecError) as info:
        TrialSpec(arch=small, train=DataSpec())  # type: ignore[arg-type]
    assert info.value.field == "train"


def test_specs_are_frozen_hashable_and_lists_become_tuples() -> None:
    arch = ArchSpec(blocks=[ConvBlock(filters=8)], dense_units=[16])  # type: ignore[arg-type]
    assert arch.blocks == (ConvBlock(filters=8),) and arch.dense_units == (16,)
    assert hash(arch) == hash(ArchSpec(blocks=(ConvBlock(filters=8),), dense_units=(16,)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        arch.pooling = "avg"  # type: ignore[misc]


def test_presets_train_with_the_seed_defaults() -> None:
    train = TrainSpec()
    assert (train.optimizer, train.learning_rate, train.batch_size) == ("adam", 1e-3, 32)
    assert get_preset("geron") is geron
    with pytest.raises(SpecError, match=r"\['geron', 'small'\]"):
        get_preset("lenet")


def test_flat_params_use_dotted_names() -> None:
    params = flat_params(TrialSpec(arch=geron))
    assert params["arch.pooling"] == "max"
    assert params["arch.blocks.0.kernel_size"] == 7
    assert params["arch.blocks.2.convs"] == 2
    assert params["arch.dense_units.1"] == 64
    assert params["train.batch_size"] == 32
    assert params["data.dataset"] == "mnist"
    assert params["data.train_subset"] is None


@pytest.mark.parametrize(
    ("kwargs", "field", "text"),
    [
        ({"shift": 5}, "train.augmentation.shift", "between 0 and 4 pixels, but 5"),
        ({"shift": -1}, "train.augmentation.shift", "never negative"),
        ({"shift": 1.5}, "train.augmentation.shift", "whole number of pixels, but 1.5"),
        ({"shift": True}, "train.augmentation.shift", "whole number"),
        ({"rotation": 25.0}, "train.augmentation.rotation", "between 0 and 20 degrees, but 25"),
        ({"rotation": -5.0}, "train.augmentation.rotation", "never negative"),
        ({"rotation": float("inf")}, "train.augmentation.rotation", "finite number"),
    ],
)
def test_invalid_augmentation_is_named_with_value_and_bound(
    kwargs: dict[str, object], field: str, text: str
) -> None:
    with pytest.raises(SpecError, match=text) as info:
        Augmentation(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert f"`{field}`" in str(info.value)


def test_augmentation_is_off_by_default_offers_no_flips_and_sits_in_the_train_spec() -> None:
    assert TrainSpec().augmentation == Augmentation() and not Augmentation().active
    assert {f.name for f in dataclasses.fields(Augmentation)} == {"shift", "rotation"}
    assert Augmentation(shift=4, rotation=20).active and Augmentation(rotation=0.5).active
    assert Augmentation(rotation=10) == Augmentation(rotation=10.0)
    assert isinstance(Augmentation(rotation=10).rotation, float)  # one spelling for hashing
    with pytest.raises(SpecError, match="must be an Augmentation") as info:
        TrainSpec(augmentation="shift_rotate")  # type: ignore[arg-type]
    assert info.value.field == "train.augmentation"
    params = flat_params(TrialSpec(arch=small, train=TrainSpec(augmentation=Augmentation(shift=2))))
    assert (params["train.augmentation.shift"], params["train.augmentation.rotation"]) == (2, 0.0)


def test_a_field_added_later_leaves_existing_definition_hashes_alone() -> None:
    # A study stores its sweep's definition hash and refuses to resume when it changes, so a
    # new spec field at its default must hash as if it did not exist
    # (tests/spec/test_design_hashes.py pins the shipped sweeps' hashes).
    plain = TrialSpec(arch=small, train=TrainSpec(epochs=3, batch_size=128))
    augmented = dataclasses.replace(
        plain, train=dataclasses.replace(plain.train, augmentation=Augmentation(shift=1))
    )
    added = ("train.augmentation.", "arch.blocks.0.dilation", "arch.blocks.1.dilation")
    assert definition_params(plain) == {
        k: v for k, v in flat_params(plain).items() if not k.startswith(added)
    }
    assert definition_params(augmented) == {
        k: v for k, v in flat_params(augmented).items() if not k.endswith(".dilation")
    }
    sweep = Sweep(
        name="t", base=plain, factors=(Factor(path="arch.pooling", levels=("max", "avg")),)
    )
    assert config_hash(dataclasses.replace(sweep, base=augmented)) != config_hash(sweep)
