"""The committed pooling report, recomputed from its results.csv with scipy alone.

Deliberately independent of `cnnlab.stats`: this module imports neither it nor the report code,
and re-derives every verdict from the rule as the report states it (TOST at α with the
(1 − 2α) interval, the (1 − α) t interval with the P(A>B) ≥ 0.75 gate, Holm within each family,
differences rounded to the 10,000-image test set's resolution).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy import stats as sps

REPORT = Path(__file__).resolve().parents[1] / "reports" / "pooling"
ALPHA = 0.05


def _holm_levels(p: list[float]) -> list[float]:
    order = np.argsort(p, kind="stable")
    levels = [0.0] * len(p)
    level, stopped = ALPHA, False
    for rank, i in enumerate(order):
        if not stopped:
            level = ALPHA / (len(p) - rank)
            stopped = p[i] >= level
        levels[i] = level
    return levels


def _t_interval(d: np.ndarray, level: float) -> tuple[float, float]:
    half = sps.t.ppf(0.5 + level / 2, len(d) - 1) * sps.sem(d)
    return d.mean() - half, d.mean() + half


def _prob_interval(t: float, n: int, level: float) -> tuple[float, float]:
    def shift(tail: float) -> float:
        return optimize.brentq(lambda x: sps.nct.sf(t, n - 1, x) - tail, -60, 60)

    tail = (1 - level) / 2
    return (
        float(sps.norm.cdf(shift(tail) / math.sqrt(n))),
        float(sps.norm.cdf(shift(1 - tail) / math.sqrt(n))),
    )


def test_the_committed_pooling_verdicts_recompute_with_scipy() -> None:
    results = pd.read_csv(REPORT / "results.csv")
    verdicts = json.loads((REPORT / "verdicts.json").read_text())
    wide = results.pivot_table(index="seed", columns="arm", values="test_accuracy")
    claims = verdicts["claims"]
    diffs = [
        np.round((wide[c["better"]] - wide[c["worse"]]).to_numpy() * 10_000) / 10_000
        for c in claims
    ]
    p = [float(sps.ttest_1samp(d, 0).pvalue) for d in diffs]
    p_eq = []
    for d, c in zip(diffs, claims, strict=True):
        se, df = sps.sem(d), len(d) - 1
        lower = sps.t.sf((d.mean() + c["rope"]) / se, df)
        upper = sps.t.cdf((d.mean() - c["rope"]) / se, df)
        p_eq.append(float(max(lower, upper)))
    levels, levels_eq = _holm_levels(p), _holm_levels(p_eq)
    for i, (d, c) in enumerate(zip(diffs, claims, strict=True)):
        numbers = c["numbers"]
        ci = _t_interval(d, 1 - levels[i])
        eq_ci = _t_interval(d, 1 - 2 * levels_eq[i])
        prob = float(sps.norm.cdf(d.mean() / d.std(ddof=1)))
        if -c["rope"] < eq_ci[0] and eq_ci[1] < c["rope"]:
            verdict = "equivalent"
        elif ci[0] > 0 and prob >= 0.75:
            verdict = "supported"
        elif ci[1] < 0 and prob <= 0.25:
            verdict = "refuted"
        else:
            verdict = "inconclusive"
        assert c["verdict"] == verdict, c["statement"]
        assert numbers["p_value"] == pytest.approx(p[i], rel=1e-9)
        assert numbers["alpha"] == pytest.approx(levels[i])
        assert numbers["alpha_eq"] == pytest.approx(levels_eq[i])
        assert numbers["ci"] == pytest.approx(ci, abs=1e-12)
        assert numbers["equivalence_ci"] == pytest.approx(eq_ci, abs=1e-12)
        assert numbers["p_equivalence"] == pytest.approx(p_eq[i], rel=1e-9)
        assert numbers["prob_better"] == pytest.approx(prob, rel=1e-12)
        t = d.mean() / sps.sem(d)
        assert numbers["prob_ci"] == pytest.approx(
            _prob_interval(t, len(d), 1 - levels[i]), abs=1e-6
        )
        assert numbers["wins"] == int((d > 0).sum())
    # The published page shows the deciding interval with its level, and never a NaN.
    readme = (REPORT / "README.md").read_text()
    assert not re.search(r"\bnan\b", readme, flags=re.IGNORECASE)
    for c in claims:
        level = (
            c["numbers"]["ci_level"]
            if c["verdict"] != "equivalent"
            else c["numbers"]["equivalence_level"]
        )
        assert f"{100 * level:.4g}% " in readme
        if c["verdict"] == "inconclusive":
            assert "Why: " in c["in_plain_words"]
    # these results predate per-example correctness: the test-set-noise diagnostic says so
    assert "Test-set noise: n/a" in readme


def test_the_committed_sequential_run_recomputes_with_scipy() -> None:
    # reports/max_vs_avg: a sequential plan, decided at its first look. Its interval is the t
    # interval at that look's nominal level (as stored in the plan's table of looks).
    folder = REPORT.parent / "max_vs_avg"
    results = pd.read_csv(folder / "results.csv")
    verdicts = json.loads((folder / "verdicts.json").read_text())
    (claim,) = verdicts["claims"]
    look = claim["sequential"]["look"]
    level = verdicts["sequential_plan"]["looks_levels"][look - 1]
    wide = results.pivot_table(index="seed", columns="arm", values="test_accuracy")
    d = np.round((wide["max"] - wide["avg"]).to_numpy() * 10_000) / 10_000
    d = d[: level["seeds"]]
    assert claim["numbers"]["n"] == level["seeds"]
    ci = _t_interval(d, 1 - level["alpha"])
    assert claim["numbers"]["ci"] == pytest.approx(ci, abs=1e-12)
    prob = float(sps.norm.cdf(d.mean() / d.std(ddof=1)))
    assert (ci[0] > 0 and prob >= 0.75) == (claim["verdict"] == "supported")
    # every trial of this run kept its per-example correctness, so the diagnostic is shown
    assert results["test_correct"].str.startswith("10000:").all()
    assert claim["test_noise"]["examples"] == 10_000
