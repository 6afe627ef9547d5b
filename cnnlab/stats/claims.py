"""Judging a sweep's declared claims on its results table: pairing, gates, verdicts.

Differences are paired by replicate: the same seed (and background, in a randomized design)
in the two arms a claim compares; a randomized design's replicates are averaged per seed, its
independent unit. Two gates come before any verdict:
- completeness: every declared cell (arm × replicate) must be in the table;
  a missing one makes the report "not judged" (a partial run is no evidence). A sweep with a
  sequential plan is judged look by look instead (`cnnlab.stats.sequential`): a claim is judged
  at each look whose seeds are all there, so a run stopped mid-look is judged at its last
  complete look; the plan also says which cells the next look needs (`cells_needed`);
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

from cnnlab.spec.design import Cell, Claim, Sweep, cells, condition_sweeps
from cnnlab.spec.metrics import resolution
from cnnlab.stats.paired import ClaimData, ClaimResult, evaluate_claims, seed_means
from cnnlab.stats.replication.conditions import (
    ConditionClaim,
    condition_cells,
    condition_rows,
    replication,
)
from cnnlab.stats.replication.verdict import Replication
from cnnlab.stats.sequential import (
    ClaimSeries,
    LookLevel,
    SequentialClaim,
    judge_sequence,
    look_levels,
)
from cnnlab.stats.table import design_rows, missing_cells, paired


@dataclass(frozen=True)
class Judgement:
    judged: bool
    reasons: tuple[str, ...]  # why not judged (empty when judged)
    results: tuple[ClaimResult, ...] = ()  # one per claim (a sequential claim's latest look)
    baseline: dict[str, Any] = field(default_factory=dict)
    # A sequential plan's account: where each claim stands, and every look's levels (stored
    # in verdicts.json as `looks_levels`).
    sequence: tuple[SequentialClaim, ...] = ()
    looks: tuple[LookLevel, ...] = ()
    # A sweep with conditions: each condition's own judgement (label, judgement), and one
    # replication verdict per claim across them; `results` and `sequence` above are empty.
    conditions: tuple[tuple[str, Judgement], ...] = ()
    replications: tuple[Replication, ...] = ()


def paired_differences(results: pd.DataFrame, claim: Claim) -> np.ndarray:
    """d per replicate = metric(better) − metric(worse), sign-flipped when lower is better."""
    better, worse = paired(results, claim.metric, claim.better, claim.worse)
    d: np.ndarray = better.to_numpy(dtype=float) - worse.to_numpy(dtype=float)
    return d if claim.higher_is_better else -d


def claim_differences(sweep: Sweep, results: pd.DataFrame, claim: Claim) -> np.ndarray:
    """The differences a claim is judged on, in seed order: one per replicate, or in a design
    with several replicates per seed (a randomized one) the mean of each seed's (`seed_means`)."""
    d = paired_differences(results, claim)
    if sweep.replicates_per_seed == 1:
        return d
    better, _ = paired(results, claim.metric, claim.better, claim.worse)
    return seed_means(better.index.get_level_values("seed"), d)[1]


def judge(
    sweep: Sweep,
    results: pd.DataFrame,
    *,
    quick: bool,
) -> Judgement:
    """Verdicts for every declared claim, or the reasons they are not given."""
    if sweep.conditions is not None:
        return _judge_conditions(sweep, results, quick=quick)
    results = design_rows(sweep, results)
    if results.empty:
        # A study with no finished trial yet has no probe columns (they come from the
        # trials' own metrics): a claim on `shift2_drop` then has nothing to pair, not a
        # missing column. (The augmentation sweep failed at its start without this.)
        absent = {c.metric for c in sweep.claims} - set(results.columns)
        results = results.assign(**{metric: pd.Series(dtype=float) for metric in absent})
    reasons: list[str] = []
    missing = [] if sweep.plan is not None else missing_cells(sweep, results)
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        reasons.append(
            f"{len(missing)} declared cell(s) have no result ({shown}); rerun the sweep "
            "command to finish them"
        )
    baseline_arm = sweep.arm_labels()[0]
    baseline_rows = results["arm"] == baseline_arm
    if sweep.plan is not None:
        # The first look only: later seeds of the baseline arm depend on which claims stayed
        # open, and a gate that could flip after a claim was decided would judge nothing.
        baseline_rows &= results["seed"] < sweep.plan.looks[0]
    accuracies = results.loc[baseline_rows, "test_accuracy"]
    mean = float(accuracies.mean()) if len(accuracies) else float("nan")
    dataset = sweep.base.data.name
    band = sweep.band_for(dataset)
    baseline: dict[str, Any] = {"arm": baseline_arm, "mean_test_accuracy": mean, "band": band}
    if band is None and sweep.baseline_band:  # declared, but for other datasets only
        baseline["no_band_for"] = dataset
    if not quick and band is not None and len(accuracies):
        low, high = band
        if not low <= mean <= high:
            reasons.append(
                f"sanity gate: the baseline arm {baseline_arm!r} reached {100 * mean:.2f} % mean "
                f"test accuracy, outside the declared band {100 * low:.1f}–{100 * high:.1f} %"
            )
    if reasons:
        return Judgement(judged=False, reasons=tuple(reasons), baseline=baseline)
    if sweep.plan is not None:
        return _judge_looks(sweep, results, baseline)
    test_images = sweep.base.data.test_images
    claims = [
        ClaimData(
            c.statement,
            tuple(float(x) for x in claim_differences(sweep, results, c)),
            c.rope,
            resolution(c.metric, test_images),
        )
        for c in sweep.claims
    ]
    verdicts = evaluate_claims(claims)
    return Judgement(judged=True, reasons=(), results=tuple(verdicts), baseline=baseline)


def _resolution(sweep: Sweep, claim: Claim) -> float | None:
    return resolution(claim.metric, sweep.base.data.test_images)


def claim_series(sweep: Sweep, results: pd.DataFrame, claim: Claim) -> ClaimSeries:
    """A claim's paired differences with the seed of each, for judging at looks."""
    better, worse = paired(results, claim.metric, claim.better, claim.worse)
    d = better.to_numpy(dtype=float) - worse.to_numpy(dtype=float)
    seeds = tuple(int(s) for s in better.index.get_level_values("seed"))
    return ClaimSeries(
        statement=claim.statement,
        seeds=seeds,
        differences=tuple(float(x) for x in (d if claim.higher_is_better else -d)),
        rope=claim.rope,
        resolution=_resolution(sweep, claim),
        per_seed=sweep.replicates_per_seed,
    )


def _judge_looks(sweep: Sweep, results: pd.DataFrame, baseline: dict[str, Any]) -> Judgement:
    plan = sweep.plan
    assert plan is not None
    series = [claim_series(sweep, results, c) for c in sweep.claims]
    sequence = tuple(judge_sequence(plan, series))
    looks = look_levels(plan, len(sweep.claims))
    if all(s.result is None for s in sequence):
        first = plan.looks[0]
        return Judgement(
            judged=False,
            reasons=(
                f"the first look ({first} paired seeds of every arm a claim compares) is not "
                "complete yet; rerun the sweep command to finish it",
            ),
            baseline=baseline,
            sequence=sequence,
            looks=looks,
        )
    return Judgement(
        judged=True,
        reasons=(),
        results=tuple(s.result for s in sequence if s.result is not None),
        baseline=baseline,
        sequence=sequence,
        looks=looks,
    )


def _judge_conditions(sweep: Sweep, results: pd.DataFrame, *, quick: bool) -> Judgement:
    """Each condition judged as its own sweep on its own rows; then each claim's replication
    verdict across them (`cnnlab.stats.replication.conditions`)."""
    judged: list[tuple[str, Sweep, pd.DataFrame, Judgement]] = []
    for label, own in condition_sweeps(sweep):
        rows = condition_rows(sweep, results, label)
        judged.append((label, own, rows, judge(own, rows, quick=quick)))
    replications = []
    for claim in sweep.claims:
        per_condition = []
        for label, own, rows, judgement in judged:
            result = next((r for r in judgement.results if r.statement == claim.statement), None)
            standing = next((s for s in judgement.sequence if s.statement == claim.statement), None)
            per_condition.append(ConditionClaim(label, own, rows, result, standing))
        replications.append(replication(claim, per_condition))
    reasons = tuple(f"{label}: {r}" for label, _, _, j in judged for r in j.reasons)
    return Judgement(
        judged=all(j.judged for *_, j in judged),
        reasons=reasons,
        baseline=judged[0][3].baseline,
        conditions=tuple((label, j) for label, _, _, j in judged),
        replications=tuple(replications),
    )


def cells_needed(sweep: Sweep, judgement: Judgement | None) -> list[Cell]:
    """The cells a run must have trained for the judgement to move on (done ones included);
    a `judgement` of None (nothing finished, so nothing judged) is the start of the plan.

    Without a plan, every cell of the design. With one, the cells of the next look for the
    arms an open claim compares (seeds below the next look's count), and for a stopped claim's
    arms the look it stopped at; an arm that no open claim needs gets no more seeds. Before
    any look is complete, and when a gate fails (more seeds would not help), the first look's
    cells of the baseline arm and of every arm a claim compares.
    """
    if sweep.conditions is not None:  # each condition's own plan, as far as it has gone
        by_condition = dict(judgement.conditions) if judgement is not None else {}
        return [
            cell
            for label, own in condition_sweeps(sweep)
            for cell in condition_cells(sweep, label, cells_needed(own, by_condition.get(label)))
        ]
    design = cells(sweep)
    plan = sweep.plan
    if plan is None:
        return design
    # The baseline arm's first look feeds the sanity gate, even when no claim compares it.
    wanted: dict[str, int] = {sweep.arm_labels()[0]: plan.looks[0]}
    for claim in sweep.claims:  # before the gates pass: the first look of every claim's arms
        for arm in (claim.better, claim.worse):
            wanted[arm] = plan.looks[0]
    # No sequence: a gate failed, and seeds past the first look would not help.
    standings = (judgement.sequence if judgement is not None else None) or ()
    for claim, standing in zip(sweep.claims[: len(standings)], standings, strict=True):
        # an open claim needs its next look; a stopped one the look it stopped at
        reach = standing.next_seeds if standing.status == "open" else standing.seeds
        for arm in (claim.better, claim.worse):
            wanted[arm] = max(wanted[arm], reach or 0)
    return [c for c in design if c.seed < wanted.get(c.arm, 0)]
