"""Tests over more than two arms and over factorial grids, on paired replicates.

- `omnibus`: does the factor matter at all? A repeated-measures ANOVA (statsmodels' AnovaRM,
  replicates as subjects) with the Greenhouse–Geisser correction of its degrees of freedom
  (AnovaRM assumes sphericity, which nothing checks with a handful of seeds) when the
  residuals look normal, otherwise Friedman's rank test; the reason is recorded. It needs more
  complete replicates than arms: with n ≤ k the covariance of the arms has rank < k − 1 and
  the uncorrected p is meaningless (a quick run: p 0.003 uncorrected, 0.053 corrected).
  Post-hoc: every pair of arms by the paired test of `cnnlab.stats.paired`,
  Holm-corrected across the pairs.
- `factorial`: a two-way repeated-measures ANOVA with the interaction term, and the simple
  effect of the first factor (its first level minus its second) at every level of the other
  factor, so a report can say whether an effect holds everywhere; a *reversal* (simple
  effects of opposite signs, both significant after Holm across the simple effects) is
  flagged. The design must be balanced: every cell of the grid has the same replicates.
A replicate is (seed, background). In `omnibus`, rows that do not form complete replicates are
left out.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.anova import AnovaRM

from cnnlab.stats.paired import ALPHA, holm, paired_p_value
from cnnlab.stats.table import NO_BACKGROUND, with_replicate


@dataclass(frozen=True)
class PairComparison:
    a: str
    b: str
    mean: float  # mean of metric(a) − metric(b)
    p_value: float
    p_holm: float


@dataclass(frozen=True)
class OmnibusResult:
    test: str
    statistic: float
    p_value: float  # Greenhouse–Geisser corrected for the ANOVA
    reason: str
    epsilon: float | None  # Greenhouse–Geisser ε (None for Friedman)
    p_uncorrected: float | None  # the ANOVA's p under sphericity, for comparison
    n: int
    pairs: tuple[PairComparison, ...]


def _wide(results: pd.DataFrame, metric: str, column: str) -> pd.DataFrame:
    """Replicates × levels of `column`, complete replicates only."""
    frame = with_replicate(results)
    wide = frame.pivot_table(index="replicate", columns=column, values=metric, aggfunc="mean")
    return wide.dropna()


def greenhouse_geisser(wide: np.ndarray) -> float:
    """Greenhouse–Geisser ε of a replicates × levels matrix (1 under sphericity, ≥ 1/(k − 1)).

    ε = tr(S̃)² / ((k − 1)·tr(S̃²)) with S̃ the double-centred covariance of the levels
    (Greenhouse & Geisser 1959); the F test's degrees of freedom are multiplied by it.
    """
    k = wide.shape[1]
    centre = np.eye(k) - np.full((k, k), 1 / k)
    s = centre @ np.cov(wide, rowvar=False) @ centre
    return float(np.trace(s) ** 2 / ((k - 1) * np.trace(s @ s)))


def omnibus(
    results: pd.DataFrame, metric: str = "test_accuracy", column: str = "arm"
) -> OmnibusResult:
    """Does `column` (the arm, by default) matter at all for `metric`? With post-hoc pairs."""
    wide = _wide(results, metric, column)
    arms = list(wide.columns)
    if len(arms) < 3:
        raise ValueError("an omnibus test needs at least 3 arms")
    if len(wide) <= len(arms):
        raise ValueError(
            f"an omnibus test needs more complete replicates than arms ({len(wide)} replicates, "
            f"{len(arms)} arms): with fewer, the arms' covariance cannot be estimated; "
            "run more seeds"
        )
    residuals = wide.sub(wide.mean(axis=1), axis=0) - (wide.mean(axis=0) - wide.values.mean())
    normal_p = float(sps.shapiro(residuals.to_numpy().ravel()).pvalue)
    if normal_p >= 0.05:
        long = (
            wide.reset_index(drop=True)
            .rename_axis("replicate")
            .reset_index()
            .melt(id_vars="replicate", var_name="level", value_name="y")
        )
        table = AnovaRM(long, "y", "replicate", within=["level"]).fit().anova_table
        statistic = float(table["F Value"].iloc[0])
        epsilon = greenhouse_geisser(wide.to_numpy())
        df1, df2 = float(table["Num DF"].iloc[0]), float(table["Den DF"].iloc[0])
        test, p = (
            "repeated-measures ANOVA",
            float(sps.f.sf(statistic, epsilon * df1, epsilon * df2)),
        )
        uncorrected: float | None = float(table["Pr > F"].iloc[0])
        reason = (
            f"the residuals look normal (Shapiro–Wilk p = {normal_p:.2f}); degrees of freedom "
            f"corrected by Greenhouse–Geisser ε = {epsilon:.2f}"
        )
        eps: float | None = epsilon
    else:
        outcome = sps.friedmanchisquare(*(wide[a].to_numpy() for a in arms))
        test, statistic, p = "Friedman", float(outcome.statistic), float(outcome.pvalue)
        reason = f"the residuals are far from normal (Shapiro–Wilk p = {normal_p:.3f})"
        eps, uncorrected = None, None
    pairs = list(itertools.combinations(arms, 2))
    raw = [paired_p_value(wide[a] - wide[b]) for a, b in pairs]
    adjusted, _ = holm(raw)
    comparisons = tuple(
        PairComparison(str(a), str(b), float((wide[a] - wide[b]).mean()), raw[i], adjusted[i])
        for i, (a, b) in enumerate(pairs)
    )
    return OmnibusResult(test, statistic, p, reason, eps, uncorrected, len(wide), comparisons)


@dataclass(frozen=True)
class SimpleEffect:
    level: str  # level of the other factor
    mean: float  # first level − second level of the tested factor
    p_value: float
    p_holm: float  # Holm-adjusted across the simple effects of one factorial


@dataclass(frozen=True)
class FactorialResult:
    factor: str
    other: str
    main_p: float
    other_p: float
    interaction_p: float
    simple_effects: tuple[SimpleEffect, ...]
    reversal: bool
    holds_everywhere: bool


def _replicate_name(replicate: tuple[int, int]) -> str:
    seed, background = replicate
    return f"seed={int(seed):02d}" + (
        "" if background == NO_BACKGROUND else f"/bg={int(background):02d}"
    )


def _check_balanced(frame: pd.DataFrame, factor: str, other: str) -> None:
    """Every cell of `factor` × `other` must hold each replicate exactly once.

    A repeated-measures ANOVA compares each replicate with itself across the cells; with a
    cell short of a replicate (or holding it twice) the model is undefined, and statsmodels
    says only "Data is unbalanced" (or fails deeper). Name the cells instead.
    """
    replicates = sorted(set(frame["replicate"]))
    counts = frame.groupby([factor, other, "replicate"]).size()
    problems, fixes = [], set()
    for a in frame[factor].unique():
        for b in frame[other].unique():
            missing = [r for r in replicates if (a, b, r) not in counts.index]
            repeated = [r for r in replicates if counts.get((a, b, r), 0) > 1]
            for kind, listed in (("lacks", missing), ("repeats", repeated)):
                if listed:
                    names = ", ".join(_replicate_name(r) for r in listed[:5])
                    more = f" and {len(listed) - 5} more" if len(listed) > 5 else ""
                    problems.append(f"{factor}={a} × {other}={b} {kind} {names}{more}")
                    fixes.add(
                        "finish the missing runs (rerun the sweep)"
                        if kind == "lacks"
                        else "keep one result per replicate and cell"
                    )
    if problems:
        shown = "; ".join(problems[:6]) + (" …" if len(problems) > 6 else "")
        raise ValueError(
            f"the factorial design is unbalanced: every cell of {factor} × {other} needs the "
            f"same {len(replicates)} replicate(s) once each, but {shown}. To test it, "
            + " and ".join(sorted(fixes))
        )


def factorial(
    results: pd.DataFrame, factor: str, other: str, metric: str = "test_accuracy"
) -> FactorialResult:
    """Two-way repeated-measures ANOVA of `factor` × `other` (columns of the results table)."""
    frame = with_replicate(results)
    levels = sorted(frame[factor].unique(), key=list(frame[factor]).index)
    if len(levels) != 2:
        raise ValueError(f"simple effects need a two-level factor; {factor} has {levels}")
    _check_balanced(frame, factor, other)
    codes = {r: i for i, r in enumerate(sorted(set(frame["replicate"])))}
    long = frame.assign(subject=frame["replicate"].map(codes))[["subject", factor, other, metric]]
    long = long.rename(columns={factor: "A", other: "B", metric: "y"})
    table = AnovaRM(long, "y", "subject", within=["A", "B"]).fit().anova_table
    other_levels = sorted(long["B"].unique(), key=list(long["B"]).index)
    means, raw = [], []
    for level in other_levels:
        part = long[long["B"] == level].pivot_table(index="subject", columns="A", values="y")
        d = (part[levels[0]] - part[levels[1]]).to_numpy()
        means.append(float(np.mean(d)))
        raw.append(paired_p_value(d))
    adjusted, _ = holm(raw)
    effects = [
        SimpleEffect(str(level), means[i], raw[i], adjusted[i])
        for i, level in enumerate(other_levels)
    ]
    # A reversal is "some simple effect is significantly positive and another significantly
    # negative": with k levels there are k chances of a false one, so Holm across them.
    significant = [e for e in effects if e.p_holm < ALPHA]
    reversal = any(e.mean > 0 for e in significant) and any(e.mean < 0 for e in significant)
    # "Holds everywhere" needs every simple effect significant (an intersection-union test):
    # its error is at most α with each test at α, so the uncorrected p-values are the right ones.
    holds = all(e.p_value < ALPHA for e in effects) and len({np.sign(e.mean) for e in effects}) == 1
    return FactorialResult(
        factor=factor,
        other=other,
        main_p=float(table.loc["A", "Pr > F"]),
        other_p=float(table.loc["B", "Pr > F"]),
        interaction_p=float(table.loc["A:B", "Pr > F"]),
        simple_effects=tuple(effects),
        reversal=reversal,
        holds_everywhere=holds,
    )
