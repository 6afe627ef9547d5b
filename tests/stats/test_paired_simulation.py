"""The verdict rule's error rates and the planner's promises, by simulation.

Every simulated claim goes through the public decision function (`evaluate_claims`, or
`decide_claim` at fixed levels) end to end; no check goes through the power formula it checks.
Each figure uses ≥ 2,000 simulated claims, seeded; the noise is drawn in one vectorised call,
the decisions are made one claim at a time (about 0.5 ms each). `test_print_the_figures`
prints every figure of this file with `pytest -s` (the closing note of issue 8 quotes it).

Mutants of the rule (a z interval instead of t, no Holm correction, an 80 % interval for
equivalence, no P(A>B) gate) are applied with monkeypatch, and each must make at least one of
these checks fail: `test_each_mutant_of_the_rule_is_caught`.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

import cnnlab.stats.paired as paired
from cnnlab.stats.paired import ALPHA, ClaimData, decide_claim, evaluate_claims
from cnnlab.stats.planning import outcome_probabilities, seeds_for

pytestmark = pytest.mark.slow

SIMS = 2000
REPOSITORY = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    bound: float
    sims: int
    upper: bool = True  # value must be ≤ bound (else ≥)

    @property
    def se(self) -> float:
        return math.sqrt(max(self.value * (1 - self.value), 1e-12) / self.sims)

    @property
    def passes(self) -> bool:
        return self.value <= self.bound if self.upper else self.value >= self.bound

    def __str__(self) -> str:
        sign = "≤" if self.upper else "≥"
        return f"{self.name}: {self.value:.4f} (MC SE {self.se:.4f}; needs {sign} {self.bound:.4f})"


def _limit(rate: float = ALPHA, sims: int = SIMS) -> float:
    """α + 2 Monte Carlo standard errors (of a rate equal to α)."""
    return rate + 2 * math.sqrt(rate * (1 - rate) / sims)


def _noise(kind: str, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    if kind == "normal":
        return rng.normal(size=size)
    if kind == "t3":
        return rng.standard_t(3, size=size) / math.sqrt(3)  # unit variance
    if kind == "skewed":  # exponential, centred on its mean: skewness 2, unit variance
        return rng.exponential(size=size) - 1.0
    raise ValueError(kind)


@functools.cache
def false_verdict_rate(n: int, noise: str, seed: int = 0) -> Figure:
    """No effect: how often the rule says supported or refuted (ROPE far below the noise)."""
    draws = _noise(noise, np.random.default_rng(seed), (SIMS, n))
    decided = sum(
        evaluate_claims([("null", row, 0.01)], full=False)[0].verdict in ("supported", "refuted")
        for row in draws
    )
    return Figure(
        f"false supported+refuted, n = {n}, {noise} noise", decided / SIMS, _limit(), SIMS
    )


@functools.cache
def family_wise_rate(n: int = 10, claims: int = 3, seed: int = 1) -> Figure:
    """Three null claims in one report: how often any of them gets a verdict."""
    draws = np.random.default_rng(seed).normal(size=(SIMS, claims, n))
    decided = 0
    for family in draws:
        results = evaluate_claims(
            [(f"null {k}", d, 0.01) for k, d in enumerate(family)], full=False
        )
        decided += any(r.verdict in ("supported", "refuted") for r in results)
    return Figure(
        f"family-wise false verdicts, {claims} Holm claims, n = {n}", decided / SIMS, _limit(), SIMS
    )


@functools.cache
def false_equivalence_rate(n: int, rope: float = 1.0, seed: int = 2) -> Figure:
    """The true mean on the ROPE's edge: how often the rule says equivalent."""
    draws = rope + np.random.default_rng(seed).normal(size=(SIMS, n))
    equivalent = sum(
        evaluate_claims([("edge", row, rope)], full=False)[0].verdict == "equivalent"
        for row in draws
    )
    return Figure(
        f"false equivalence at the ROPE's edge, n = {n}", equivalent / SIMS, _limit(), SIMS
    )


@functools.cache
def planned_power(
    outcome: str, delta: float, rope_sd: float, alpha: float, alpha_eq: float, seed: int = 3
) -> tuple[Figure, int, float]:
    """Simulate the decision at the planner's seeds; the figure is |simulated − promised|."""
    n = seeds_for(outcome, delta, rope_sd, alpha, alpha_eq)  # type: ignore[arg-type]
    assert n is not None
    promised = float(
        outcome_probabilities(delta, rope_sd, np.array([n]), alpha, alpha_eq)[outcome][0]
    )  # type: ignore[index]
    draws = delta + np.random.default_rng(seed).normal(size=(SIMS, n))
    hits = sum(
        decide_claim(
            ClaimData("planned", tuple(row), rope_sd), alpha=alpha, alpha_eq=alpha_eq, full=False
        ).verdict
        == outcome
        for row in draws
    )
    gap = abs(hits / SIMS - promised)
    return (
        Figure(
            f"planned {outcome} at dz {delta:g}, ROPE/SD {rope_sd:g}: n = {n}, "
            f"|simulated − promised {promised:.3f}|",
            gap,
            0.05,
            SIMS,
        ),
        n,
        hits / SIMS,
    )


# --- the checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("noise", ["normal", "t3"])
@pytest.mark.parametrize("n", [5, 10, 20])
def test_without_an_effect_false_verdicts_stay_at_or_below_alpha(n: int, noise: str) -> None:
    figure = false_verdict_rate(n, noise)
    assert figure.passes, figure
    if n <= 10:
        # not so conservative that it cannot find anything: at n ≤ 10 the t interval, not the
        # P(A>B) gate, is the binding condition (at n = 20 the gate binds: t ≥ 0.674·√20 = 3.0,
        # a false rate near 0.007 — conservative by design, see docs/statistics.md).
        assert figure.value >= ALPHA / 4, figure


# The stated bound under strongly skewed differences (centred exponential, skewness 2): the t
# interval is not exact there, and its one tail overshoots. Measured 0.114, 0.103, 0.038 at
# n = 5, 10, 20 (0.119, 0.086, 0.030 with another seed; printed by test_print_the_figures). Paired
# accuracy differences are rarely this skewed; the signed-rank diagnostic beside each verdict
# is how a report shows a disagreement.
SKEWED_BOUND = {5: 0.14, 10: 0.125, 20: _limit()}


@pytest.mark.parametrize("n", [5, 10, 20])
def test_skewed_noise_keeps_false_verdicts_within_the_stated_bound(n: int) -> None:
    figure = false_verdict_rate(n, "skewed", seed=4)
    assert figure.value <= SKEWED_BOUND[n], figure


def test_family_wise_false_verdicts_over_three_holm_claims() -> None:
    figure = family_wise_rate()
    assert figure.passes, figure


@pytest.mark.parametrize("n", [10, 40])
def test_false_equivalence_at_the_ropes_edge(n: int) -> None:
    figure = false_equivalence_rate(n)
    assert figure.passes, figure


@pytest.mark.parametrize(
    ("outcome", "delta", "rope_sd"),
    [
        ("supported", 1.0, 1e-9),
        ("supported", 0.8, 1e-9),
        ("equivalent", 0.0, 0.6),
        ("equivalent", 0.2, 0.8),
    ],
)
def test_planned_seeds_deliver_the_power_they_promise(
    outcome: str, delta: float, rope_sd: float
) -> None:
    figure, _, simulated = planned_power(outcome, delta, rope_sd, ALPHA, ALPHA)
    assert figure.passes, figure
    assert simulated >= 0.8 - 0.05, figure


def test_the_committed_pooling_reports_seed_advice_is_confirmed() -> None:
    # Each inconclusive claim's "about N paired seeds would make it <outcome>" at the claim's
    # own levels, simulated at the planned δ and ROPE/SD through the decision function.
    verdicts = json.loads((REPOSITORY / "reports/pooling/verdicts.json").read_text())
    checked = 0
    for claim in verdicts["claims"]:
        numbers = claim["numbers"]
        advice = numbers and numbers["advice"]
        if not advice:
            continue
        for need in advice["outcomes"]:
            if need["at_estimate"] is None:
                continue
            figure, n, _ = planned_power(
                need["outcome"],
                advice["effect"],
                advice["rope_sd"],
                advice["alpha"],
                advice["alpha_eq"],
            )
            assert n == need["at_estimate"]
            assert figure.passes, figure
            checked += 1
    assert checked >= 2  # none vs max and max vs strided, equivalence


def test_print_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """Every figure of this file in one table (run with -s to see it); cached from the checks."""
    import time

    start = time.perf_counter()
    figures = [false_verdict_rate(n, noise) for noise in ("normal", "t3") for n in (5, 10, 20)]
    figures += [false_verdict_rate(n, "skewed", seed=4) for n in (5, 10, 20)]
    figures += [family_wise_rate(), false_equivalence_rate(10), false_equivalence_rate(40)]
    figures += [planned_power("supported", 1.0, 1e-9, ALPHA, ALPHA)[0]]
    figures += [planned_power("equivalent", 0.0, 0.6, ALPHA, ALPHA)[0]]
    with capsys.disabled():
        print(f"\nDecision-rule simulations ({SIMS} claims per figure):")
        for figure in figures:
            print(f"  {figure}")
        print(f"  ({time.perf_counter() - start:.1f} s)")
    skewed = [f for f in figures if "skewed" in f.name]
    assert all(f.passes for f in figures if f not in skewed)
    assert all(f.value <= SKEWED_BOUND[n] for f, n in zip(skewed, (5, 10, 20), strict=True))


# --- mutants -----------------------------------------------------------------------------


def _z_interval(differences: object, level: float) -> tuple[float, float]:
    d = np.asarray(differences, dtype=float)
    half = sps.norm.ppf(0.5 + level / 2) * d.std(ddof=1) / math.sqrt(len(d))
    return float(d.mean() - half), float(d.mean() + half)


def _no_holm(p_values: list[float], alpha: float = ALPHA) -> tuple[list[float], list[float]]:
    return list(p_values), [alpha] * len(p_values)


MUTANTS: dict[str, tuple[Callable[[pytest.MonkeyPatch], None], Callable[[], list[Figure]]]] = {
    "z instead of t": (
        lambda mp: mp.setattr(paired, "t_interval", _z_interval),
        lambda: [false_verdict_rate(5, "normal")],
    ),
    "no Holm": (
        lambda mp: mp.setattr(paired, "holm", _no_holm),
        lambda: [family_wise_rate()],
    ),
    "80 % interval for equivalence": (
        lambda mp: mp.setattr(paired, "equivalence_level", lambda alpha_eq: 0.8),
        lambda: [false_equivalence_rate(10), false_equivalence_rate(40)],
    ),
    "no P(A>B) gate": (
        lambda mp: mp.setattr(paired, "PROB_THRESHOLD", 0.5),
        lambda: [planned_power("supported", 0.8, 1e-9, ALPHA, ALPHA)[0]],
    ),
}


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_each_mutant_of_the_rule_is_caught(mutant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    apply, checks = MUTANTS[mutant]
    apply(monkeypatch)
    _forget()  # the figures are cached for the unmutated rule
    try:
        figures = checks()
    finally:
        _forget()
    assert any(not f.passes for f in figures), [str(f) for f in figures]


def _forget() -> None:
    for simulation in (false_verdict_rate, family_wise_rate, false_equivalence_rate, planned_power):
        simulation.cache_clear()
