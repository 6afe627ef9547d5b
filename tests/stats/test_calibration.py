"""The calibrated critical values: the shipped table, the α they hold under each noise shape, and
checks that fail on the plausible wrong plans (z-derived boundaries, a skew-blind calibration,
a randomized design judged replicate by replicate).

Every check is a fixed-seed simulation; its replications and standard error are stated where it
runs, and a rate passes at ≤ its bound + 3 SE. Each check is also run on its wrong plan and must
fail there, so none of them can pass by construction.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest
from scipy import stats as sps

from cnnlab.spec.sequential import SequentialPlan
from cnnlab.stats import calibration as cal
from cnnlab.stats.boundaries import spent
from cnnlab.stats.sequential import (
    OUTCOMES,
    ClaimSeries,
    LookLevel,
    judge_sequence,
    levels_at,
    look_levels,
    simulate_plan,
    z_derived_levels,
)

PLAN = SequentialPlan()  # looks 5, 8, 12, 20
NO_FUTILITY = dataclasses.replace(PLAN, futility=False)
ALPHA = PLAN.alpha
CHECK_SEED = 4242  # independent of the calibration's own streams


def _se(rate: float, reps: int) -> float:
    return math.sqrt(rate * (1 - rate) / reps)


def _rules(claims: int) -> dict[str, tuple[LookLevel, ...]]:
    return {
        "calibrated": look_levels(PLAN, claims),
        "z-derived": z_derived_levels(PLAN, claims),
        "skew-blind": levels_at(PLAN, cal.calibrate(PLAN, claims, family="normal")),
    }


# --- the table -------------------------------------------------------------------------


def test_every_shipped_plan_is_in_the_table_and_the_table_is_what_calibration_gives() -> None:
    for plan, claims in cal.shipped_plans():
        assert cal.shipped(plan, claims) is not None, (plan, claims)
    fresh = cal.calibrate(PLAN, 3)
    assert cal.shipped(PLAN, 3) == fresh  # the table is reproducible from the code


def test_the_levels_are_where_t_crosses_the_calibrated_values() -> None:
    found = cal.calibration(PLAN, 3)
    levels = look_levels(PLAN, 3)
    assert [lv.seeds for lv in levels] == list(PLAN.looks)
    for level, c_sup, c_eq in zip(levels, found.superiority, found.equivalence, strict=True):
        df = level.seeds - 1
        assert sps.t.isf(level.alpha / 2, df) == pytest.approx(c_sup, abs=1e-9)
        assert sps.t.isf(level.alpha_eq, df) == pytest.approx(c_eq, abs=1e-9)
    # stricter than the z-derived levels at every look: those spent more than α
    for new, old in zip(levels, z_derived_levels(PLAN, 3), strict=True):
        assert new.alpha < old.alpha and new.alpha_eq < old.alpha_eq


def test_a_plan_outside_the_table_is_calibrated_with_the_fixed_seed() -> None:
    plan = SequentialPlan(looks=(4, 9, 15))
    assert cal.shipped(plan, 2) is None
    assert cal.calibrate(plan, 2) == cal.calibrate(plan, 2)
    assert cal.calibration(plan, 2).reps >= 100_000


def test_a_budget_too_small_to_simulate_falls_back_to_the_exact_single_look_bound() -> None:
    plan = SequentialPlan(looks=(5, 10, 20, 40), spending="obrien-fleming")
    found = cal.calibrate(plan, 1, reps=20_000)
    first_budget = spent("obrien-fleming", [n / 40 for n in plan.looks], ALPHA)[0]
    assert first_budget * 20_000 < 1  # no draw can resolve it
    assert found.superiority[0] >= sps.t.isf(first_budget / 2, 4)


# --- Build 1: t boundaries that spend what the spending function allots -------------------

COVERAGE_REPS = 100_000


def _overspent(levels: tuple[LookLevel, ...], shape: str, claims: int) -> list[str]:
    """Looks at which t alone (no gate, no futility) has crossed, by then, more often than the
    α spent by then + 3 SE: under `shape`, for superiority (two-sided) and for the TOST test
    (one-sided, lower tail). The complement at the last look is the repeated interval's
    coverage."""
    draws = cal.shape_draws(shape, 0.0, COVERAGE_REPS, PLAN.seed_count, CHECK_SEED)
    t = cal.t_statistics(draws, PLAN.looks)
    budget = spent(PLAN.spending, [n / PLAN.seed_count for n in PLAN.looks], ALPHA / claims)
    problems = []
    for k in range(len(levels)):
        crossed_sup = np.any(np.abs(t[:, : k + 1]) >= _values(levels, k, "sup"), axis=1)
        crossed_eq = np.any(-t[:, : k + 1] >= _values(levels, k, "eq"), axis=1)
        for name, crossed in (("superiority", crossed_sup), ("TOST", crossed_eq)):
            rate, bound = float(crossed.mean()), float(budget[k])
            if rate > bound + 3 * _se(bound, COVERAGE_REPS):
                problems.append(f"{shape} {name} look {k + 1}: {rate:.4f} > {bound:.4f}")
    return problems


def _values(levels: tuple[LookLevel, ...], k: int, kind: str) -> list[float]:
    """The t values looks 1..k+1 cross at."""
    return [
        float(sps.t.isf(lv.alpha / 2 if kind == "sup" else lv.alpha_eq, lv.seeds - 1))
        for lv in levels[: k + 1]
    ]


@pytest.mark.parametrize("claims", [1, 3])
def test_the_repeated_intervals_cover_and_no_look_spends_more_than_allotted(claims: int) -> None:
    # 100,000 null draws per shape; SE of a rate at α = 0.05 is 0.0007 (0.0004 at α/3)
    problems = [
        problem
        for shape in cal.GUARANTEED
        for problem in _overspent(_rules(claims)["calibrated"], shape, claims)
    ]
    assert not problems, problems


def test_the_old_z_derived_boundaries_overspend_under_normal_noise() -> None:
    # the wrong plan: z boundaries' nominal levels used for t (one claim: 0.0552 > 0.05 + 3 SE)
    problems = _overspent(_rules(1)["z-derived"], "normal", 1)
    assert any("superiority look 4" in p for p in problems), problems


# --- Build 2: the whole rule under skew, heavy tails and bad seeds -----------------------

RULE_REPS = 40_000  # SE 0.0011 at α = 0.05, 0.0006 at α/3


def _false_rates(
    levels: tuple[LookLevel, ...], shape: str, claims: int, plan: SequentialPlan = NO_FUTILITY
) -> tuple[float, float]:
    """False supported+refuted with no true effect (ROPE 0), and false equivalence with the true
    effect at the ROPE's edge (ROPE 1 SD), for one of `claims` claims."""
    null = cal.shape_draws(shape, 0.0, RULE_REPS, plan.seed_count, CHECK_SEED)
    ends = simulate_plan(plan, levels, null, 1e-12)
    false = np.isin(ends.outcome, [OUTCOMES.index("supported"), OUTCOMES.index("refuted")])
    edge = cal.shape_draws(shape, 1.0, RULE_REPS, plan.seed_count, CHECK_SEED + 1)
    equivalent = simulate_plan(plan, levels, edge, 1.0).outcome == OUTCOMES.index("equivalent")
    return float(false.mean()), float(equivalent.mean())


def _rule_breaches(levels: tuple[LookLevel, ...], claims: int) -> list[str]:
    bound = ALPHA / claims
    limit = bound + 3 * _se(bound, RULE_REPS)
    breaches = []
    for shape in cal.GUARANTEED:
        false, equivalent = _false_rates(levels, shape, claims)
        if false > limit or equivalent > limit:
            breaches.append(
                f"{shape}: false {false:.4f}, equivalent {equivalent:.4f} > {limit:.4f}"
            )
    return breaches


@pytest.mark.parametrize("claims", [1, 3])
def test_the_rule_holds_alpha_under_every_guaranteed_shape_with_futility_off(claims: int) -> None:
    assert not _rule_breaches(_rules(claims)["calibrated"], claims)


def test_a_skew_blind_calibration_fails_under_skewness_one() -> None:
    # the wrong plan: t calibrated under normal noise only (gamma 4: 0.064 false, 0.088 equivalent)
    breaches = _rule_breaches(_rules(1)["skew-blind"], 1)
    assert any(b.startswith("gamma 4") for b in breaches), breaches


# --- a randomized design: the seed is the unit --------------------------------------------

RANDOMIZED_SIMS = 3000  # SE 0.004 at α = 0.05


def _randomized_false_rate(correlation: float) -> float:
    """Null claims with two replicates per seed whose differences share a seed effect
    (`correlation` of their variance), judged by `judge_sequence` end to end."""
    rng = np.random.default_rng(CHECK_SEED)
    seeds = tuple(s for s in range(PLAN.seed_count) for _ in range(2))
    false = 0
    for _ in range(RANDOMIZED_SIMS):
        shared = np.repeat(rng.normal(0, math.sqrt(correlation), PLAN.seed_count), 2)
        d = shared + rng.normal(0, math.sqrt(1 - correlation), 2 * PLAN.seed_count)
        series = ClaimSeries("sim", seeds, tuple(float(x) for x in d), 1e-12, per_seed=2)
        (standing,) = judge_sequence(NO_FUTILITY, [series], full=False)
        false += standing.result is not None and standing.result.verdict in (
            "supported",
            "refuted",
        )
    return false / RANDOMIZED_SIMS


def _every_replicate(self: ClaimSeries, seeds: int) -> object:
    """The wrong aggregation: every replicate judged as an independent pair."""
    from cnnlab.stats.paired import ClaimData

    chosen = [d for s, d in zip(self.seeds, self.differences, strict=True) if s < seeds]
    if len(chosen) < seeds * self.per_seed:
        return None
    return ClaimData(self.statement, tuple(chosen), self.rope, self.resolution)


def test_a_randomized_design_is_judged_on_seed_means(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two draws per seed sharing 95 % of their variance (the seed's data order matters far
    # more than the architecture drawn): by seed means 0.010; replicate by replicate 0.085.
    limit = ALPHA + 3 * _se(ALPHA, RANDOMIZED_SIMS)
    assert _randomized_false_rate(0.95) <= limit
    monkeypatch.setattr(ClaimSeries, "at", _every_replicate)
    assert _randomized_false_rate(0.95) > limit  # replicates of one seed are not independent


# --- the tables of docs/statistics.md ------------------------------------------------------

TABLE_REPS = 20_000  # per cell: SE 0.0015 at α = 0.05, 0.0009 at α/3


def _family_rate(levels: tuple[LookLevel, ...], shape: str, plan: SequentialPlan) -> float:
    """Any false supported/refuted among three independent null claims."""
    any_false = np.zeros(TABLE_REPS, dtype=bool)
    for claim in range(3):
        draws = cal.shape_draws(shape, 0.0, TABLE_REPS, plan.seed_count, CHECK_SEED + 10 + claim)
        outcome = simulate_plan(plan, levels, draws, 1e-12).outcome
        any_false |= np.isin(outcome, [OUTCOMES.index("supported"), OUTCOMES.index("refuted")])
    return float(any_false.mean())


def _skewness_flags(levels: tuple[LookLevel, ...], shape: str, delta: float) -> tuple[float, float]:
    """(decided, decided and flagged by `skew_beyond_guarantee` at the deciding look) shares
    for one claim (with delta = 0, the false ones): the diagnostic a report prints."""
    draws = cal.shape_draws(shape, delta, TABLE_REPS, PLAN.seed_count, CHECK_SEED + 20)
    ends = simulate_plan(PLAN, levels, draws, 1e-12)
    decided = np.isin(ends.outcome, [OUTCOMES.index("supported"), OUTCOMES.index("refuted")])
    flagged = np.zeros(TABLE_REPS, dtype=bool)
    for k, n in enumerate(PLAN.looks):
        rows = decided & (ends.look == k)
        g1 = sps.skew(draws[rows, :n], axis=1, bias=False)
        flagged[rows] = np.abs(g1) > 1 + 2 * cal.skewness_se(n)
    return float(decided.mean()), float(flagged.mean())


@pytest.mark.slow
@pytest.mark.tables
def test_print_the_rule_tables(capsys: pytest.CaptureFixture[str]) -> None:
    start = time.perf_counter()
    lines = [f"Sequential rule tables ({TABLE_REPS} simulated claims per cell, seed {CHECK_SEED})"]
    shapes = [*cal.GUARANTEED, *cal.BEYOND]
    for claims in (1, 3):
        levels = _rules(claims)["calibrated"]
        lines.append(f"one of {claims} claim(s); per claim α = {ALPHA / claims:.4f}")
        lines.append("  shape | false sup/ref fut on / off | family-wise of 3, on / off | false eq")
        for shape in shapes:
            on = _false_rates(levels, shape, claims, PLAN)
            off = _false_rates(levels, shape, claims, NO_FUTILITY)
            family = (
                f"{_family_rate(levels, shape, PLAN):.4f} / "
                f"{_family_rate(levels, shape, NO_FUTILITY):.4f}"
                if claims == 3
                else "-"
            )
            lines.append(f"  {shape} | {on[0]:.4f} / {off[0]:.4f} | {family} | {off[1]:.4f}")
    lines.append("Candidates (one of 3 claims, ROPE 1 SD, normal noise): E[seeds]; P(verdict)")
    for name, levels in _rules(3).items():
        cells = []
        for delta in (0.0, 0.674, 1.0, 1.75):
            draws = cal.shape_draws("normal", delta, TABLE_REPS, PLAN.seed_count, CHECK_SEED + 30)
            ends = simulate_plan(PLAN, levels, draws, 1.0)
            seeds = np.array(PLAN.looks)[np.maximum(ends.look, 0)]
            used = np.where(ends.look >= 0, seeds, PLAN.seed_count).mean()
            want = "equivalent" if delta == 0 else "supported"
            share = np.mean(ends.outcome == OUTCOMES.index(want))
            cells.append(f"dz {delta:g}: {used:.1f}, {want} {share:.3f}")
        worst = max(_false_rates(levels, s, 3)[0] for s in cal.GUARANTEED)
        lines.append(f"  {name}: " + "; ".join(cells) + f"; worst guaranteed false {worst:.4f}")
    lines.append(
        "Skewness diagnostic (one claim, |G1| > 1 + 2 SE at the deciding look): decided / flagged"
    )
    levels = _rules(1)["calibrated"]
    for shape, delta in [(s, 0.0) for s in shapes] + [
        ("normal", 1.0),
        ("gamma 4 (skewness +1)", 1.0),
    ]:
        decided, flagged = _skewness_flags(levels, shape, delta)
        lines.append(f"  {shape}, dz {delta:g}: {decided:.4f} / {flagged:.4f}")
    with capsys.disabled():
        print("\n" + "\n".join(lines) + f"\n({time.perf_counter() - start:.0f} s)")
    assert len(lines) > 10
