"""A sweep with conditions: each condition's own rows and cells, and each claim's replication.

A condition is one level of `Sweep.conditions` (`train.epochs` = 3 or 12, say). Each is judged
as the sweep it makes (`cnnlab.spec.design.condition_sweeps`: the base with that level set)
on its own rows, so its looks, gates and verdicts are exactly those of a plain sweep; here
are the pieces that translate between the two, and the replication verdict across them
(`cnnlab.stats.replication.verdict`). `cnnlab.stats.claims.judge` composes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cnnlab.spec.design import Cell, Claim, Sweep, in_condition
from cnnlab.stats.paired import ClaimResult, seed_means
from cnnlab.stats.replication.verdict import ConditionEffect, Replication, replication_verdict
from cnnlab.stats.sequential import SequentialClaim
from cnnlab.stats.table import paired


@dataclass(frozen=True)
class ConditionClaim:
    """One claim as one condition judged it: its latest result and, with a plan, its standing."""

    condition: str
    sweep: Sweep  # the condition's own sweep
    rows: pd.DataFrame  # the condition's own rows, keyed as its sweep keys them
    result: ClaimResult | None
    standing: SequentialClaim | None


def condition_rows(sweep: Sweep, results: pd.DataFrame, label: str) -> pd.DataFrame:
    """The rows of condition `label`, with each cell keyed as the condition's own sweep keys it
    (`max/seed=00`, not `e3/max/seed=00`), so every plain-sweep function reads them."""
    assert sweep.conditions is not None
    path = sweep.conditions.path
    if results.empty or path not in results:
        return results.iloc[0:0]
    rows = results[results[path].astype(str) == label]
    return rows.assign(cell=rows["cell"].astype(str).str.removeprefix(f"{label}/"))


def condition_cells(sweep: Sweep, label: str, own: Sequence[Cell]) -> list[Cell]:
    """A condition's own cells as the sweep with conditions names them."""
    return [in_condition(cell, sweep, label) for cell in own]


def seed_differences(own: Sweep, rows: pd.DataFrame, claim: Claim, seeds: int) -> dict[int, float]:
    """The claim's difference for each of its first `seeds` seeds (a randomized design's seed
    means), in the claim's direction: what the condition's verdict rests on."""
    if rows.empty or claim.metric not in rows:
        return {}
    better, worse = paired(rows, claim.metric, claim.better, claim.worse)
    d = better.to_numpy(dtype=float) - worse.to_numpy(dtype=float)
    d = d if claim.higher_is_better else -d
    seed_of = better.index.get_level_values("seed").to_numpy(dtype=int)
    if own.replicates_per_seed > 1:
        unique, means = seed_means(seed_of, d)
        seed_of, d = np.asarray(unique, dtype=int), np.asarray(means, dtype=float)
    by_seed = sorted(zip(seed_of.tolist(), d.tolist(), strict=True))
    return {int(s): float(x) for s, x in by_seed[:seeds]}


def _effect(judged: ConditionClaim) -> ConditionEffect:
    result = judged.result
    if result is None:
        return ConditionEffect(
            judged.condition, "not judged", 0, float("nan"), (np.nan, np.nan), 0.0
        )
    futile = judged.standing is not None and judged.standing.status == "futile"
    return ConditionEffect(
        condition=judged.condition,
        verdict=result.verdict,
        n=result.n,
        mean=result.mean,
        ci=result.ci,
        ci_level=result.ci_level,
        stopped_for_futility=futile,
    )


def replication(claim: Claim, judged: Sequence[ConditionClaim]) -> Replication:
    """The claim's replication verdict across its conditions (`cnnlab.stats.replication.verdict`).
    The interaction test and the pooled effect read the seeds every condition trains whatever
    its data: a plan's first look (later seeds depend on when each condition stopped), or
    every seed of a fixed count."""
    differences = {}
    for j in judged:
        plan = j.sweep.plan
        seeds = plan.looks[0] if plan is not None else len(j.sweep.seed_values)
        differences[j.condition] = seed_differences(j.sweep, j.rows, claim, seeds)
    return replication_verdict(claim.statement, [_effect(j) for j in judged], differences)
