"""Omnibus and factorial tests against scipy/statsmodels directly and on planted effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from cnnlab.stats.anova import factorial, omnibus


def _table(levels: dict[str, float], seeds: int, noise: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(seeds):
        shared = rng.normal(0, 0.002)  # the seed's own level, shared by its arms
        for arm, mean in levels.items():
            rows.append(
                {
                    "arm": arm,
                    "seed": s,
                    "background": None,
                    "test_accuracy": mean + shared + rng.normal(0, noise),
                }
            )
    return pd.DataFrame(rows)


def test_omnibus_finds_a_factor_that_matters_and_names_the_pairs() -> None:
    result = omnibus(_table({"max": 0.990, "avg": 0.985, "none": 0.990}, 12, 0.0005))
    assert result.p_value < 1e-6 and result.n == 12
    assert result.test in ("repeated-measures ANOVA", "Friedman") and "Shapiro" in result.reason
    pairs = {(p.a, p.b): p for p in result.pairs}
    assert pairs[("avg", "max")].p_holm < 0.05 and pairs[("avg", "max")].mean < 0
    assert pairs[("max", "none")].p_holm > 0.05


def test_omnibus_without_an_effect_is_not_significant() -> None:
    result = omnibus(_table({"a": 0.99, "b": 0.99, "c": 0.99}, 12, 0.001, seed=1))
    assert result.p_value > 0.05


def test_friedman_on_skewed_data_matches_scipy() -> None:
    table = _table({"a": 0.99, "b": 0.98, "c": 0.97}, 10, 0.0001, seed=2)
    table.loc[table.index[::7], "test_accuracy"] += 0.05  # outliers: far from normal
    result = omnibus(table)
    assert result.test == "Friedman"
    wide = table.pivot(index="seed", columns="arm", values="test_accuracy")
    expected = sps.friedmanchisquare(wide["a"], wide["b"], wide["c"])
    assert result.p_value == pytest.approx(expected.pvalue)


def _grid_row(pool: str, kernel: str, seed: int, accuracy: float) -> dict[str, object]:
    return {
        "arm": f"{pool}+{kernel}",
        "seed": seed,
        "background": None,
        "arch.pooling": pool,
        "kernel": kernel,
        "test_accuracy": accuracy,
    }


def _grid(effects: dict[tuple[str, str], float], seeds: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for s in range(seeds):
        shared = rng.normal(0, 0.002)
        for (pool, kernel), mean in effects.items():
            rows.append(_grid_row(pool, kernel, s, mean + shared + rng.normal(0, 0.0005)))
    return pd.DataFrame(rows)


def test_factorial_effect_that_holds_at_every_level() -> None:
    table = _grid(
        {("max", "k3"): 0.990, ("avg", "k3"): 0.985, ("max", "k7"): 0.991, ("avg", "k7"): 0.986}
    )
    result = factorial(table, "arch.pooling", "kernel")
    assert result.main_p < 1e-6 and result.interaction_p > 0.05
    assert result.holds_everywhere and not result.reversal
    assert [e.level for e in result.simple_effects] == ["k3", "k7"]
    assert all(e.mean == pytest.approx(0.005, abs=0.001) for e in result.simple_effects)


def test_factorial_reversal_is_flagged() -> None:
    table = _grid(
        {("max", "k3"): 0.990, ("avg", "k3"): 0.985, ("max", "k7"): 0.985, ("avg", "k7"): 0.990}
    )
    result = factorial(table, "arch.pooling", "kernel")
    assert result.interaction_p < 1e-6
    assert result.reversal and not result.holds_everywhere


def test_a_reversal_needs_both_simple_effects_significant_after_holm() -> None:
    # Simple effects built to have p = 0.03 (positive) and p = 0.04 (negative): each is
    # significant alone, but Holm over the two gives 0.06 and 0.06, so no reversal.
    n = 8
    pattern = {
        "k3": np.array([1, -1, 2, -2, 0.5, -0.5, 1.5, -1.5]),
        "k7": np.array([2, -1, 1, -2, -0.5, 0.5, -1.5, 1.5]),
    }
    targets = {"k3": (0.03, 1.0), "k7": (0.04, -1.0)}
    rows = []
    for kernel, z in pattern.items():
        p, sign = targets[kernel]
        d = 0.001 * (sign * sps.t.isf(p / 2, n - 1) * z.std(ddof=1) / np.sqrt(n) + z)
        for s in range(n):
            base = 0.98 + 0.001 * s
            rows += [_grid_row("max", kernel, s, base + d[s]), _grid_row("avg", kernel, s, base)]
    result = factorial(pd.DataFrame(rows), "arch.pooling", "kernel")
    k3, k7 = result.simple_effects
    assert k3.p_value == pytest.approx(0.03) and k7.p_value == pytest.approx(0.04)
    assert k3.mean > 0 > k7.mean
    assert k3.p_holm == pytest.approx(0.06) and k7.p_holm == pytest.approx(0.06)
    assert not result.reversal


def test_an_unbalanced_factorial_names_the_missing_cells() -> None:
    table = _grid(
        {("max", "k3"): 0.990, ("avg", "k3"): 0.985, ("max", "k7"): 0.991, ("avg", "k7"): 0.986}
    )
    short = table.drop(table.index[(table["arm"] == "avg+k7") & (table["seed"] == 3)])
    with pytest.raises(ValueError, match="unbalanced") as error:
        factorial(short, "arch.pooling", "kernel")
    assert "arch.pooling=avg × kernel=k7 lacks seed=03" in str(error.value)
    assert "finish the missing runs (rerun the sweep)" in str(error.value)
    # A whole cell absent: its replicates are listed, the rest counted.
    without_cell = table[table["arm"] != "max+k7"]
    with pytest.raises(ValueError) as error:
        factorial(without_cell, "arch.pooling", "kernel")
    assert "arch.pooling=max × kernel=k7 lacks seed=00, seed=01" in str(error.value)
    assert "and 7 more" in str(error.value)
    # A replicate twice in one cell (a duplicated trial).
    doubled = pd.concat([table, table.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError) as error:
        factorial(doubled, "arch.pooling", "kernel")
    assert "arch.pooling=max × kernel=k3 repeats seed=00" in str(error.value)
    assert "keep one result per replicate and cell" in str(error.value)


def test_greenhouse_geisser_epsilon_against_orthonormal_contrasts() -> None:
    # ε from the eigenvalues of the covariance of k − 1 orthonormal (Helmert) contrasts — an
    # independent formula of the same quantity — and its bounds 1/(k − 1) ≤ ε ≤ 1.
    from scipy.linalg import helmert

    from cnnlab.stats.anova import greenhouse_geisser

    rng = np.random.default_rng(5)
    wide = rng.normal(size=(12, 4)) @ np.diag([1.0, 2.0, 0.5, 3.0])
    contrasts = helmert(4)  # (k − 1) × k, orthonormal rows
    eigen = np.linalg.eigvalsh(contrasts @ np.cov(wide, rowvar=False) @ contrasts.T)
    expected = eigen.sum() ** 2 / (3 * (eigen**2).sum())
    assert greenhouse_geisser(wide) == pytest.approx(expected)
    assert 1 / 3 <= expected < 0.95  # unequal variances: far from spherical
    # compound symmetry (equal variances and covariances) is spherical: ε = 1
    shared = rng.normal(size=(400, 1))
    spherical = shared + rng.normal(size=(400, 4))
    assert greenhouse_geisser(spherical) == pytest.approx(1.0, abs=0.03)


def test_omnibus_corrects_for_sphericity_and_needs_more_replicates_than_arms() -> None:
    table = _table({"a": 0.990, "b": 0.989, "c": 0.9885, "d": 0.990}, seeds=12, noise=0.001)
    result = omnibus(table)
    assert result.test == "repeated-measures ANOVA" and result.epsilon is not None
    df1, df2 = 3, 3 * 11
    assert result.p_uncorrected == pytest.approx(sps.f.sf(result.statistic, df1, df2))
    assert result.p_value == pytest.approx(
        sps.f.sf(result.statistic, result.epsilon * df1, result.epsilon * df2)
    )
    assert result.p_value >= result.p_uncorrected
    with pytest.raises(ValueError, match="more complete replicates than arms"):
        omnibus(_table({"a": 0.99, "b": 0.98, "c": 0.97, "d": 0.96}, seeds=4, noise=0.001))
