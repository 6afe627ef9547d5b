"""Judging a sweep's declared claims on its results table: pairing, gates, verdicts.

Differences are paired by replicate: the same seed (and background, in a randomized design)
in the two arms a claim compares. Two gates come before any verdict:
- completeness: every declared replicate of every arm a claim uses must be in the table;
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

from cnnlab.design import Claim, Sweep, cells
from cnnlab.stats import BOOTSTRAP, ClaimResult, evaluate_claims


@dataclass(frozen=True)
class Judgement:
    judged: bool
    reasons: tuple[str, ...]  # why not judged (empty when judged)
    results: tuple[ClaimResult, ...] = ()
    baseline: dict[str, Any] = field(default_factory=dict)


def paired_differences(results: pd.DataFrame, claim: Claim) -> np.ndarray:
    """d per replicate = metric(better) − metric(worse), sign-flipped when lower is better."""
    # A replicate is (seed, background); -1 stands for "no background" (not a randomized design).
    frame = results.assign(bg=results["background"].fillna(-1).astype(int))
    better = frame[frame["arm"] == claim.better].set_index(["seed", "bg"])[claim.metric]
    worse = frame[frame["arm"] == claim.worse].set_index(["seed", "bg"])[claim.metric]
    both = better.index.intersection(worse.index).sort_values()
    d: np.ndarray = better.loc[both].to_numpy(dtype=float) - worse.loc[both].to_numpy(dtype=float)
    return d if claim.higher_is_better else -d


def design_rows(sweep: Sweep, results: pd.DataFrame) -> pd.DataFrame:
    """The rows of the sweep's own cells, once each.

    A study can hold more than the current design (it was extended with --seeds, then rerun
    with fewer): those rows are left out so the verdicts are about the design the report
    states. Two processes racing on one study can finish a cell twice; the first kept.
    """
    keys = {cell.key for cell in cells(sweep)}
    if sweep.design == "search" or "cell" not in results or not keys:
        return results
    mine = results[results["cell"].isin(keys)]
    if "trial" in mine:
        mine = mine.sort_values("trial", kind="stable")
    return mine.drop_duplicates(subset="cell", keep="first")


def missing_replicates(sweep: Sweep, results: pd.DataFrame) -> list[str]:
    """Declared cells (`arm/seed=NN[/bg=NN]`) that have no finished row in the table."""
    have = set(results["cell"]) if "cell" in results else set()
    return [cell.key for cell in cells(sweep) if cell.key not in have]


def judge(
    sweep: Sweep,
    results: pd.DataFrame,
    *,
    quick: bool,
    seed: int = 0,
    resamples: int = BOOTSTRAP,
) -> Judgement:
    """Verdicts for every declared claim, or the reasons they are not given."""
    results = design_rows(sweep, results)
    reasons: list[str] = []
    missing = missing_replicates(sweep, results)
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        reasons.append(
            f"{len(missing)} declared replicate(s) have no result ({shown}); rerun the sweep "
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
    claims = [(c.statement, list(paired_differences(results, c)), c.rope) for c in sweep.claims]
    verdicts = evaluate_claims(claims, seed=seed, resamples=resamples)
    return Judgement(judged=True, reasons=(), results=tuple(verdicts), baseline=baseline)
