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

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "reports" / "pooling"
ALPHA = 0.05


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


def _rounded_differences(results: pd.DataFrame, better: str, worse: str) -> np.ndarray:
    """Paired differences by seed, in seed order, at the test set's resolution (1/10,000)."""
    wide = results.pivot_table(index="seed", columns="arm", values="test_accuracy").sort_index()
    return np.round((wide[better] - wide[worse]).dropna().to_numpy() * 10_000) / 10_000


def test_the_committed_pooling_verdicts_recompute_with_scipy() -> None:
    # reports/pooling: a sequential plan (looks at 5, 8, 12, 20 paired seeds), α = 0.05 split
    # over the 3 claims by Bonferroni and spent over the looks by a Pocock-type function.
    results = pd.read_csv(REPORT / "results.csv")
    verdicts = json.loads((REPORT / "verdicts.json").read_text())
    plan = verdicts["sequential_plan"]
    claims = verdicts["claims"]
    share = ALPHA / len(claims)
    levels = plan["looks_levels"]
    # Lan-DeMets Pocock-type spending: α(t) = share · ln(1 + (e − 1) t). Each look's level is
    # where Student t crosses the shipped calibrated critical value (read from the table file
    # here, not through cnnlab), and never above what is spent by then: under normal noise the
    # look's t alone may not cross more often than that.
    spent = [
        share * math.log(1 + (math.e - 1) * look / plan["looks"][-1]) for look in plan["looks"]
    ]
    table = json.loads((ROOT / "cnnlab" / "stats" / "calibrated_boundaries.json").read_text())
    [entry] = [
        e
        for e in table["plans"].values()
        if e["claims"] == len(claims)
        and all(e["plan"][k] == v for k, v in plan.items() if k in e["plan"])
    ]
    for k, level in enumerate(levels):
        df = plan["looks"][k] - 1
        assert level["alpha"] == pytest.approx(2 * sps.t.sf(entry["superiority"][k], df), rel=1e-9)
        assert level["alpha_eq"] == pytest.approx(sps.t.sf(entry["equivalence"][k], df), rel=1e-9)
        assert level["alpha"] <= spent[k]
    for claim in claims:
        look = claim["sequential"]["look"]
        level = levels[look - 1]
        n = claim["sequential"]["seeds"]
        assert n == level["seeds"] == claim["numbers"]["n"]
        d = _rounded_differences(results, claim["better"], claim["worse"])[:n]
        numbers = claim["numbers"]
        ci = _t_interval(d, 1 - level["alpha"])
        eq_ci = _t_interval(d, 1 - 2 * level["alpha_eq"])
        prob = float(sps.norm.cdf(d.mean() / d.std(ddof=1)))
        rope = claim["rope"]
        if -rope < eq_ci[0] and eq_ci[1] < rope:
            verdict = "equivalent"
        elif ci[0] > 0 and prob >= 0.75:
            verdict = "supported"
        elif ci[1] < 0 and prob <= 0.25:
            verdict = "refuted"
        else:
            verdict = "inconclusive"  # futile and undecided at the last look alike
        assert claim["verdict"] == verdict, claim["statement"]
        assert numbers["p_value"] == pytest.approx(sps.ttest_1samp(d, 0).pvalue, rel=1e-9)
        assert numbers["ci"] == pytest.approx(ci, abs=1e-12)
        assert numbers["equivalence_ci"] == pytest.approx(eq_ci, abs=1e-12)
        se, df = sps.sem(d), len(d) - 1
        p_eq = max(sps.t.sf((d.mean() + rope) / se, df), sps.t.cdf((d.mean() - rope) / se, df))
        assert numbers["p_equivalence"] == pytest.approx(p_eq, rel=1e-9)
        assert numbers["prob_better"] == pytest.approx(prob, rel=1e-12)
        t = d.mean() / se
        assert numbers["prob_ci"] == pytest.approx(
            _prob_interval(t, n, 1 - level["alpha"]), abs=1e-6
        )
        assert numbers["wins"] == int((d > 0).sum())
    # Each claim stopped where the run's log said it did (reports/README.md).
    standing = {
        c["statement"]: (c["verdict"], c["sequential"]["status"], c["sequential"]["look"])
        for c in claims
    }
    assert standing == {
        "max pooling beats average pooling": ("supported", "decided", 4),
        "max pooling beats a stride-2 convolution": ("inconclusive", "futile", 2),
        "no pooling beats max pooling": ("inconclusive", "final", 4),
    }
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
    # every trial kept its per-example correctness, so the test-set-noise diagnostic is shown
    assert results["test_correct"].str.startswith("10000:").all()
    assert all(c["test_noise"]["examples"] == 10_000 for c in claims)


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
