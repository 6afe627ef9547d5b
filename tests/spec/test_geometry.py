"""The layer plan: the seed models' shapes, parameters and FLOPs; what each pooling changes."""

from __future__ import annotations

import dataclasses

import pytest

from cnnlab.spec.geometry import count_params, forward_flops, plan_layers
from cnnlab.spec.presets import geron, small

# From the seeds' model.summary() (Keras tutorial CNN; Géron ch. 14, quoted in the second seed).
SMALL_SEED_SUMMARY = [
    ((26, 26, 32), 320),
    ((13, 13, 32), 0),
    ((11, 11, 32), 9_248),
    ((5, 5, 32), 0),
    ((800,), 0),
    ((128,), 102_528),
    ((10,), 1_290),
]
GERON_SEED_SUMMARY = [
    ((28, 28, 64), 3_200),
    ((14, 14, 64), 0),
    ((14, 14, 128), 73_856),
    ((14, 14, 128), 147_584),
    ((7, 7, 128), 0),
    ((7, 7, 256), 295_168),
    ((7, 7, 256), 590_080),
    ((3, 3, 256), 0),
    ((2304,), 0),
    ((128,), 295_040),
    ((128,), 0),
    ((64,), 8_256),
    ((64,), 0),
    ((10,), 650),
]


@pytest.mark.parametrize(
    ("arch", "seed_summary", "params", "flops"),
    [
        (small, SMALL_SEED_SUMMARY, 113_386, 2_827_008),
        (geron, GERON_SEED_SUMMARY, 1_413_834, 178_932_992),
    ],
)
def test_presets_reproduce_the_seed_models(arch, seed_summary, params, flops) -> None:  # type: ignore[no-untyped-def]
    plan = plan_layers(arch)
    assert [(layer.output_shape, layer.params) for layer in plan] == seed_summary
    assert count_params(arch) == params
    assert forward_flops(arch) == flops


def test_small_flops_by_hand() -> None:
    # 2 × MACs: conv1 26·26·32·9·1, conv2 11·11·32·9·32, dense 800·128, output 128·10.
    macs = 26 * 26 * 32 * 9 + 11 * 11 * 32 * 9 * 32 + 800 * 128 + 128 * 10
    assert forward_flops(small) == 2 * macs


def test_max_and_avg_have_the_same_plan_but_the_pooling_kind() -> None:
    max_plan = plan_layers(small)
    avg_plan = plan_layers(dataclasses.replace(small, pooling="avg"))
    assert [layer.name for layer in max_plan] == [layer.name for layer in avg_plan]
    differing = [a.name for a, b in zip(max_plan, avg_plan, strict=True) if a != b]
    assert differing == ["block1_pool", "block2_pool"]
    assert {b.kind for a, b in zip(max_plan, avg_plan, strict=True) if a != b} == {"avg_pool"}
    assert count_params(dataclasses.replace(small, pooling="avg")) == count_params(small)


def test_no_pooling_gives_small_21_times_the_parameters() -> None:
    # The seed documents: with valid padding, `none` pooling gives `small` 2,370,282 parameters.
    arch = dataclasses.replace(small, pooling="none")
    plan = plan_layers(arch)
    assert not any(layer.name.endswith("_pool") for layer in plan)
    assert plan[-3].output_shape == (24 * 24 * 32,)
    assert count_params(arch) == 2_370_282
    assert forward_flops(arch) > 5 * forward_flops(small)


def test_strided_replaces_pooling_with_a_stride_2_conv_of_the_same_geometry() -> None:
    arch = dataclasses.replace(small, pooling="strided")
    plan = {layer.name: layer for layer in plan_layers(arch)}
    reference = {layer.name: layer for layer in plan_layers(small)}
    assert plan.keys() == reference.keys()
    for name in ("block1_pool", "block2_pool"):
        assert plan[name].kind == "conv" and plan[name].strides == 2
        assert plan[name].output_shape == reference[name].output_shape
    # Each 2×2×32×32 downsampling conv adds 4,128 parameters.
    assert count_params(arch) == 113_386 + 2 * (2 * 2 * 32 * 32 + 32)


def test_gap_head_makes_the_dense_head_independent_of_the_map_size() -> None:
    arch = dataclasses.replace(small, head="gap")
    plan = plan_layers(arch)
    assert plan[4].name == "global_pool" and plan[4].output_shape == (32,)
    assert count_params(arch) == 113_386 - 102_528 + (32 * 128 + 128)
