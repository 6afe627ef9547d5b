"""How many paired seeds would decide a claim: the power of the verdict rule itself.

A claim's verdict (`cnnlab.stats.paired`) is *equivalent* when the (1 − 2α_eq) t interval
lies inside the ROPE, else *supported* when the (1 − α) t interval lies above 0 and
P(A>B) = Φ(d̄/s) ≥ 0.75, *refuted* the mirror image. With t = √n·d̄/s that is
t ≥ max(t_crit, z₀.₇₅·√n): the gate grows with √n, so at a true dz at or below 0.674 the
chance of "supported" never passes about 0.5 at any n (docs/statistics.md). Planning for a plain
t-test ignores that and promises seeds that do not decide.

`outcome_probabilities` gives the exact chance of each verdict at n pairs for a true
standardized effect δ = μ/σ and ROPE r = rope/σ: given the sample SD s, the mean d̄ is normal,
so each outcome is a normal probability; the remaining integral over s (a scaled χ with
n − 1 degrees of freedom) is done by Gauss–Legendre quadrature on its quantile scale. The
precedence of the rule (equivalence first) is kept: "supported" excludes outcomes that are
also equivalent.

`plan` turns that into seeds needed for each reachable outcome, over an interval of δ
(an exact 80 % interval from the noncentral t) rather than at its point estimate alone:
post-hoc power at the estimate is as noisy as the estimate.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special
from scipy import stats as sps

from cnnlab.stats.intervals import effect_interval, hedges

Outcome = Literal["supported", "refuted", "equivalent"]
PROB_THRESHOLD = 0.75  # P(A>B) a supported claim must reach
GATE_DZ = float(sps.norm.ppf(PROB_THRESHOLD))  # 0.674: P(A>B) ≥ 0.75 ⇔ d̄/s ≥ this
POWER = 0.8
PLANNING_LEVEL = 0.8  # the interval of δ the plan is made over
MAX_PLANNED = 1000  # beyond this, "no realistic number of seeds"
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(96)
_U = (_NODES + 1) / 2  # quantile levels of the sample SD, in (0, 1)
_W = _WEIGHTS / 2
_DELTA_GRID = 7  # points across the planning interval


@functools.lru_cache(maxsize=4096)
def _quadrature(n: int, alpha: float, alpha_eq: float) -> tuple[np.ndarray, float, float]:
    """At n pairs: the sample SD (in units of σ) at each quadrature node, and the two critical
    t values of the rule (superiority with the P(A>B) gate, TOST). Cached: sequential plans and
    simulations ask for the same few n again and again."""
    df = n - 1
    s = np.sqrt(sps.chi2.ppf(_U, df) / df)
    t_sup = max(float(sps.t.ppf(1 - alpha / 2, df)), GATE_DZ * math.sqrt(n))
    return s, t_sup, float(sps.t.ppf(1 - alpha_eq, df))


def outcome_probabilities(
    delta: float | np.ndarray,
    rope_sd: float | np.ndarray,
    n: np.ndarray,
    alpha: float,
    alpha_eq: float,
) -> dict[Outcome, np.ndarray]:
    """P(supported), P(refuted), P(equivalent) at each n (≥ 2) for a true effect δ.

    `rope_sd` is the ROPE in units of the SD of the differences; `alpha` the two-sided level of
    the superiority interval; `alpha_eq` the level of the TOST (its interval is 1 − 2α_eq).
    `delta` and `rope_sd` are scalars or arrays of n's shape (one scenario per entry).
    """
    sizes = np.atleast_1d(np.asarray(n, dtype=float))
    unique, where = np.unique(sizes, return_inverse=True)
    rows = [_quadrature(int(k), alpha, alpha_eq) for k in unique]
    s = np.stack([r[0] for r in rows])[where]
    t_sup = np.array([[r[1]] for r in rows])[where]
    t_eq = np.array([[r[2]] for r in rows])[where]
    root = np.sqrt(sizes)[:, None]
    delta = np.asarray(delta, dtype=float)[..., None] if np.ndim(delta) else float(delta)
    rope_sd = np.asarray(rope_sd, dtype=float)[..., None] if np.ndim(rope_sd) else float(rope_sd)
    cdf = special.ndtr  # Φ as a plain ufunc: scipy.stats.norm.cdf costs 4× in argument checks
    # d̄ ~ N(δ, 1/n): P(d̄ > x) = Φ(√n(δ − x)).
    above = t_sup * s / root  # d̄ at least this: the superiority side
    inner = rope_sd - t_eq * s / root  # |d̄| below this: equivalent (when positive)
    eq = np.where(inner > 0, cdf(root * (inner - delta)) - cdf(root * (-inner - delta)), 0.0)
    sup = cdf(root * (delta - above))
    ref = cdf(root * (-above - delta))
    # Outcomes in both regions are equivalent (the rule's precedence).
    sup_and_eq = np.where(
        inner > above, cdf(root * (inner - delta)) - cdf(root * (above - delta)), 0
    )
    ref_and_eq = np.where(
        inner > above, cdf(root * (-above - delta)) - cdf(root * (-inner - delta)), 0
    )
    return {
        "supported": (sup - sup_and_eq) @ _W,
        "refuted": (ref - ref_and_eq) @ _W,
        "equivalent": eq @ _W,
    }


# Every n up to 60, then steps of about 3 % (refined to the integer once the power is reached):
# a plan costs ~150 power curves instead of ~1,000.
_SEED_GRID = np.unique(
    np.concatenate([np.arange(3, 61), np.geomspace(60, MAX_PLANNED, 100)]).astype(int)
)


def seeds_for(
    outcome: Outcome,
    delta: float,
    rope_sd: float,
    alpha: float,
    alpha_eq: float,
    power: float = POWER,
) -> int | None:
    """The fewest paired seeds (≥ 3) at which `outcome` has at least `power`; None past the cap."""
    if not (math.isfinite(delta) and math.isfinite(rope_sd)):
        return None

    def first_reaching(grid: np.ndarray) -> int | None:
        chances = outcome_probabilities(delta, rope_sd, grid, alpha, alpha_eq)[outcome]
        reached = np.flatnonzero(chances >= power)
        return int(reached[0]) if len(reached) else None

    at = first_reaching(_SEED_GRID)
    if at is None:
        return None
    if at == 0 or _SEED_GRID[at] - _SEED_GRID[at - 1] == 1:
        return int(_SEED_GRID[at])
    between = np.arange(_SEED_GRID[at - 1] + 1, _SEED_GRID[at] + 1)
    refined = first_reaching(between)
    return int(between[refined]) if refined is not None else int(_SEED_GRID[at])


@dataclass(frozen=True)
class SeedsNeeded:
    """Paired seeds (in all, not additional) for `outcome` with the planning power."""

    outcome: Outcome
    at_estimate: int | None  # None: not reachable with MAX_PLANNED seeds
    fewest: int | None  # the most favourable δ of the interval
    most: int | None  # the least favourable (None: unreachable somewhere in the interval)


@dataclass(frozen=True)
class SeedAdvice:
    """Seeds needed for each reachable outcome, planned from the verdict rule's own power."""

    effect: float  # Hedges-corrected dz: the δ planned for
    interval: tuple[float, float]  # exact PLANNING_LEVEL interval of δ
    rope_sd: float  # the ROPE over the SD of the differences
    alpha: float
    alpha_eq: float
    outcomes: tuple[SeedsNeeded, ...]
    power: float = POWER
    level: float = PLANNING_LEVEL

    @property
    def decidable(self) -> bool:
        """Whether some outcome is reachable at the estimated effect."""
        return any(o.at_estimate is not None for o in self.outcomes)


def advise(
    mean: float, sd: float, n: int, rope: float, alpha: float, alpha_eq: float
) -> SeedAdvice | None:
    """Seeds needed for the claim's direction and for equivalence (None when n < 3 or SD 0)."""
    if n < 3 or not (sd > 0 and math.isfinite(mean)):
        return None
    dz = mean / sd
    effect = hedges(dz, n)
    low, high = effect_interval(dz * math.sqrt(n), n, PLANNING_LEVEL)
    rope_sd = rope / sd
    deltas = np.linspace(low, high, _DELTA_GRID)
    direction: Outcome = "supported" if effect >= 0 else "refuted"
    outcomes = []
    for outcome in (direction, "equivalent"):
        across = [seeds_for(outcome, float(x), rope_sd, alpha, alpha_eq) for x in deltas]
        reached = [x for x in across if x is not None]
        outcomes.append(
            SeedsNeeded(
                outcome=outcome,
                at_estimate=seeds_for(outcome, effect, rope_sd, alpha, alpha_eq),
                fewest=min(reached) if reached else None,
                most=max(reached) if len(reached) == len(across) else None,
            )
        )
    return SeedAdvice(
        effect=effect,
        interval=(low, high),
        rope_sd=rope_sd,
        alpha=alpha,
        alpha_eq=alpha_eq,
        outcomes=tuple(outcomes),
    )
