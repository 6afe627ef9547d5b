"""Judging a sweep's declared claims on its results table: pairing, gates, verdicts.

Differences are paired by replicate: the same seed (and background, in a randomized design)
in the two arms a claim compares. Two gates come before any verdict:
- completeness: every declared cell (arm × replicate) must be in the table;
  a missing one makes the report "not judged" (a partial run is no evidence);
- the sanity gate: on a full run, the baseline arm's (the first arm's) mean test accuracy must
  lie in the band declared with the sweep; outside it, the training budget did not do what the
  sweep assumed and verdicts would be about a broken setup. Smoke runs (`--quick`) are not
  gated: their reports carry verdicts under a banner saying they are no evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cnnlab.spec.design import Claim, Sweep
from cnnlab.spec.metrics import resolution
from cnnlab.spec.specs import TEST_IMAGES
from cnnlab.stats.paired import ClaimData, ClaimResult, evaluate_claims
from cnnlab.stats.table import design_rows, missing_cells, paired


@dataclass(frozen=True)
class Judgement:
    judged: bool
    reasons: tuple[str, ...]  # why not judged (empty when judged)
    results: tuple[ClaimResult, ...] = ()
    baseline: dict[str, Any] = field(default_factory=dict)


def paired_differences(results: pd.DataFrame, claim: Claim) -> np.ndarray:
    """d per replicate = metric(better) − metric(worse), sign-flipped when lower is better."""
    better, worse = paired(results, claim.metric, claim.better, claim.worse)
    d: np.ndarray = better.to_numpy(dtype=float) - worse.to_numpy(dtype=float)
    return d if claim.higher_is_better else -d


def judge(
    sweep: Sweep,
    results: pd.DataFrame,
    *,
    quick: bool,
) -> Judgement:
    """Verdicts for every declared claim, or the reasons they are not given."""
    results = design_rows(sweep, results)
    reasons: list[str] = []
    missing = missing_cells(sweep, results)
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        reasons.append(
            f"{len(missing)} declared cell(s) have no result ({shown}); rerun the sweep "
            "command to finish them"
        )
    baseline_arm = sweep.arm_labels()[0]
    accuracies = results.loc[results["arm"] == baseline_arm, "test_accuracy"]
    mean = float(accuracies.mean()) if len(accuracies) else float("nan")
    baseline = {"arm": baseline_arm, "mean_test_accuracy": mean, "band": sweep.baseline_band}
    if not quick and sweep.baseline_band is not None and len(accuracies):
        low, high = sweep.baseline_band
        if not low <= mean <= high:
            reasons.append(
                f"sanity gate: the baseline arm {baseline_arm!r} reached {100 * mean:.2f} % mean "
                f"test accuracy, outside the declared band {100 * low:.1f}–{100 * high:.1f} %"
            )
    if reasons:
        return Judgement(judged=False, reasons=tuple(reasons), baseline=baseline)
    test_images = TEST_IMAGES[sweep.base.data.dataset]
    claims = [
        ClaimData(
            c.statement,
            tuple(float(x) for x in paired_differences(results, c)),
            c.rope,
            resolution(c.metric, test_images),
        )
        for c in sweep.claims
    ]
    verdicts = evaluate_claims(claims)
    return Judgement(judged=True, reasons=(), results=tuple(verdicts), baseline=baseline)
