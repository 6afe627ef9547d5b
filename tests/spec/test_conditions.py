"""A sweep with conditions: its cells, keys, definition and the mistakes it refuses."""

from __future__ import annotations

import dataclasses

import pytest

from cnnlab.errors import SpecError
from cnnlab.spec.design import Claim, Factor, Sweep, cells, condition_sweeps, config_hash
from cnnlab.spec.presets import small
from cnnlab.spec.sequential import SequentialPlan
from cnnlab.spec.specs import TrainSpec, TrialSpec

EPOCHS = Factor(path="train.epochs", levels=(3, 12), labels=("e3", "e12"))
PLAIN = Sweep(
    name="budget",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=3, batch_size=128)),
    factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
    seeds=2,
    claims=(Claim(statement="max beats avg", better="max", worse="avg"),),
)
SWEEP = dataclasses.replace(PLAIN, conditions=EPOCHS)


def test_every_condition_has_every_arm_and_seed_replicate_by_replicate() -> None:
    found = [(c.seed, c.condition, c.arm, c.spec.train.epochs) for c in cells(SWEEP)]
    assert found == [
        (0, "e3", "max", 3),
        (0, "e3", "avg", 3),
        (0, "e12", "max", 12),
        (0, "e12", "avg", 12),
        (1, "e3", "max", 3),
        (1, "e3", "avg", 3),
        (1, "e12", "max", 12),
        (1, "e12", "avg", 12),
    ]
    first = cells(SWEEP)[2]
    assert first.key == "e12/max/seed=00" and first.run_name == "budget/e12/max/seed=00"
    assert first.labels == {"arch.pooling": "max", "train.epochs": "e12"}


def test_each_condition_is_the_sweep_with_its_level_set() -> None:
    own = dict(condition_sweeps(SWEEP))
    assert own["e12"].base.train.epochs == 12 and own["e12"].conditions is None
    assert [c.key for c in cells(own["e3"])] == [c.key for c in cells(PLAIN)]


def test_conditions_enter_the_definition_hash_and_nothing_else_moves() -> None:
    assert config_hash(SWEEP) != config_hash(PLAIN)
    other = dataclasses.replace(PLAIN, conditions=dataclasses.replace(EPOCHS, levels=(3, 20)))
    assert config_hash(other) != config_hash(SWEEP)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"conditions": Factor(path="train.epochs", levels=(3,))}, "one level"),
        ({"conditions": Factor(path="arch.pooling", levels=("max", "avg"))}, "same field"),
        ({"conditions": Factor(path="train.epoch", levels=(3, 12))}, "not a field"),
        ({"conditions": Factor(path="train.epochs", levels=(3, 0))}, "train.epochs"),
        (
            {"conditions": Factor(path="train.epochs", levels=(3, 12), labels=("max", "e12"))},
            "arm's label",
        ),
        ({"conditions": (EPOCHS,)}, "must be one Factor"),
        ({"conditions": EPOCHS, "claims": ()}, "with claims"),
    ],
)
def test_mistakes_in_conditions_are_refused_with_the_field_and_the_fix(
    changes: dict[str, object], words: str
) -> None:
    with pytest.raises(SpecError, match=words):
        dataclasses.replace(PLAIN, **changes)  # type: ignore[arg-type]


def test_a_sequential_plan_serves_every_condition() -> None:
    planned = dataclasses.replace(SWEEP, seeds=SequentialPlan())
    assert len(cells(planned)) == 2 * 2 * planned.seeds.seed_count  # type: ignore[union-attr]
