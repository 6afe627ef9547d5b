"""The verdict of a claim over paired seeds: pure functions, no I/O, no randomness.

For a claim "A beats B on M", the paired differences d_s = M(A, s) − M(B, s) (sign flipped
for metrics where lower is better, so d > 0 always means "the claim's direction") are judged
by one rule, and the intervals that decide are the intervals a report shows:

1. *equivalent* when the (1 − 2α_eq) Student t interval lies inside the ROPE: the two one-sided
   tests (TOST, Schuirmann 1987; Lakens 2017) at level α_eq, where α_eq is the claim's Holm
   level within the family of equivalence tests of the report. A difference that is also
   detectable (its superiority interval excludes 0) is still practically equivalent: a note says so.
2. *supported* when the (1 − α) t interval lies above 0 — α the claim's Holm level within the
   family of superiority tests — and the estimated P(A>B) = Φ(d̄/s) is at least 0.75
   (dz ≥ 0.674: A must beat B on most seeds, not only on average);
   *refuted*, the mirror image;
3. *inconclusive* otherwise, with the reason recorded (which interval includes what, or which
   gate was missed) and a plan of the paired seeds that would decide it (`cnnlab.stats.planning`).

Holm levels are the step-down levels α/(m − rank + 1), frozen at the first claim the step-down
keeps: a claim is rejected exactly when its interval at its level excludes the null, so the
displayed interval and the verdict cannot disagree.

Beside the deciding numbers: Hedges' correction of dz, an exact noncentral-t interval of
P(A>B), the win count with its Wilson interval, and the signed-rank test on differences
rounded to the metric's resolution (a diagnostic; it never decides).

Two kinds of differences are not judged, and are *inconclusive* with a note saying why: fewer
than `MIN_PAIRS`, and differences with no spread (all equal: a t statistic divides by an SD of
0), unless all are exactly 0 and the ROPE is positive, which is equivalence by any reading.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import stats as sps

from cnnlab.stats.intervals import hedges, prob_interval, t_interval, wilson
from cnnlab.stats.planning import GATE_DZ, PROB_THRESHOLD, SeedAdvice, advise
from cnnlab.stats.ranks import signed_rank, snap

Verdict = Literal["supported", "refuted", "equivalent", "inconclusive"]
ALPHA = 0.05
# With 2 pairs the SD (and so P(A>B) and power) rests on one degree of freedom and the t
# interval is ±12.7 SE wide: nothing a verdict could stand on.
MIN_PAIRS = 3
# Metrics are counts over a test set (k / 10,000), so differences equal in exact arithmetic
# can differ in the last bits after subtraction (~1e-16); a test would divide by that noise.
SPREAD_TOLERANCE = 1e-9  # relative to the largest |difference|

__all__ = [
    "ALPHA",
    "GATE_DZ",
    "MIN_PAIRS",
    "PROB_THRESHOLD",
    "ClaimData",
    "ClaimResult",
    "PairedSummary",
    "decide_claim",
    "evaluate_claims",
    "holm",
    "paired_p_value",
    "paired_summary",
    "paired_t_test",
    "superiority_thresholds",
    "untestable_reason",
]


@dataclass(frozen=True)
class PairedSummary:
    n: int
    mean: float
    sd: float
    dz: float  # standardized paired effect mean/SD (0 when SD is 0 and mean is 0)

    @property
    def t(self) -> float:
        """The paired t statistic √n·d̄/s."""
        return self.dz * math.sqrt(self.n) if self.n else math.nan


def seed_means(
    seeds: Sequence[int], differences: Sequence[float] | np.ndarray
) -> tuple[tuple[int, ...], np.ndarray]:
    """One difference per seed, in seed order: the mean of the seed's replicates.

    A randomized design pairs arms within (seed, background) replicates, but its replicates
    share a seed (its data order), so they need not be independent: the seed is the unit that
    is, and judging its mean keeps the t test valid whatever the correlation within a seed.
    Treating every replicate as an independent pair is anti-conservative when they correlate.
    """
    d = np.asarray(differences, dtype=float)
    keys = np.asarray(seeds, dtype=int)
    unique = np.unique(keys)
    return tuple(int(k) for k in unique), np.array([d[keys == k].mean() for k in unique])


def paired_summary(differences: Sequence[float] | np.ndarray) -> PairedSummary:
    d = np.asarray(differences, dtype=float)
    n = len(d)
    mean = float(d.mean()) if n else math.nan
    sd = float(d.std(ddof=1)) if n > 1 else math.nan
    if n > 1 and _no_spread(d):
        sd = 0.0  # rounding noise is not spread (see SPREAD_TOLERANCE)
    return PairedSummary(n=n, mean=mean, sd=sd, dz=_dz(mean, sd))


def _dz(mean: float, sd: float) -> float:
    if math.isnan(sd):
        return math.nan
    if sd == 0:
        return 0.0 if mean == 0 else math.copysign(math.inf, mean)
    return mean / sd


def _no_spread(d: np.ndarray) -> bool:
    """Whether all differences are equal, up to the rounding of the metric values."""
    return len(d) > 0 and float(np.ptp(d)) <= SPREAD_TOLERANCE * float(np.max(np.abs(d)))


def untestable_reason(differences: Sequence[float] | np.ndarray, rope: float) -> str | None:
    """Why these differences cannot be judged, as a report note (None when they can)."""
    d = np.asarray(differences, dtype=float)
    n = len(d)
    missing = int(np.count_nonzero(~np.isfinite(d)))
    if missing:
        # NaN would reach the t-test as p = NaN and, through Holm, every claim of the report.
        return (
            f"{missing} of the {n} paired differences are not numbers (NaN or infinite): the "
            "metric is missing from some runs, so no significance is claimed; check that every "
            "run recorded it"
        )
    if n < MIN_PAIRS:
        return (
            f"only {n} paired seed{'s' if n != 1 else ''}: a claim needs at least {MIN_PAIRS} "
            "paired seeds to be judged (with fewer there is no usable spread to test against), "
            "so no significance is claimed; run the sweep with more seeds"
        )
    if _no_spread(d) and not (np.all(d == 0) and rope > 0):
        return (
            f"the differences have no spread: all {n} equal {float(d[0]):+.6g}, so the test "
            "cannot tell a real effect from a rounding artefact. A metric that does not vary "
            "with the seed (params, flops) is a fact of the architecture to read directly; "
            "otherwise check that the seeds really change the runs"
        )
    return None


def paired_t_test(summary: PairedSummary) -> tuple[float, float]:
    """The t statistic and two-sided p-value of "mean difference 0" (NaN without spread)."""
    if summary.n < 2 or not summary.sd > 0:
        return math.nan, math.nan
    t = summary.t
    return t, float(2 * sps.t.sf(abs(t), summary.n - 1))


def paired_p_value(differences: Sequence[float] | np.ndarray) -> float:
    """The paired t-test's two-sided p-value, 1 where it cannot be computed (never evidence)."""
    d = np.asarray(differences, dtype=float)
    if len(d) < 2 or not np.all(np.isfinite(d)):
        return 1.0
    p = paired_t_test(paired_summary(d))[1]
    return 1.0 if math.isnan(p) else p


def _tost_p(summary: PairedSummary, rope: float) -> float:
    """The TOST p-value of "|μ| ≥ rope": the larger of the two one-sided p-values."""
    if summary.n >= 2 and summary.sd == 0:
        return 0.0 if summary.mean == 0 and rope > 0 else 1.0  # all zero, inside the ROPE
    se = summary.sd / math.sqrt(summary.n)
    df = summary.n - 1
    above_low = float(sps.t.sf((summary.mean + rope) / se, df))  # H0: μ ≤ −rope
    below_high = float(sps.t.cdf((summary.mean - rope) / se, df))  # H0: μ ≥ +rope
    return max(above_low, below_high)


def holm(p_values: Sequence[float], alpha: float = ALPHA) -> tuple[list[float], list[float]]:
    """Holm-adjusted p-values and each claim's level, consistent with the step-down.

    The level of the claim at rank j (0-based, by p) is α/(m − j) while the step-down keeps
    rejecting, and stays at the level where it stopped for every later claim: then "p < level"
    is exactly "adjusted p < α", and an interval at (1 − level) excludes the null exactly when
    the claim is rejected. (The plain per-rank levels α/(m − j) would let a later claim's
    interval exclude 0 after the step-down had stopped.)

    A NaN p-value (a test that could not be computed) counts as 1: sorting with NaN is
    undefined, and one NaN would otherwise make every adjusted p-value of the family NaN or 1.
    """
    p_values = [1.0 if math.isnan(p) else p for p in p_values]
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, levels = [0.0] * m, [0.0] * m
    running, stopped = 0.0, False
    level = alpha
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
        if not stopped:
            level = alpha / (m - rank)
            stopped = p_values[i] >= level
        levels[i] = level
    return adjusted, levels


@dataclass(frozen=True)
class ClaimData:
    """One claim's input: its statement, paired differences, ROPE and the metric's resolution."""

    statement: str
    differences: tuple[float, ...]
    rope: float
    resolution: float | None = None  # e.g. 1e-4 for accuracy over 10,000 test images


ClaimInput = (
    ClaimData | tuple[str, Sequence[float], float] | tuple[str, Sequence[float], float, float]
)


def _as_data(claim: ClaimInput) -> ClaimData:
    if isinstance(claim, ClaimData):
        return claim
    statement, differences, rope, *rest = claim
    return ClaimData(statement, tuple(float(x) for x in differences), float(rope), *rest)


@dataclass(frozen=True)
class ClaimResult:
    """A claim's verdict and every number behind it (differences in the metric's unit)."""

    statement: str
    verdict: Verdict
    decided_by: Literal["superiority", "equivalence", "none"]
    n: int
    mean: float
    sd: float
    dz: float  # d̄/s, the statistic the P(A>B) gate reads
    hedges_dz: float  # small-sample corrected dz, the effect size to quote
    rope: float
    # Superiority: the two-sided t interval at the claim's Holm level, and its test.
    alpha: float
    ci: tuple[float, float]
    ci_level: float
    p_value: float
    p_holm: float
    excludes_zero: bool
    # Equivalence: TOST at the claim's Holm level in the equivalence family.
    alpha_eq: float
    equivalence_ci: tuple[float, float]
    equivalence_level: float
    p_equivalence: float
    p_equivalence_holm: float
    inside_rope: bool
    # The gate and the descriptive numbers beside it.
    prob_better: float  # Φ(dz)
    prob_ci: tuple[float, float]  # exact (noncentral t), at ci_level
    gate_passed: bool  # P(A>B) ≥ 0.75 in the direction of the interval (or of the mean)
    wins: int
    ties: int
    win_ci: tuple[float, float]  # Wilson, ties counted half, at ci_level
    rank_p: float | None
    rank_note: str
    resolution: float | None
    advice: SeedAdvice | None  # seeds that would decide an inconclusive claim
    untestable: str = ""  # why it could not be judged at all (empty when it was)
    notes: tuple[str, ...] = field(default=())

    @property
    def interval(self) -> tuple[tuple[float, float], float]:
        """The interval that decided (the superiority one for an undecided claim), and its level."""
        if self.decided_by == "equivalence":
            return self.equivalence_ci, self.equivalence_level
        return self.ci, self.ci_level


_NAN_PAIR = (math.nan, math.nan)


def equivalence_level(alpha_eq: float) -> float:
    """The interval TOST at level α decides with: 1 − 2α (Lakens 2017), not 1 − α."""
    return 1 - 2 * alpha_eq


def superiority_thresholds(n: int, alpha: float) -> tuple[float, float]:
    """(|t|, |dz|) a claim judged on `n` paired differences at two-sided level `alpha` must
    exceed to be supported or refuted: the t interval excludes 0 only when |t| exceeds the
    (1 − α/2) quantile of t on n − 1 degrees of freedom, and the P(A>B) gate then needs
    |dz| = |t|/√n at least `GATE_DZ` as well, so the observed dz must reach the larger of the two.
    """
    t = float(sps.t.ppf(1 - alpha / 2, n - 1))
    return t, max(t / math.sqrt(n), GATE_DZ)


def _differences(data: ClaimData) -> np.ndarray:
    """The differences as judged: at the metric's resolution when it has one."""
    if data.resolution:
        return snap(data.differences, data.resolution)
    return np.asarray(data.differences, dtype=float)


def decide_claim(
    claim: ClaimInput,
    *,
    alpha: float,
    alpha_eq: float,
    p_holm: float | None = None,
    p_eq_holm: float | None = None,
    full: bool = True,
) -> ClaimResult:
    """One claim's verdict at given levels: superiority at two-sided `alpha`, TOST at `alpha_eq`.

    `evaluate_claims` calls it with each claim's Holm levels; a sequential plan with the
    nominal levels of a look's boundaries. `p_holm` and `p_eq_holm` are only reported (they
    default to the unadjusted p-values).
    """
    data = _as_data(claim)
    d = _differences(data)
    untestable = untestable_reason(d, data.rope)  # at the resolution the verdict reads
    tested = untestable is None
    summary = paired_summary(d)
    p_value = paired_t_test(summary)[1] if tested else math.nan
    p_eq = _tost_p(summary, data.rope) if tested else 1.0
    p_holm = (1.0 if math.isnan(p_value) else p_value) if p_holm is None else p_holm
    p_eq_holm = p_eq if p_eq_holm is None else p_eq_holm
    finite = summary.n > 0 and bool(np.all(np.isfinite(d)))
    eq_level = equivalence_level(alpha_eq)
    ci = t_interval(d, 1 - alpha) if finite else _NAN_PAIR
    eq_ci = t_interval(d, eq_level) if finite else _NAN_PAIR
    # Strict inequalities: an interval that touches the ROPE's edge or 0 has not excluded it.
    inside = finite and -data.rope < eq_ci[0] and eq_ci[1] < data.rope
    above, below = finite and ci[0] > 0, finite and ci[1] < 0
    prob = float(sps.norm.cdf(summary.dz)) if not math.isnan(summary.dz) else math.nan
    toward_b = below or (not above and summary.mean < 0)
    gate = prob <= 1 - PROB_THRESHOLD if toward_b else prob >= PROB_THRESHOLD
    verdict: Verdict = "inconclusive"
    decided_by: Literal["superiority", "equivalence", "none"] = "none"
    notes: list[str] = []
    if tested and inside:
        verdict, decided_by = "equivalent", "equivalence"
        if above or below:
            notes.append(
                "the difference is statistically detectable but smaller than the ROPE: "
                "practically equivalent"
            )
    elif tested and above and gate:
        verdict, decided_by = "supported", "superiority"
    elif tested and below and gate:
        verdict, decided_by = "refuted", "superiority"
    usable = tested and summary.n >= 2 and summary.sd > 0
    described = usable and full
    wins = int(np.count_nonzero(d > 0)) if finite else 0
    ties = int(np.count_nonzero(d == 0)) if finite else 0
    rank = signed_rank(d, data.resolution, alpha) if described else None
    return ClaimResult(
        statement=data.statement,
        verdict=verdict,
        decided_by=decided_by,
        n=summary.n,
        mean=summary.mean,
        sd=summary.sd,
        dz=summary.dz,
        hedges_dz=hedges(summary.dz, summary.n),
        rope=data.rope,
        alpha=alpha,
        ci=ci,
        ci_level=1 - alpha,
        p_value=p_value,
        p_holm=p_holm,
        excludes_zero=above or below,
        alpha_eq=alpha_eq,
        equivalence_ci=eq_ci,
        equivalence_level=eq_level,
        p_equivalence=p_eq,
        p_equivalence_holm=p_eq_holm,
        inside_rope=bool(inside),
        prob_better=prob,
        prob_ci=prob_interval(summary.t, summary.n, 1 - alpha) if described else _NAN_PAIR,
        gate_passed=bool(gate) if tested else False,
        wins=wins,
        ties=ties,
        win_ci=wilson(wins + ties / 2, summary.n, 1 - alpha) if finite else _NAN_PAIR,
        rank_p=rank.p_value if rank else None,
        rank_note=rank.note if rank else "",
        resolution=data.resolution,
        advice=(
            advise(summary.mean, summary.sd, summary.n, data.rope, alpha, alpha_eq)
            if described and verdict == "inconclusive"
            else None
        ),
        untestable=untestable or "",
        notes=tuple(notes),
    )


def evaluate_claims(
    claims: Sequence[ClaimInput], *, alpha: float = ALPHA, full: bool = True
) -> list[ClaimResult]:
    """Verdicts for the claims of one report.

    Each claim is a `ClaimData` or a tuple (statement, differences, ROPE[, resolution]).
    Holm's correction runs across all of them, once for the superiority tests and once for the
    equivalence tests (two families). `full=False` skips what cannot change a verdict — the
    seeds-needed plan, the P(A>B) interval and the rank test — for simulations of thousands
    of claims.
    """
    data = [_as_data(c) for c in claims]
    reasons = [untestable_reason(_differences(c), c.rope) for c in data]
    summaries = [paired_summary(_differences(c)) for c in data]
    raw = [
        paired_t_test(s)[1] if reason is None else 1.0
        for s, reason in zip(summaries, reasons, strict=True)
    ]
    raw_eq = [
        _tost_p(s, c.rope) if reason is None else 1.0
        for s, c, reason in zip(summaries, data, reasons, strict=True)
    ]
    adjusted, levels = holm(raw, alpha)
    adjusted_eq, levels_eq = holm(raw_eq, alpha)
    return [
        decide_claim(
            c,
            alpha=levels[i],
            alpha_eq=levels_eq[i],
            p_holm=adjusted[i],
            p_eq_holm=adjusted_eq[i],
            full=full,
        )
        for i, c in enumerate(data)
    ]
