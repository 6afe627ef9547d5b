"""Sweep declarations: validation, design enumeration, pairing structure and definition hashes."""

from __future__ import annotations

import dataclasses

import pytest

from cnnlab.errors import SpecError
from cnnlab.spec.design import (
    METRICS,
    Background,
    Claim,
    Factor,
    Sweep,
    background_values,
    cells,
    claims_hash,
    config_hash,
    get_path,
    replace_path,
)
from cnnlab.spec.loading import load_sweep
from cnnlab.spec.presets import small
from cnnlab.spec.specs import TrainSpec, TrialSpec

BASE = TrialSpec(arch=small, train=TrainSpec(epochs=1))
POOLING = Factor(path="arch.pooling", levels=("max", "avg", "none"))
KERNEL = Factor(path="arch.blocks.0.kernel_size", levels=(3, 7), labels=("k3", "k7"))


def _sweep(**changes: object) -> Sweep:
    fields: dict[str, object] = {"name": "t", "base": BASE, "factors": (POOLING,), "seeds": 4}
    fields.update(changes)
    return Sweep(**fields)  # type: ignore[arg-type]


def test_ablation_design_is_arms_times_seeds_replicate_by_replicate() -> None:
    design = cells(_sweep())
    assert len(design) == 3 * 4
    assert [c.arm for c in design[:3]] == ["max", "avg", "none"]
    assert [c.seed for c in design[:3]] == [0, 0, 0]
    assert design[5].run_name == "t/none/seed=01"
    assert {c.spec.arch.pooling for c in design} == {"max", "avg", "none"}
    assert len({c.key for c in design}) == len(design)


def test_factorial_design_is_the_full_grid() -> None:
    design = cells(_sweep(design="factorial", factors=(POOLING, KERNEL), seeds=2))
    assert len(design) == 3 * 2 * 2
    assert design[1].arm == "max+k7" and design[1].spec.arch.blocks[0].kernel_size == 7
    assert design[1].labels == {"arch.pooling": "max", "arch.blocks.0.kernel_size": "k7"}


def test_randomized_backgrounds_are_shared_within_a_replicate() -> None:
    sweep = _sweep(
        design="randomized",
        backgrounds=(
            Background(path="arch.dropout", choices=(0.0, 0.25, 0.5)),
            Background(path="arch.blocks.1.filters", choices=(16, 32, 64)),
        ),
        n_backgrounds=3,
        seeds=2,
    )
    design = cells(sweep)
    assert len(design) == 3 * 2 * 3  # arms × seeds × backgrounds
    for seed in (0, 1):
        for bg in range(3):
            replicate = [c for c in design if c.seed == seed and c.background == bg]
            assert len(replicate) == 3
            drawn = {(c.spec.arch.dropout, c.spec.arch.blocks[1].filters) for c in replicate}
            assert len(drawn) == 1  # every arm of the replicate has the same background
            assert drawn == {tuple(background_values(sweep, seed, bg).values())}


def test_every_replicate_draws_its_own_background() -> None:
    # A randomized design draws its backgrounds at random per replicate: a later seed must not
    # repeat seed 0's architectures, as it did when the draw depended on the draw index alone.
    choices = (16, 24, 32, 40, 48, 56, 64, 72)
    sweep = _sweep(
        design="randomized",
        backgrounds=(Background(path="arch.blocks.1.filters", choices=choices),),
        n_backgrounds=2,
        seeds=20,
    )
    draws = {}
    for cell in cells(sweep):
        draws.setdefault((cell.seed, cell.background), cell.spec.arch.blocks[1].filters)
    by_seed = [(draws[(seed, 0)], draws[(seed, 1)]) for seed in range(20)]
    assert len(set(by_seed)) > 10  # 40 draws of 8 choices: the same pair 20 times is no chance
    assert len(set(draws.values())) == len(choices)
    again = {(c.seed, c.background): c.spec.arch.blocks[1].filters for c in cells(sweep)}
    assert again == draws  # fixed by name, seed and draw: every worker draws the same


def test_definition_hash_ignores_seeds_and_claims_but_not_the_spec() -> None:
    sweep = _sweep()
    assert config_hash(sweep) == config_hash(dataclasses.replace(sweep, seeds=20))
    claim = Claim(statement="max beats avg", better="max", worse="avg")
    with_claim = dataclasses.replace(sweep, claims=(claim,))
    assert config_hash(sweep) == config_hash(with_claim)
    assert claims_hash(sweep) != claims_hash(with_claim)
    longer = dataclasses.replace(sweep, base=TrialSpec(arch=small, train=TrainSpec(epochs=2)))
    assert config_hash(sweep) != config_hash(longer)
    other_levels = dataclasses.replace(
        sweep, factors=(Factor(path="arch.pooling", levels=("max", "avg")),)
    )
    assert config_hash(sweep) != config_hash(other_levels)


def test_claims_hash_is_the_same_whether_the_direction_is_spelled_out_or_not() -> None:
    spelled = _sweep(
        claims=(
            Claim(statement="max beats avg", better="max", worse="avg", higher_is_better=True),
            Claim(
                statement="avg loses less",
                metric="test_loss",
                better="avg",
                worse="none",
                higher_is_better=False,
            ),
        ),
        seeds=3,
        name="p",
    )
    implied = _sweep(
        claims=(
            Claim(statement="max beats avg", better="max", worse="avg"),
            Claim(statement="avg loses less", metric="test_loss", better="avg", worse="none"),
        ),
        seeds=3,
        name="p",
    )
    assert claims_hash(implied) == claims_hash(spelled)
    # The value hashed before the direction followed the metric: studies started then match.
    assert claims_hash(spelled) == "9cc38eb28be3a491"


@pytest.mark.parametrize(
    ("metric", "higher"),
    [
        ("test_accuracy", True),
        ("val_accuracy", True),
        ("shift2_accuracy", True),
        ("test_loss", False),
        ("val_loss", False),
        ("shift2_drop", False),
        ("rotm10_drop", False),
        ("params", False),
        ("flops", False),
        ("seconds_per_epoch", False),
    ],
)
def test_the_direction_of_a_claim_follows_its_metric(metric: str, higher: bool) -> None:
    claim = Claim(statement="s", metric=metric, better="a", worse="b")
    assert claim.higher_is_better is higher
    explicit = Claim(statement="s", metric=metric, better="a", worse="b", higher_is_better=higher)
    assert explicit == claim
    flipped = Claim(
        statement="s", metric=metric, better="a", worse="b", higher_is_better=not higher
    )
    assert flipped.higher_is_better is (not higher)  # an explicit value is kept


def test_every_metric_has_a_direction() -> None:
    for metric in METRICS:
        direction = Claim(statement="s", metric=metric, better="a", worse="b").higher_is_better
        assert direction is ("accuracy" in metric), metric
    with pytest.raises(SpecError, match="must be True, False or left out"):
        Claim(statement="s", better="a", worse="b", higher_is_better="yes")  # type: ignore[arg-type]


def test_a_claim_on_a_probe_metric_needs_the_probe() -> None:
    claim = Claim(
        statement="max loses less when shifted", metric="shift2_drop", better="max", worse="avg"
    )
    with pytest.raises(SpecError) as error:
        _sweep(name="shifty", claims=(claim,))
    assert error.value.field == "claims.0"
    message = str(error.value)
    assert "Sweep 'shifty'" in message and "'max loses less when shifted'" in message
    assert "'shift2_drop'" in message and "Add probes=('translation',)" in message
    assert _sweep(claims=(claim,), probes=("translation",)).claims == (claim,)


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"factors": (Factor(path="arch.poolin", levels=("max",)),)}, "factors", "arch.poolin"),
        ({"factors": (Factor(path="arch.pooling", levels=("mean",)),)}, "factors", "'mean'"),
        ({"factors": (POOLING, KERNEL)}, "factors", "factorial"),
        ({"design": "grid"}, "design", "'grid'"),
        ({"seeds": 0}, "seeds", "seeds"),
        ({"name": "has space"}, "name", "has space"),
        (
            {"claims": (Claim(statement="x", better="max", worse="mean"),)},
            "claims.0",
            "arms are",
        ),
        ({"baseline_band": (0.99, 0.98)}, "baseline_band['mnist']", "low < high"),
        ({"baseline_band": {"fashion": (0.8, 0.9)}}, "baseline_band['fashion']", "fashion_mnist"),
        ({"baseline_band": {"mnist": (0.98,)}}, "baseline_band['mnist']", "(low, high)"),
        (
            {
                "design": "factorial",
                "factors": (POOLING, Factor(path="arch.pooling", levels=("max",))),
            },
            "factors",
            "overlap",
        ),
        (
            {
                "design": "factorial",
                "factors": (
                    KERNEL,
                    Factor(path="arch.blocks", levels=(small.blocks,), labels=("b",)),
                ),
            },
            "factors",
            "overlap",
        ),
    ],
)
def test_invalid_sweeps_name_the_field(changes: dict[str, object], field: str, text: str) -> None:
    with pytest.raises(SpecError) as error:
        _sweep(**changes)
    assert error.value.field == field
    assert text in str(error.value)


def test_factor_labels_are_required_for_values_that_are_not_plain() -> None:
    with pytest.raises(SpecError, match="labels"):
        Factor(path="arch.blocks", levels=(small.blocks,))
    with pytest.raises(SpecError, match="may not contain"):
        Factor(path="arch.pooling", levels=("max",), labels=("a/b",))


def test_replace_and_get_path() -> None:
    spec = replace_path(BASE, "arch.blocks.1.filters", 64)
    assert get_path(spec, "arch.blocks.1.filters") == 64
    assert get_path(spec, "arch.blocks.0.filters") == 32
    with pytest.raises(SpecError, match="no field 'widht'"):
        replace_path(BASE, "arch.widht", 3)
    with pytest.raises(SpecError, match="index 5 does not exist"):
        replace_path(BASE, "arch.blocks.5.filters", 3)
    with pytest.raises(SpecError) as error:
        replace_path(BASE, "arch.pooling", "mean")
    assert error.value.field == "arch.pooling"


def test_the_translation_sweeps_claims_hash_is_unchanged_by_the_default_direction() -> None:
    # Its claims spell out higher_is_better=False; the hash from before the direction followed
    # the metric (commit 6f4a4e2~1) is pinned, and leaving the value out must not change it.
    sweep = load_sweep("translation")
    assert claims_hash(sweep) == "00461a37cf2049a0"
    implied = sweep.with_changes(
        claims=tuple(dataclasses.replace(c, higher_is_better=None) for c in sweep.claims)
    )
    assert all(c.higher_is_better is False for c in implied.claims)
    assert claims_hash(implied) == claims_hash(sweep)


def test_a_single_baseline_band_belongs_to_the_declared_dataset_not_to_a_dataset_option() -> None:
    # `--dataset fashion_mnist` replaces the base spec's dataset: MNIST's band (98–99.5 %)
    # must not come along, or every Fashion-MNIST verdict would be "not judged".
    sweep = _sweep(baseline_band=(0.98, 0.995))
    assert sweep.band_for("mnist") == (0.98, 0.995)
    data = dataclasses.replace(sweep.base.data, dataset="fashion_mnist")
    on_fashion = sweep.with_changes(base=dataclasses.replace(sweep.base, data=data))
    assert on_fashion.band_for("fashion_mnist") is None
    assert on_fashion.band_for("mnist") == (0.98, 0.995)
    both = _sweep(baseline_band={"mnist": (0.98, 0.995), "fashion_mnist": (0.85, 0.92)})
    assert both.band_for("fashion_mnist") == (0.85, 0.92)
