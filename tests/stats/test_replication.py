"""Replication verdicts across conditions: the interaction test against scipy and statsmodels,
the seed-level pooled effect against its definition, the verdict's order, and the error
rates by simulation with each condition's sequential stopping."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.anova import AnovaRM

from cnnlab.spec.sequential import SequentialPlan
from cnnlab.stats.replication.verdict import (
    ConditionEffect,
    interaction_test,
    pooled_effect,
    replication_verdict,
    simulate_replication,
)


def _by_condition(table: np.ndarray) -> dict[str, dict[int, float]]:
    return {
        f"c{c}": {s: float(table[s, c]) for s in range(len(table))} for c in range(table.shape[1])
    }


def test_two_conditions_are_a_paired_t_test_of_their_differences() -> None:
    rng = np.random.default_rng(0)
    table = rng.normal(size=(9, 2)) + np.array([0.0, 0.4])
    found = interaction_test(_by_condition(table))
    expected = sps.ttest_rel(table[:, 0], table[:, 1])
    assert found is not None and found.seeds == 9
    assert found.statistic == pytest.approx(expected.statistic)
    assert found.p_value == pytest.approx(expected.pvalue)


def test_three_conditions_are_a_repeated_measures_anova_with_greenhouse_geisser() -> None:
    rng = np.random.default_rng(1)
    table = rng.normal(size=(12, 3)) + rng.normal(size=(12, 1)) + np.array([0.0, 0.3, 0.9])
    found = interaction_test(_by_condition(table))
    long = pd.DataFrame(
        [(s, c, table[s, c]) for s in range(12) for c in range(3)], columns=["seed", "c", "d"]
    )
    oracle = AnovaRM(long, "d", "seed", within=["c"]).fit().anova_table
    assert found is not None
    assert found.statistic == pytest.approx(float(oracle["F Value"].iloc[0]))
    # Greenhouse–Geisser shrinks the degrees of freedom, so p can only grow.
    assert found.df[0] <= 2 and found.df[1] <= 22
    assert found.p_value >= float(oracle["Pr > F"].iloc[0]) - 1e-12


def test_seeds_not_every_condition_has_are_left_out() -> None:
    differences = {"a": {0: 0.1, 1: 0.2, 2: 0.3, 3: 9.0}, "b": {0: 0.0, 1: 0.1, 2: 0.1}}
    found = interaction_test(differences)
    assert found is not None and found.seeds == 3
    assert interaction_test({"a": {0: 1.0, 1: 2.0}, "b": {0: 1.0, 1: 1.0}}) is None


def test_the_pooled_effect_separates_condition_spread_from_shared_seed_noise() -> None:
    # No residual: d = μ + u_c + v_s exactly, so τ² is the conditions' own variance, I² is 1,
    # and the mean is the grand mean.
    u = np.array([-0.2, 0.0, 0.1, 0.3, -0.2])
    v = np.array([0.5, -0.5, 0.25, -0.25, 0.0, 0.1])
    table = 1.0 + u[None, :] + v[:, None]
    pooled = pooled_effect(_by_condition(table))
    assert pooled is not None
    assert pooled.mean == pytest.approx(table.mean())
    assert pooled.tau2 == pytest.approx(u.var(ddof=1))
    assert pooled.i2 == pytest.approx(1.0)
    n, k = table.shape
    assert pooled.se == pytest.approx(
        math.sqrt(table.mean(axis=1).var(ddof=1) / n + u.var(ddof=1) / k)
    )
    assert pooled.prediction[0] < pooled.ci[0] < pooled.mean < pooled.ci[1] < pooled.prediction[1]
    assert pooled_effect(_by_condition(table[:, :4])) is None  # fewer than five conditions


def _effect(condition: str, verdict: str) -> ConditionEffect:
    return ConditionEffect(condition, verdict, 8, 0.002, (0.001, 0.003), 0.98)


def test_the_verdict_order() -> None:
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 0.001, size=(2, 8))
    same = {c: {s: 0.002 + noise[i, s] for s in range(8)} for i, c in enumerate("ab")}
    apart = {
        c: {s: 0.004 * (1 - i) + noise[i, s] / 10 for s in range(8)} for i, c in enumerate("ab")
    }
    supported, open_ = _effect("a", "supported"), _effect("b", "inconclusive")
    everywhere = replication_verdict("x", [supported, _effect("b", "supported")], same)
    assert everywhere.verdict == "holds in every condition" and not everywhere.depends
    depends = replication_verdict("x", [supported, open_], apart)
    assert depends.verdict == "depends on the condition" and depends.depends
    both = replication_verdict("x", [supported, _effect("b", "supported")], apart)
    assert both.verdict == "holds in every condition" and both.depends  # everywhere, unequal size
    undecided = replication_verdict("x", [supported, open_], same)
    assert undecided.verdict == "undecided across conditions"  # never "does not replicate"
    unjudged = replication_verdict("x", [supported, _effect("b", "not judged")], same)
    assert unjudged.verdict == "not judged yet"


PLAN = SequentialPlan()


@pytest.mark.slow
def test_holds_everywhere_is_rarely_said_when_one_condition_has_no_effect() -> None:
    # Intersection–union: at most the claim's one-sided level (2.5 % for one claim).
    rates = simulate_replication(PLAN, (0.0, 2.0), rho=0.5, sims=3000, seed=5)
    assert rates.holds_everywhere < 0.025
    strong = simulate_replication(PLAN, (2.0, 2.0), rho=0.5, sims=1000, seed=6)
    assert strong.holds_everywhere > 0.9  # and it is said when the effect is everywhere


@pytest.mark.slow
def test_the_pooled_interval_covers_under_shared_seeds_where_independent_pooling_does_not() -> None:
    rates = simulate_replication(PLAN, (0.5,) * 5, rho=0.5, sims=1500, seed=7)
    assert rates.pooled_coverage > 0.92
    # statsmodels' combine_effects, reading the conditions as independent, is far too narrow.
    assert rates.naive_coverage < 0.6
