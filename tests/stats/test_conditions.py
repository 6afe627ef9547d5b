"""Judging a sweep with conditions: each condition as its own sweep on its own rows, each
with its own looks, then one replication verdict per claim."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from cnnlab.spec.design import Claim, Factor, Sweep, cells
from cnnlab.spec.presets import small
from cnnlab.spec.sequential import SequentialPlan
from cnnlab.spec.specs import TrainSpec, TrialSpec
from cnnlab.stats.claims import cells_needed, judge
from cnnlab.stats.replication.conditions import condition_rows
from cnnlab.stats.table import results_frame

SWEEP = Sweep(
    name="budget",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=3, batch_size=128)),
    factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
    conditions=Factor(path="train.epochs", levels=(3, 12), labels=("e3", "e12")),
    seeds=SequentialPlan(),
    claims=(Claim(statement="max beats avg", better="max", worse="avg", rope=0.001),),
)


def _results(effects: dict[str, float], seeds: dict[str, int]) -> pd.DataFrame:
    """Planted rows: max − avg = the condition's effect ± 0.02 pp noise, a shared seed level."""
    rng = np.random.default_rng(0)
    rows = []
    for cell in cells(SWEEP):
        if cell.seed >= seeds[cell.condition]:
            continue
        level = 0.98 + 0.001 * np.sin(cell.seed)
        value = level + (effects[cell.condition] if cell.arm == "max" else 0.0)
        rows.append(
            {
                "trial": len(rows),
                "cell": cell.key,
                "arm": cell.arm,
                "arch.pooling": cell.arm,
                "train.epochs": cell.condition,
                "seed": cell.seed,
                "background": None,
                "test_accuracy": value + rng.normal(0, 0.0002),
            }
        )
    return pd.DataFrame(rows)


def test_a_conditions_rows_are_keyed_as_its_own_sweep_keys_them() -> None:
    results = _results({"e3": 0.003, "e12": 0.003}, {"e3": 5, "e12": 5})
    rows = condition_rows(SWEEP, results, "e12")
    assert len(rows) == 10 and set(rows["train.epochs"]) == {"e12"}
    assert rows["cell"].iloc[0] == "max/seed=00"


def test_each_condition_has_its_own_looks_and_the_next_cells_are_each_ones_own() -> None:
    # e3: a clear effect, decided at the first look; e12: no effect yet, so it goes on.
    results = _results({"e3": 0.004, "e12": 0.0}, {"e3": 5, "e12": 5})
    judgement = judge(SWEEP, results, quick=False)
    by_condition = dict(judgement.conditions)
    assert by_condition["e3"].sequence[0].status == "decided"
    assert by_condition["e3"].results[0].verdict == "supported"
    assert by_condition["e12"].sequence[0].status != "decided" or (
        by_condition["e12"].results[0].verdict != "supported"
    )
    needed = {c.key for c in cells_needed(SWEEP, judgement)}
    assert "e3/max/seed=04" in needed and "e3/max/seed=05" not in needed
    if by_condition["e12"].sequence[0].status == "open":
        assert "e12/max/seed=07" in needed  # the second look, 8 seeds
    replication = judgement.replications[0]
    assert replication.statement == "max beats avg"
    assert [e.condition for e in replication.effects] == ["e3", "e12"]
    assert replication.verdict != "holds in every condition"


def test_a_claim_supported_in_every_condition_holds_in_every_condition() -> None:
    results = _results({"e3": 0.004, "e12": 0.004}, {"e3": 5, "e12": 5})
    judgement = judge(SWEEP, results, quick=False)
    assert judgement.judged
    replication = judgement.replications[0]
    assert replication.verdict == "holds in every condition"
    assert replication.interaction is not None and replication.interaction.seeds == 5
    assert not replication.depends


def test_nothing_finished_is_the_start_of_every_conditions_plan() -> None:
    empty = results_frame([])  # what a study with no finished trial gives
    judgement = judge(SWEEP, empty, quick=False)
    assert not judgement.judged and judgement.replications[0].verdict == "not judged yet"
    needed = cells_needed(SWEEP, judgement)
    assert len(needed) == 2 * 2 * 5  # both conditions' first look
    assert cells_needed(SWEEP, None) == needed


def test_a_fixed_seed_count_judges_every_seed_in_every_condition() -> None:
    fixed = dataclasses.replace(SWEEP, seeds=6)
    results = _results({"e3": 0.004, "e12": 0.004}, {"e3": 6, "e12": 6})
    judgement = judge(fixed, results.assign(cell=results["cell"]), quick=False)
    assert judgement.judged
    assert judgement.replications[0].interaction.seeds == 6  # type: ignore[union-attr]
