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
  ROPE). The critical value each look's t statistic must reach is calibrated by simulation
  (`cnnlab.stats.calibration`) so that the spending holds for t itself, under normal,
  heavy-tailed and skewed noise; a look's nominal level is where Student t crosses it.
- The interval reported at the deciding look is that look's repeated confidence interval
  (Jennison & Turnbull 2000, ch. 9): at the nominal level that decided, so it matches the
  decision, and jointly over the looks it covers with probability at least 1 − α/m.
- Futility (non-binding): an undecided claim stops at look k < K when, at its estimated
  effect, the rule's own power at the last look is below the plan's `futility_power` for every
  outcome, and the next look's seeds are not there. The levels were calibrated with futility
  off, so it can only lower the error rates, and seeds that exist anyway are judged.

A randomized design's unit is the seed: `ClaimSeries.at` judges each seed's mean over its
replicates (`cnnlab.stats.paired.seed_means`).

`simulate_plan` runs the rule vectorised over simulated claims; `operating_characteristics`
summarises it for a claim at a given true effect (per-look stopping probabilities by outcome,
expected seeds), which reports print.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from cnnlab.spec.sequential import SequentialPlan
from cnnlab.stats.boundaries import spending_boundaries
from cnnlab.stats.calibration import Calibration, calibration
from cnnlab.stats.intervals import hedges
from cnnlab.stats.paired import ClaimData, ClaimResult, decide_claim, seed_means
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
    """Each look's nominal levels for one of `claims` claims: the levels at which Student t
    crosses the plan's calibrated critical values (`cnnlab.stats.calibration`)."""
    return levels_at(plan, calibration(plan, claims))


def levels_at(plan: SequentialPlan, found: Calibration) -> tuple[LookLevel, ...]:
    """The levels at which a t statistic with n − 1 degrees of freedom crosses each look's
    critical values: a look decides "supported" when the (1 − alpha) interval excludes 0,
    exactly when |t| ≥ its superiority value."""
    return tuple(
        LookLevel(
            k + 1,
            n,
            float(2 * sps.t.sf(found.superiority[k], n - 1)),
            float(sps.t.sf(found.equivalence[k], n - 1)),
        )
        for k, n in enumerate(plan.looks)
    )


def z_derived_levels(plan: SequentialPlan, claims: int) -> tuple[LookLevel, ...]:
    """The rule before calibration: the z boundaries' nominal levels used for t. Kept to show
    (and test) what it spent: more than α, most of all under skew."""
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
        """The claim's data at a look of `seeds` seeds (one difference per seed: the mean of
        its replicates, see `seed_means`), or None while that look is incomplete."""
        pairs = [(s, d) for s, d in zip(self.seeds, self.differences, strict=True) if s < seeds]
        if len(pairs) < seeds * self.per_seed:
            return None
        if self.per_seed == 1:
            chosen = tuple(d for _, d in pairs)
        else:
            _, means = seed_means([s for s, _ in pairs], [d for _, d in pairs])
            chosen = tuple(float(x) for x in means)
        return ClaimData(self.statement, chosen, self.rope, self.resolution)


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


def futile(result: ClaimResult, last: LookLevel, threshold: float) -> bool:
    """Whether the rule's own power at the last look (last.seeds seeds), at the
    estimated effect, is below `threshold` for every outcome (non-binding: see the module
    docstring)."""
    if not (result.sd > 0 and math.isfinite(result.mean)) or result.untestable:
        return False  # nothing to estimate from: let the next look judge
    effect = hedges(result.mean / result.sd, result.n)
    chances = outcome_probabilities(
        effect,
        result.rope / result.sd,
        np.array([last.seeds]),
        last.alpha,
        last.alpha_eq,
    )
    return all(float(p[0]) < threshold for p in chances.values())


def judge_sequence(
    plan: SequentialPlan, claims: Sequence[ClaimSeries], *, full: bool = True
) -> list[SequentialClaim]:
    """Every claim judged at each complete look until it is decided, the plan ends, or it is
    futile at the last look whose seeds exist."""
    levels = look_levels(plan, len(claims))
    outcome = []
    for claim in claims:
        history: list[tuple[int, str]] = []
        result: ClaimResult | None = None
        status: Status = "open"
        judged_at: LookLevel | None = None
        for k, level in enumerate(levels):
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
            elif (
                plan.futility
                and claim.at(levels[k + 1].seeds) is None
                and futile(result, levels[-1], plan.futility_power)
            ):
                # Futility only says whether to train on: where the next look's seeds exist
                # anyway (another claim needed the arms, or an earlier rule trained them), the
                # claim is judged there too. The levels hold α with futility ignored.
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

    @property
    def supported(self) -> float:
        """P(the claim is supported by the plan's last look): its power at `delta`."""
        return sum(look.get("supported", 0.0) for look in self.stop)


OUTCOMES = ("equivalent", "supported", "refuted", "futile")


@dataclass(frozen=True)
class SimulatedPlan:
    """Each simulated claim's end under a plan: `outcome[i]` indexes `OUTCOMES` (−1: still
    undecided after the last look), `look[i]` is the 0-based look it stopped at (−1: none)."""

    outcome: npt.NDArray[np.int64]
    look: npt.NDArray[np.int64]


def simulate_plan(
    plan: SequentialPlan, levels: tuple[LookLevel, ...], draws: np.ndarray, rope_sd: float
) -> SimulatedPlan:
    """The rule of `judge_sequence`, vectorised over rows of `draws` (sims × last look
    differences in SD units): TOST at the look's one-sided level, else the superiority interval
    with the P(A>B) gate, else (before the last look, when the plan has it) futility."""
    sims = len(draws)
    outcome = np.full(sims, -1, dtype=np.int64)
    look = np.full(sims, -1, dtype=np.int64)
    for k, level in enumerate(levels):
        alive = outcome < 0
        n = level.seeds  # differences at this look (one per seed)
        x = draws[:, :n]
        mean, sd = x.mean(axis=1), x.std(axis=1, ddof=1)
        se = sd / math.sqrt(n)
        t_sup = sps.t.ppf(1 - level.alpha / 2, n - 1)
        t_eq = sps.t.ppf(1 - level.alpha_eq, n - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            dz = mean / sd
        equivalent = (mean - t_eq * se > -rope_sd) & (mean + t_eq * se < rope_sd)
        # Differences with no spread are not judged (`decide_claim`); only all-zero ones would
        # be equivalent, and simulated draws are never all zero.
        spread = sd > 0
        equivalent &= spread
        hits = (
            equivalent,
            spread & ~equivalent & (mean - t_sup * se > 0) & (dz >= GATE_DZ),
            spread & ~equivalent & (mean + t_sup * se < 0) & (dz <= -GATE_DZ),
        )
        for code, hit in enumerate(hits):
            chosen = alive & hit
            outcome[chosen], look[chosen] = code, k
            alive &= ~hit
        # as `futile`: nothing to estimate from without spread
        if plan.futility and level is not levels[-1] and (alive & spread).any():
            last, open_ = levels[-1], np.flatnonzero(alive & spread)
            chances = outcome_probabilities(
                hedges(1.0, n) * dz[open_],
                rope_sd / sd[open_],
                np.full(len(open_), last.seeds),
                last.alpha,
                last.alpha_eq,
            )
            hopeless = open_[np.all([p < plan.futility_power for p in chances.values()], axis=0)]
            outcome[hopeless], look[hopeless] = OUTCOMES.index("futile"), k
    return SimulatedPlan(outcome, look)


def operating_characteristics(
    plan: SequentialPlan,
    claims: int,
    delta: float,
    rope_sd: float,
    *,
    sims: int = 20_000,
    seed: int = 0,
    draws: np.ndarray | None = None,
    levels: tuple[LookLevel, ...] | None = None,
) -> OperatingCharacteristics:
    """Stopping probabilities per look and expected seeds, by `simulate_plan` on normal
    differences (SD 1) unless `draws` (sims × last look, SD units) are given.

    tests/stats/test_sequential.py checks it against `judge_sequence` itself on the same draws.
    A randomized design's unit is the seed (the mean of its replicates), so the draws are per
    seed there too; `levels` replaces the plan's own (to compare rules).
    """
    levels = look_levels(plan, claims) if levels is None else levels
    if draws is None:
        size = (sims, plan.seed_count)
        draws = delta + np.random.default_rng(seed).normal(size=size)
    sims = len(draws)
    ends = simulate_plan(plan, levels, draws, rope_sd)
    per_look = tuple(
        {name: float(np.mean((ends.look == k) & (ends.outcome == code)))
         for code, name in enumerate(OUTCOMES)}
        for k in range(len(levels))
    )  # fmt: skip
    seeds = np.array([level.seeds for level in levels])
    stopped_at = np.where(ends.look >= 0, seeds[np.maximum(ends.look, 0)], plan.seed_count)
    return OperatingCharacteristics(
        delta=delta,
        rope_sd=rope_sd,
        stop=per_look,
        inconclusive=float(np.mean(ends.outcome < 0)),
        expected_seeds=float(stopped_at.mean()),
        sims=sims,
    )


def power_at(plan: SequentialPlan, claims: int, delta: float = 1.0, sims: int = 20_000) -> float:
    """The plan's power before any result exists: P(supported by its last look) at a true dz of
    `delta`, with a ROPE too small to stop on (the differences' SD is not known yet)."""
    return operating_characteristics(plan, claims, delta, 0.0, sims=sims).supported
