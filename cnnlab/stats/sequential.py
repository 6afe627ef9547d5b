"""Judging claims at the looks of a sequential plan, and the plan's operating characteristics.

A `SequentialPlan` (cnnlab.spec.sequential) declares looks n_1 < … < n_K paired seeds. At look
k every claim still open is judged by the fixed-sample rule of `cnnlab.stats.paired`
(`decide_claim`), at that look's *nominal* levels instead of Holm's:

- α is split over the m claims of the sweep by Bonferroni (α/m each). Holm's step-down is
  not carried across looks: recycling the α of a decided claim into the others is valid for
  group sequential tests only when every earlier look is re-tested at the new levels (Maurer &
  Bretz 2013); the Bonferroni split needs no such bookkeeping and is what the simulations check.
- Each claim's α/m is spent over the information fractions t_k = n_k / n_K by the plan's
  Lan–DeMets function (`cnnlab.stats.boundaries`): a two-sided boundary for superiority
  (the interval at 1 − α_k must exclude 0, and the P(A>B) gate must pass) and a one-sided
  boundary for each of the two tests of TOST (the interval at 1 − 2α_k,eq must lie in the
  ROPE). The z boundaries become t boundaries by their nominal levels: with 4 degrees of
  freedom at 5 seeds the t distribution matters, and the realised error rates are checked by
  simulation (tests/stats/test_sequential.py), not assumed from the normal theory.
- The interval reported at the deciding look is that look's repeated confidence interval
  (Jennison & Turnbull 2000, ch. 9): at the nominal level that decided, so it matches the
  decision, and jointly over the looks it covers with probability at least 1 − α/m.
- Futility (non-binding): an undecided claim stops at look k < K when, at its estimated
  effect, the rule's own power at the last look is below the plan's `futility_power` for every
  outcome. The levels do not count on it, so it can only lower the error rates.

`operating_characteristics` simulates the plan (vectorised) for a claim at a given true effect:
per-look stopping probabilities by outcome and the expected seeds; reports print them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as sps

from cnnlab.spec.sequential import SequentialPlan
from cnnlab.stats.boundaries import spending_boundaries
from cnnlab.stats.intervals import hedges
from cnnlab.stats.paired import ClaimData, ClaimResult, decide_claim
from cnnlab.stats.planning import GATE_DZ, outcome_probabilities

Status = Literal["decided", "futile", "open", "final"]


@dataclass(frozen=True)
class LookLevel:
    """The nominal levels one look decides at (per claim, after the Bonferroni split)."""

    look: int  # 1-based
    seeds: int
    alpha: float  # two-sided level of the superiority interval
    alpha_eq: float  # level of each one-sided TOST test (interval 1 − 2·alpha_eq)


@functools.lru_cache(maxsize=256)
def look_levels(plan: SequentialPlan, claims: int) -> tuple[LookLevel, ...]:
    """Each look's nominal levels for one of `claims` claims (cached: the boundaries are solved
    by numerical integration, and a plan is frozen)."""
    per_claim = plan.alpha / max(claims, 1)
    fractions = [n / plan.seed_count for n in plan.looks]
    superiority = spending_boundaries(
        fractions, per_claim, plan.spending, sides=2, gamma=plan.gamma
    ).nominal()
    equivalence = spending_boundaries(
        fractions, per_claim, plan.spending, sides=1, gamma=plan.gamma
    ).nominal()
    return tuple(
        LookLevel(k + 1, n, float(superiority[k]), float(equivalence[k]))
        for k, n in enumerate(plan.looks)
    )


@dataclass(frozen=True)
class ClaimSeries:
    """One claim's paired differences by seed, for judging at looks (seed order matters)."""

    statement: str
    seeds: tuple[int, ...]  # the seed of each difference (repeated per background)
    differences: tuple[float, ...]
    rope: float
    resolution: float | None = None
    per_seed: int = 1  # replicates per seed (backgrounds of a randomized design)

    def at(self, seeds: int) -> ClaimData | None:
        """The claim's data at a look of `seeds` seeds, or None while that look is incomplete."""
        chosen = [d for s, d in zip(self.seeds, self.differences, strict=True) if s < seeds]
        if len(chosen) < seeds * self.per_seed:
            return None
        return ClaimData(self.statement, tuple(chosen), self.rope, self.resolution)


@dataclass(frozen=True)
class SequentialClaim:
    """Where one claim stands in its plan."""

    statement: str
    status: Status  # decided; stopped for futility; open (a later look will judge it); final
    look: int | None  # the look of `result` (None: no look complete yet)
    seeds: int  # paired seeds `result` rests on
    result: ClaimResult | None
    history: tuple[tuple[int, str], ...]  # (look, verdict) at each judged look
    next_seeds: int | None  # seeds the next look needs (open claims only)


def futile(result: ClaimResult, last: LookLevel, threshold: float, per_seed: int = 1) -> bool:
    """Whether the rule's own power at the last look (last.seeds × per_seed replicates), at the
    estimated effect, is below `threshold` for every outcome (non-binding: see the module
    docstring)."""
    if not (result.sd > 0 and math.isfinite(result.mean)) or result.untestable:
        return False  # nothing to estimate from: let the next look judge
    effect = hedges(result.mean / result.sd, result.n)
    chances = outcome_probabilities(
        effect,
        result.rope / result.sd,
        np.array([last.seeds * per_seed]),
        last.alpha,
        last.alpha_eq,
    )
    return all(float(p[0]) < threshold for p in chances.values())


def judge_sequence(
    plan: SequentialPlan, claims: Sequence[ClaimSeries], *, full: bool = True
) -> list[SequentialClaim]:
    """Every claim judged at each complete look until it is decided, futile or the plan ends."""
    levels = look_levels(plan, len(claims))
    outcome = []
    for claim in claims:
        history: list[tuple[int, str]] = []
        result: ClaimResult | None = None
        status: Status = "open"
        judged_at: LookLevel | None = None
        for level in levels:
            data = claim.at(level.seeds)
            if data is None:
                break
            result = decide_claim(data, alpha=level.alpha, alpha_eq=level.alpha_eq, full=full)
            judged_at = level
            history.append((level.look, result.verdict))
            if result.verdict != "inconclusive":
                status = "decided"
                break
            if level is levels[-1]:
                status = "final"
            elif plan.futility and futile(result, levels[-1], plan.futility_power, claim.per_seed):
                status = "futile"
                break
        upcoming = (
            next((lv.seeds for lv in levels if lv.seeds > judged_at.seeds), None)
            if judged_at is not None
            else levels[0].seeds
        )
        outcome.append(
            SequentialClaim(
                statement=claim.statement,
                status=status,
                look=judged_at.look if judged_at else None,
                seeds=judged_at.seeds if judged_at else 0,
                result=result,
                history=tuple(history),
                next_seeds=upcoming if status == "open" else None,
            )
        )
    return outcome


# --- operating characteristics -----------------------------------------------------------


@dataclass(frozen=True)
class OperatingCharacteristics:
    """A plan's behaviour for one claim at a true effect, by simulation."""

    delta: float  # true dz
    rope_sd: float
    stop: tuple[dict[str, float], ...]  # per look: P(stop here) by outcome (and "futile")
    inconclusive: float  # P(still undecided after the last look)
    expected_seeds: float
    sims: int


def operating_characteristics(
    plan: SequentialPlan,
    claims: int,
    delta: float,
    rope_sd: float,
    *,
    sims: int = 20_000,
    seed: int = 0,
    draws: np.ndarray | None = None,
    per_seed: int = 1,
) -> OperatingCharacteristics:
    """Stopping probabilities per look and expected seeds, simulating the rule vectorised.

    The same rule as `judge_sequence` on normal differences (SD 1): TOST at the look's
    one-sided level, else the superiority interval with the P(A>B) gate, else futility.
    tests/stats/test_sequential.py checks it against `judge_sequence` itself, on the same `draws`
    (sims × last look differences, SD 1) when given. `per_seed` replicates per seed (the
    backgrounds of a randomized design) multiply every look's differences.
    """
    levels = look_levels(plan, claims)
    if draws is None:
        size = (sims, plan.seed_count * per_seed)
        draws = delta + np.random.default_rng(seed).normal(size=size)
    sims = len(draws)
    alive = np.ones(sims, dtype=bool)
    stopped_at = np.full(sims, plan.seed_count)  # in seeds, as the looks count them
    per_look = []
    for level in levels:
        n = level.seeds * per_seed  # differences at this look
        before = alive.copy()
        x = draws[:, :n]
        mean, sd = x.mean(axis=1), x.std(axis=1, ddof=1)
        se = sd / math.sqrt(n)
        t_sup = sps.t.ppf(1 - level.alpha / 2, n - 1)
        t_eq = sps.t.ppf(1 - level.alpha_eq, n - 1)
        dz = mean / sd
        equivalent = (mean - t_eq * se > -rope_sd) & (mean + t_eq * se < rope_sd)
        hits = {
            "equivalent": equivalent,
            "supported": ~equivalent & (mean - t_sup * se > 0) & (dz >= GATE_DZ),
            "refuted": ~equivalent & (mean + t_sup * se < 0) & (dz <= -GATE_DZ),
        }
        row: dict[str, float] = {}
        for name, hit in hits.items():
            row[name] = float(np.mean(alive & hit))
            alive &= ~hit
        row["futile"] = 0.0
        if plan.futility and level is not levels[-1] and alive.any():
            last, open_ = levels[-1], np.flatnonzero(alive)
            chances = outcome_probabilities(
                hedges(1.0, n) * dz[open_],
                rope_sd / sd[open_],
                np.full(len(open_), last.seeds * per_seed),
                last.alpha,
                last.alpha_eq,
            )
            hopeless = np.all([p < plan.futility_power for p in chances.values()], axis=0)
            row["futile"] = float(np.count_nonzero(hopeless)) / sims
            alive[open_[hopeless]] = False
        per_look.append(row)
        stopped_at[before & ~alive] = level.seeds
    return OperatingCharacteristics(
        delta=delta,
        rope_sd=rope_sd,
        stop=tuple(per_look),
        inconclusive=float(np.mean(alive)),
        expected_seeds=float(stopped_at.mean()),
        sims=sims,
    )
