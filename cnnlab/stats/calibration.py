"""Critical values for the paired t statistic at a sequential plan's looks, found by simulation.

The z boundaries of `cnnlab.stats.boundaries` are exact for a normal statistic with known
variance. The plan decides on Student t statistics with few degrees of freedom (4 at 5 seeds),
and converting each z boundary to a t boundary by its nominal level spends more than the
spending function allots, because the looks' t statistics share their variance estimates: one
claim at α = 0.05 is falsely decided 5.4 % of the time, not 5 %. Skewed paired differences (a
seed that trains badly) move it further, since t's tails follow the data's skew at small n.

So the critical values are chosen for t itself: for each look in turn, the smallest value at
which, under *every* noise shape of the guaranteed family (`GUARANTEED`), the chance of having
crossed by that look (at any earlier look included) is at most the α the spending function
allots by then. Futility plays no part (it never lowers a critical value), so a futility stop
is truly non-binding, and the repeated confidence interval (mean ± c_k·SE) covers the true mean
at every look at once with probability at least 1 − α, because "some look's interval misses
the mean" is exactly "some look's t crosses its value" at the true mean.

- Superiority is two-sided: |t_k| ≥ c_k;
- each one-sided test of TOST rejects at t_k ≤ −c_k; the family holds each shape and its
  mirror image, so the same value serves the other edge of the ROPE.

Each shape is drawn `reps` times from a generator seeded with `SIMULATION_SEED` (fixed in the
code before the first run), and values are rounded *up* to `ROUNDING`, so the table never
gives a look more than its share. Random streams change across numpy versions, so reports
never re-simulate: shipped plans read `calibrated_boundaries.json` (written by
`python -m cnnlab.stats.calibration`, checked by tests/stats/test_calibration.py).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from cnnlab.spec.sequential import SequentialPlan, plan_hash
from cnnlab.stats.boundaries import spent

Array = npt.NDArray[np.float64]
Draw = Callable[[np.random.Generator, tuple[int, int]], Array]
Family = Literal["guaranteed", "normal"]

SIMULATION_SEED = 20261206
REPS = 200_000  # per shape; the guarantee asks for ≥ 100,000
ROUNDING = 0.001
TABLE = Path(__file__).with_name("calibrated_boundaries.json")
# The rule's version, stored with each judgement: reports judged before it existed say they
# were re-judged after the data were seen.
RULE = "t-calibrated-2026-12"


# Every shape has mean 0 and variance 1, so a true effect δ is δ added in SD units.


def _gamma(shape: float) -> Draw:
    """Gamma differences, standardised: skewness 2/√shape (shape 4: skewness 1)."""
    return lambda rng, size: (rng.gamma(shape, size=size) - shape) / math.sqrt(shape)


def _bad_seeds(share: float, depth: float) -> Draw:
    """Normal differences where a `share` of seeds train badly, `depth` SD low, standardised."""
    scale = math.sqrt(1 + depth * depth * share * (1 - share))
    return lambda rng, size: (
        (rng.standard_normal(size) - depth * (rng.random(size) < share) + depth * share) / scale
    )


def _student(df: float) -> Draw:
    """Student t differences, standardised (heavy symmetric tails)."""
    return lambda rng, size: rng.standard_t(df, size=size) / math.sqrt(df / (df - 2))


def _truncated_exponential(length: float) -> Draw:
    """Exponential differences cut at `length`, standardised (length 3.0220: skewness 1).

    Among log-concave shapes of a given skewness the truncated exponentials are the extreme
    ones, and they move t's tail the most of every shape tried at skewness 1 (gamma, Weibull,
    skew-normal, half-normal, beta, lognormal all cross less): the hard edge near the mean
    makes the sample SD shrink with the sample mean."""
    q = math.exp(-length)
    mean = 1 - length * q / (1 - q)
    sd = math.sqrt(1 - length * length * q / (1 - q) ** 2)
    return lambda rng, size: (-np.log1p(-rng.random(size) * (1 - q)) - mean) / sd


def _mirror(draw: Draw) -> Draw:
    return lambda rng, size: -draw(rng, size)


# The noise shapes the plan guarantees its error rates under, and so every log-concave shape of
# skewness up to 1 either way (gamma, Weibull, beta, skew-normal, …, whose extremes are the
# truncated exponentials), symmetric tails as heavy as t3, and a few badly trained seeds
# (skewness ∓1.17). Shapes outside, such as two-point-like ones, are tabulated in
# docs/statistics.md, not guaranteed.
GUARANTEED: dict[str, Draw] = {
    "normal": lambda rng, size: rng.standard_normal(size),
    "t3": _student(3.0),
    "gamma 4 (skewness +1)": _gamma(4.0),
    "gamma 4 mirrored (skewness −1)": _mirror(_gamma(4.0)),
    "truncated exponential (skewness +1)": _truncated_exponential(3.0220),
    "truncated exponential mirrored (skewness −1)": _mirror(_truncated_exponential(3.0220)),
    "5 % of seeds 4 SD low": _bad_seeds(0.05, 4.0),
    "5 % of seeds 4 SD high": _mirror(_bad_seeds(0.05, 4.0)),
}
# Shapes no rule holds α under at 5 seeds with useful power: tabulated, not guaranteed.
BEYOND: dict[str, Draw] = {
    "two-point, skewness +1 (a seed trains well or not)": lambda rng, size: (
        ((rng.random(size) < 0.2764).astype(float) - 0.2764) / math.sqrt(0.2764 * (1 - 0.2764))
    ),
    "centred exponential (skewness +2)": _gamma(1.0),
    "centred exponential mirrored (skewness −2)": _mirror(_gamma(1.0)),
    "20 % of seeds 4 SD low": _bad_seeds(0.20, 4.0),
}
FAMILIES: dict[Family, tuple[str, ...]] = {"guaranteed": tuple(GUARANTEED), "normal": ("normal",)}


def skewness_se(n: int) -> float:
    """The standard error of the adjusted sample skewness G1 of n normal values."""
    return math.sqrt(6.0 * n * (n - 1) / ((n - 2) * (n + 1) * (n + 3)))


def skew_beyond_guarantee(skewness: float, se: float) -> bool:
    """The diagnostic a report prints: sample skewness beyond the guaranteed ±1 by more than
    two standard errors. It informs and never withholds a verdict: at the first looks' seed
    counts it cannot fire (G1 of 5 values is at most 2.24, and 1 + 2 SE is 2.83), which is the
    point: skewness cannot be checked there (docs/statistics.md tabulates its rates)."""
    return abs(skewness) > 1 + 2 * se


def t_statistics(draws: Array, looks: Sequence[int]) -> Array:
    """The paired t statistic (mean over SE, null mean 0) of each row's first n draws, for each
    look n: an array of rows × looks."""
    sums, squares = np.cumsum(draws, axis=1), np.cumsum(draws * draws, axis=1)
    columns = []
    for n in looks:
        mean = sums[:, n - 1] / n
        variance = np.maximum(squares[:, n - 1] - n * mean * mean, 0.0) / (n - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            # no spread (a two-point shape's identical draws): not judged, never crossing
            columns.append(np.where(variance > 0, mean / np.sqrt(variance / n), np.nan))
    return np.stack(columns, axis=1)


def shape_draws(name: str, delta: float, reps: int, seeds: int, seed: int) -> Array:
    """`reps` rows of `seeds` paired differences in SD units, true mean `delta`, of a named
    shape (from `GUARANTEED` or `BEYOND`)."""
    shapes = {**GUARANTEED, **BEYOND}
    if name not in shapes:
        raise ValueError(f"no noise shape {name!r}; known: {', '.join(shapes)}")
    return delta + shapes[name](np.random.default_rng(seed), (reps, seeds))


def shape_statistics(
    names: Sequence[str], looks: Sequence[int], reps: int, seed: int = SIMULATION_SEED
) -> dict[str, Array]:
    """t statistics at the looks under each named shape, from streams seeded per shape."""
    shapes = {**GUARANTEED, **BEYOND}
    out = {}
    for index, name in enumerate(names):
        rng = np.random.default_rng([seed, index])
        out[name] = t_statistics(shapes[name](rng, (reps, looks[-1])), looks)
    return out


def critical_values(
    statistics: Sequence[Array],
    spent_by_look: Sequence[float] | Array,
    floors: Sequence[float] | None = None,
) -> list[float]:
    """The smallest value per look such that, for every array of statistics (rows × looks), the
    share of rows at or above it at that look or earlier is at most `spent_by_look`, and no
    smaller than the look's `floor`.

    Rows with an undefined statistic (no spread) never cross. Values are rounded up to
    `ROUNDING`; a look with nothing to spend gets inf.
    """
    alive = [np.ones(len(s), dtype=bool) for s in statistics]
    crossed = [0] * len(statistics)
    values: list[float] = []
    for look, budget in enumerate(spent_by_look):
        needed = 0.0
        for index, stats in enumerate(statistics):
            allowed = math.floor(budget * len(stats) + 1e-9) - crossed[index]
            column = np.sort(np.nan_to_num(stats[alive[index], look], nan=-np.inf))[::-1]
            if allowed < 0:
                raise AssertionError("an earlier look spent more than allotted")
            if allowed >= len(column):
                continue
            # crossing needs stat ≥ value: the value must be above the (allowed + 1)-th largest
            needed = max(needed, float(np.nextafter(column[allowed], np.inf)))
        if floors is not None:
            needed = max(needed, floors[look])
        value = math.ceil(needed / ROUNDING) * ROUNDING if math.isfinite(needed) else math.inf
        value = round(value, 6)
        values.append(value)
        for index, stats in enumerate(statistics):
            hit = alive[index] & (np.nan_to_num(stats[:, look], nan=-np.inf) >= value)
            crossed[index] += int(np.count_nonzero(hit))
            alive[index] &= ~hit
    return values


@dataclass(frozen=True)
class Calibration:
    """A plan's critical values for one of `claims` claims, and how they were found."""

    superiority: tuple[float, ...]  # two-sided: |t| ≥ value decides
    equivalence: tuple[float, ...]  # each one-sided TOST test: t ≤ −value rejects
    family: Family
    reps: int
    seed: int


def calibrate(
    plan: SequentialPlan,
    claims: int,
    *,
    family: Family = "guaranteed",
    reps: int = REPS,
    seed: int = SIMULATION_SEED,
) -> Calibration:
    """Simulate the plan's critical values (seconds: `reps` × last look draws per shape)."""
    per_claim = plan.alpha / max(claims, 1)
    fractions = [n / plan.seed_count for n in plan.looks]
    stats = shape_statistics(FAMILIES[family], plan.looks, reps, seed)
    budget = spent(plan.spending, fractions, per_claim, plan.gamma)
    # Under normal noise the look's t alone may not cross more often than the whole budget
    # so far, which bounds the value from below exactly (Student t); it binds only where the
    # budget is too small for `reps` draws to resolve (an O'Brien–Fleming first look).
    degrees = [n - 1 for n in plan.looks]
    superiority = critical_values(
        [np.abs(s) for s in stats.values()],
        budget,
        [float(sps.t.isf(b / 2, df)) for b, df in zip(budget, degrees, strict=True)],
    )
    # The lower tail of every shape and its mirror is both tails of each.
    equivalence = critical_values(
        [-s for s in stats.values()],
        budget,
        [float(sps.t.isf(b, df)) for b, df in zip(budget, degrees, strict=True)],
    )
    return Calibration(tuple(superiority), tuple(equivalence), family, reps, seed)


def table_key(plan: SequentialPlan, claims: int) -> str:
    return f"{plan_hash(plan)}/{claims}"


@functools.cache
def _table() -> dict[str, dict[str, object]]:
    entries: dict[str, dict[str, object]] = json.loads(TABLE.read_text())["plans"]
    return entries


def shipped(plan: SequentialPlan, claims: int) -> Calibration | None:
    """The shipped table's calibration for the plan and claim count, if it has one."""
    entry = _table().get(table_key(plan, claims))
    if entry is None:
        return None
    return Calibration(
        superiority=tuple(float(v) for v in entry["superiority"]),  # type: ignore[attr-defined]
        equivalence=tuple(float(v) for v in entry["equivalence"]),  # type: ignore[attr-defined]
        family=entry["family"],  # type: ignore[arg-type]
        reps=int(entry["reps"]),  # type: ignore[call-overload]
        seed=int(entry["seed"]),  # type: ignore[call-overload]
    )


@functools.lru_cache(maxsize=64)
def calibration(plan: SequentialPlan, claims: int) -> Calibration:
    """The plan's critical values: from the shipped table, or simulated now with the fixed
    seed for a plan the table lacks (a user's own plan)."""
    return shipped(plan, claims) or calibrate(plan, claims)


def table_entry(plan: SequentialPlan, claims: int, found: Calibration) -> dict[str, object]:
    return {"plan": asdict(plan), "claims": claims, **asdict(found)}


def shipped_plans() -> list[tuple[SequentialPlan, int]]:
    """The (plan, claim count) pairs the table covers: every shipped sweep's plan, for 1 to
    `MAX_TABLED_CLAIMS` claims (so adding a claim to a shipped sweep needs no simulation)."""
    from cnnlab.spec.loading import load_sweep, shipped_names

    plans = {s.plan for s in map(load_sweep, shipped_names()) if s.plan is not None}
    return [(p, m) for p in sorted(plans, key=plan_hash) for m in range(1, MAX_TABLED_CLAIMS + 1)]


MAX_TABLED_CLAIMS = 8


def write_table(path: Path = TABLE) -> None:
    """Calibrate every shipped plan and write the table (a maintainer's step, minutes)."""
    entries = {}
    for plan, claims in shipped_plans():
        found = calibrate(plan, claims)
        entries[table_key(plan, claims)] = table_entry(plan, claims, found)
        print(f"{table_key(plan, claims)}: {found.superiority} / {found.equivalence}")
    body = {"rule": RULE, "shapes": list(GUARANTEED), "plans": entries}
    path.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write_table()
