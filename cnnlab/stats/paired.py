"""Statistics for claims over paired seeds: pure functions, seeded, no I/O.

For a claim "A beats B on M", the paired differences d_s = M(A, s) − M(B, s) (sign flipped
for metrics where lower is better, so d > 0 always means "the claim's direction") give:
- mean, SD and a seeded percentile-bootstrap CI of the mean difference;
- a paired test: Student's t, or Wilcoxon's signed-rank test when the differences are far from
  normal (Shapiro–Wilk p < 0.05 with at least 8 pairs), with the reason recorded;
- P(A>B), the probability that A beats B on a new seed, estimated under the normal model as
  Φ(mean/SD) = Φ(dz), with a bootstrap CI. P(A>B) = 0.75 ⇔ dz = 0.674;
- Holm's step-down correction across the claims of one report;
- a verdict, decided in this order: *equivalent* when the CI at the Holm-adjusted level lies
  inside the ROPE (even when the difference is statistically detectable: a note says so);
  *supported* when the test is significant after Holm, the CI excludes 0 and P(A>B) ≥ 0.75;
  *refuted*, the same in the other direction; *inconclusive* otherwise, with the number of
  paired seeds a power analysis says would detect the observed effect.

Two kinds of differences are not judged at all, and are *inconclusive* with a note saying why:
fewer than `MIN_PAIRS` of them, and differences with no spread (all equal: a t statistic
divides by an SD of 0, and the bootstrap has nothing to resample), unless all are exactly 0
and inside the ROPE, which is equivalence by any reading.

"The CI" in those rules is the hull of the bootstrap CI and the t interval at the same level:
with few seeds the percentile bootstrap is too narrow (with 3 pairs it can exclude a ROPE's
edge that the data cannot), and a false "equivalent" is as wrong as a false "supported". The
report shows the bootstrap CI, and decides with the wider of the two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import stats as sps

Verdict = Literal["supported", "refuted", "equivalent", "inconclusive"]
ALPHA = 0.05
PROB_THRESHOLD = 0.75  # P(A>B) a claim must reach: dz = 0.674
BOOTSTRAP = 10_000
MAX_SEEDS = 10_000
# With 2 pairs the SD (and so P(A>B) and power) rests on one degree of freedom, the t interval
# is ±12.7 SE wide and the bootstrap has 3 distinct means: nothing a verdict could stand on.
MIN_PAIRS = 3
# Metrics are counts over a test set (k / 10,000), so differences equal in exact arithmetic
# can differ in the last bits after subtraction (~1e-16); a test would divide by that noise.
SPREAD_TOLERANCE = 1e-9  # relative to the largest |difference|


@dataclass(frozen=True)
class PairedSummary:
    n: int
    mean: float
    sd: float
    dz: float  # standardized paired effect mean/SD (0 when SD is 0 and mean is 0)


def paired_summary(differences: Sequence[float]) -> PairedSummary:
    d = np.asarray(differences, dtype=float)
    n = len(d)
    mean = float(d.mean()) if n else math.nan
    sd = float(d.std(ddof=1)) if n > 1 else math.nan
    return PairedSummary(n=n, mean=mean, sd=sd, dz=_dz(mean, sd))


def _dz(mean: float, sd: float) -> float:
    if math.isnan(sd):
        return math.nan
    if sd == 0:
        return 0.0 if mean == 0 else math.copysign(math.inf, mean)
    return mean / sd


def bootstrap_indices(n: int, seed: int, resamples: int = BOOTSTRAP) -> np.ndarray:
    """Resample indices (resamples × n), the same for every statistic of one claim."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_mean_ci(
    differences: Sequence[float], level: float, seed: int, resamples: int = BOOTSTRAP
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean difference at confidence `level`."""
    d = np.asarray(differences, dtype=float)
    means = d[bootstrap_indices(len(d), seed, resamples)].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def t_interval(differences: Sequence[float], level: float) -> tuple[float, float]:
    """Student's t interval for the mean difference."""
    summary = paired_summary(differences)
    if summary.n < 2 or summary.sd == 0:
        return summary.mean, summary.mean
    half = sps.t.ppf(1 - (1 - level) / 2, summary.n - 1) * summary.sd / math.sqrt(summary.n)
    return summary.mean - float(half), summary.mean + float(half)


def prob_better(differences: Sequence[float]) -> float:
    """P(A>B) on a new seed under the normal model: Φ(mean/SD)."""
    summary = paired_summary(differences)
    return float(sps.norm.cdf(summary.dz)) if not math.isnan(summary.dz) else math.nan


def prob_better_ci(
    differences: Sequence[float], level: float, seed: int, resamples: int = BOOTSTRAP
) -> tuple[float, float]:
    d = np.asarray(differences, dtype=float)
    samples = d[bootstrap_indices(len(d), seed + 1, resamples)]
    mean, sd = samples.mean(axis=1), samples.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        dz = np.where(sd > 0, mean / np.where(sd > 0, sd, 1), np.sign(mean) * np.inf)
    probs = sps.norm.cdf(dz)
    tail = (1 - level) / 2
    low, high = np.quantile(probs, [tail, 1 - tail])
    return float(low), float(high)


def _no_spread(d: np.ndarray) -> bool:
    """Whether all differences are equal, up to the rounding of the metric values."""
    return len(d) > 0 and float(np.ptp(d)) <= SPREAD_TOLERANCE * float(np.max(np.abs(d)))


def untestable_reason(differences: Sequence[float], rope: float) -> str | None:
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
            "cannot tell a real effect from a rounding artefact (and the bootstrap has nothing "
            "to resample). A metric that does not vary with the seed (params, flops) is a fact "
            "of the architecture to read directly; otherwise check that the seeds really change "
            "the runs"
        )
    return None


@dataclass(frozen=True)
class TestResult:
    name: Literal["paired t-test", "Wilcoxon signed-rank", "not tested"]
    p_value: float
    reason: str


def not_tested(reason: str) -> TestResult:
    """The stand-in for a test that cannot be computed: p = 1, so it never counts as evidence.

    It keeps its place in a Holm family (the claim was declared), but as the largest p-value
    it cannot take the strictest level away from a claim that was tested.
    """
    return TestResult("not tested", 1.0, reason)


def paired_test(differences: Sequence[float]) -> TestResult:
    """Two-sided paired test of mean (or median) difference 0; Wilcoxon when far from normal."""
    d = np.asarray(differences, dtype=float)
    n = len(d)
    if n < 2:
        return not_tested(f"{n} difference{'s' if n != 1 else ''} cannot be tested")
    if _no_spread(d):
        # t = mean / (SD/√n) with SD 0 gives p = 0 for any nonzero mean: an artefact, not
        # evidence (three identical +0.1 pp differences would be "significant").
        return not_tested("the differences have no spread (all equal)")
    if n >= 8:
        shapiro_p = float(sps.shapiro(d).pvalue)
        if shapiro_p < 0.05:
            p = float(sps.wilcoxon(d, zero_method="wilcox").pvalue)
            return TestResult(
                "Wilcoxon signed-rank",
                p,
                f"the differences are far from normal (Shapiro–Wilk p = {shapiro_p:.3f})",
            )
        reason = f"the differences look normal (Shapiro–Wilk p = {shapiro_p:.2f})"
    else:
        reason = f"{n} pairs are too few to judge normality; the t-test is the default"
    return TestResult("paired t-test", float(sps.ttest_1samp(d, 0.0).pvalue), reason)


def holm(p_values: Sequence[float]) -> tuple[list[float], list[float]]:
    """Holm-adjusted p-values and the per-claim significance level α/(m − rank + 1).

    A NaN p-value (a test that could not be computed) counts as 1: sorting with NaN is
    undefined, and one NaN would otherwise make every adjusted p-value of the family NaN or 1.
    """
    p_values = [1.0 if math.isnan(p) else p for p in p_values]
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, levels = [0.0] * m, [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
        levels[i] = ALPHA / (m - rank)
    return adjusted, levels


def paired_t_power(dz: float, n: int, alpha: float = ALPHA) -> float:
    """Power of a two-sided paired t-test for a standardized effect dz with n pairs."""
    if n < 2:
        return 0.0
    df = n - 1
    critical = sps.t.ppf(1 - alpha / 2, df)
    shift = abs(dz) * math.sqrt(n)
    return float(sps.nct.sf(critical, df, shift) + sps.nct.cdf(-critical, df, shift))


def seeds_needed(dz: float, alpha: float = ALPHA, power: float = 0.8) -> int | None:
    """Paired seeds for `power` at effect dz (None when dz is 0 or would need > MAX_SEEDS)."""
    if not math.isfinite(dz) or dz == 0:
        return None
    # Start from the normal approximation, then step with the exact noncentral t power.
    z = float(sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power))
    n = max(2, math.floor((z / abs(dz)) ** 2))
    if n > MAX_SEEDS:
        return None
    while n > 2 and paired_t_power(dz, n - 1, alpha) >= power:
        n -= 1
    while paired_t_power(dz, n, alpha) < power:
        n += 1
        if n > MAX_SEEDS:
            return None
    return n


@dataclass(frozen=True)
class ClaimResult:
    """A claim's verdict and every number behind it (differences in the metric's unit)."""

    statement: str
    verdict: Verdict
    n: int
    mean: float
    sd: float
    dz: float
    ci: tuple[float, float]  # percentile bootstrap
    t_ci: tuple[float, float]  # Student's t, same level
    ci_level: float
    test: str
    test_reason: str
    p_value: float
    p_holm: float
    prob_better: float
    prob_ci: tuple[float, float]
    rope: float
    seeds_needed: int | None
    notes: tuple[str, ...] = field(default=())


def decide(
    statement: str,
    differences: Sequence[float],
    *,
    rope: float,
    p_holm: float,
    level_alpha: float,
    p_value: float,
    test: TestResult,
    seed: int,
    resamples: int = BOOTSTRAP,
) -> ClaimResult:
    """The verdict of one claim, given its Holm-adjusted p-value and significance level."""
    summary = paired_summary(differences)
    ci_level = 1 - level_alpha
    undefined = (math.nan, math.nan)
    # The numbers are still reported for untestable differences, as far as they exist.
    ci = bootstrap_mean_ci(differences, ci_level, seed, resamples) if summary.n else undefined
    t_ci = t_interval(differences, ci_level)
    low, high = min(ci[0], t_ci[0]), max(ci[1], t_ci[1])  # decide with the wider (docstring)
    prob = prob_better(differences)
    prob_ci = (
        prob_better_ci(differences, ci_level, seed, resamples) if summary.n >= 2 else undefined
    )
    significant = p_holm < ALPHA
    untestable = untestable_reason(differences, rope)
    notes: list[str] = []
    verdict: Verdict
    # Inconclusive rather than "not judged": the run is complete, only too small (or its
    # metric does not vary), so the claim keeps its row, its numbers and a note that says
    # what would settle it; "not judged" is kept for broken or partial runs (cnnlab.stats.claims).
    if untestable is not None:
        verdict = "inconclusive"
        notes.append(untestable)
    elif -rope < low and high < rope:
        verdict = "equivalent"
        if significant and (low > 0 or high < 0):
            notes.append(
                "the difference is statistically detectable but smaller than the ROPE: "
                "practically equivalent"
            )
    elif significant and low > 0 and prob >= PROB_THRESHOLD:
        verdict = "supported"
    elif significant and high < 0 and prob <= 1 - PROB_THRESHOLD:
        verdict = "refuted"
    else:
        verdict = "inconclusive"
        if significant and (low > 0 or high < 0):
            notes.append(
                f"significant, but P(A>B) = {prob:.2f} does not reach {PROB_THRESHOLD} "
                "(or 1 − it): the effect is real but small against the seed-to-seed spread"
            )
    needed: int | None = None
    if summary.n < MIN_PAIRS:
        needed = _seeds_for_few(summary.dz, level_alpha)
    elif verdict == "inconclusive" and untestable is None:
        # Not with no spread: more seeds would repeat the same difference, so none settle it.
        needed = seeds_needed(summary.dz, level_alpha)
    return ClaimResult(
        statement=statement,
        verdict=verdict,
        n=summary.n,
        mean=summary.mean,
        sd=summary.sd,
        dz=summary.dz,
        ci=ci,
        t_ci=t_ci,
        ci_level=ci_level,
        test=test.name,
        test_reason=test.reason,
        p_value=p_value,
        p_holm=p_holm,
        prob_better=prob,
        prob_ci=prob_ci,
        rope=rope,
        seeds_needed=needed,
        notes=tuple(notes),
    )


def _seeds_for_few(dz: float, alpha: float) -> int | None:
    """Seeds to ask for when fewer than MIN_PAIRS were run: the power estimate, at least that."""
    if math.isfinite(dz) and dz != 0:
        estimate = seeds_needed(dz, alpha)
        return None if estimate is None else max(MIN_PAIRS, estimate)
    return MIN_PAIRS  # one pair (or equal pairs) estimates no effect size: ask for the minimum


def evaluate_claims(
    claims: Sequence[tuple[str, Sequence[float], float]],
    seed: int = 0,
    resamples: int = BOOTSTRAP,
) -> list[ClaimResult]:
    """Verdicts for the claims of one report: (statement, paired differences, ROPE) each.

    Holm's correction runs across all of them; each claim's CI uses its Holm level.
    """
    reasons = [untestable_reason(differences, rope) for _, differences, rope in claims]
    tests = [
        paired_test(differences) if reason is None else not_tested("of the note on this claim")
        for (_, differences, _), reason in zip(claims, reasons, strict=True)
    ]
    adjusted, levels = holm([t.p_value for t in tests])
    return [
        decide(
            statement,
            differences,
            rope=rope,
            p_holm=adjusted[i],
            level_alpha=levels[i],
            p_value=tests[i].p_value,
            test=tests[i],
            seed=seed + 1000 * i,
            resamples=resamples,
        )
        for i, (statement, differences, rope) in enumerate(claims)
    ]
