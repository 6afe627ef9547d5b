"""The report of a sweep with conditions: the replication verdicts first, with a forest plot
per claim, then each condition's own verdicts, looks, arms and figures.

Each condition's blocks are the plain report's (`cnnlab.report.document`) for the condition's
own analysis, so a condition reads exactly like a sweep of its own; its figures sit under
`figures/<condition>/`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns

from cnnlab.report.analysis import Analysis
from cnnlab.report.canvas import new_figure, save_png
from cnnlab.report.figures import Figure
from cnnlab.report.wording import is_fraction, percent
from cnnlab.spec.design import Claim
from cnnlab.stats.replication.conditions import condition_rows
from cnnlab.stats.replication.verdict import INTERACTION_ALPHA, Replication

DPI = 110

# What each replication verdict means, in the words the report uses under its table.
MEANING = {
    "holds in every condition": "supported in each condition at the claim's own level "
    "(intersection–union: no correction for the number of conditions is needed)",
    "depends on the condition": "the paired differences change with the condition "
    f"(interaction test p < {INTERACTION_ALPHA:g})",
    "holds on average": "the pooled effect over five or more conditions lies above zero; "
    "the prediction interval says where a new condition's would fall",
    "undecided across conditions": "not supported in every condition, and no evidence that "
    "the effect differs between them: not evidence that it fails to replicate",
    "not judged yet": "a condition's first look is not complete",
}


def _scale(claim: Claim) -> float:
    return 100.0 if is_fraction(claim.metric) else 1.0


def forest(claim: Claim, replication: Replication, folder: Path, index: int) -> Figure:
    """One claim: each condition's mean with the interval that decided it, the pooled effect
    (five or more conditions), zero and the ROPE."""
    scale = _scale(claim)
    effects = replication.effects
    figure, ax = new_figure(figsize=(7.5, 1.4 + 0.5 * (len(effects) + 1)))
    ax.axvspan(-claim.rope * scale, claim.rope * scale, color="0.88", label="ROPE")
    ax.axvline(0, color="0.4", lw=1)
    colour = sns.color_palette()[0]
    labels = []
    for y, effect in enumerate(effects):
        labels.append(f"{effect.condition} ({effect.verdict}, n = {effect.n})")
        if math.isnan(effect.mean):
            continue
        mean, (low, high) = effect.mean * scale, effect.ci
        ax.errorbar(
            mean,
            y,
            xerr=[[mean - low * scale], [high * scale - mean]],
            fmt="s",
            color=colour,
            capsize=4,
        )
    pooled = replication.pooled
    if pooled is not None:
        y = len(effects)
        labels.append(f"pooled ({pooled.k} conditions)")
        ax.errorbar(
            pooled.mean * scale,
            y,
            xerr=[
                [(pooled.mean - pooled.prediction[0]) * scale],
                [(pooled.prediction[1] - pooled.mean) * scale],
            ],
            fmt="none",
            color="0.6",
            capsize=3,
            label="prediction interval",
        )
        ax.errorbar(
            pooled.mean * scale,
            y,
            xerr=[[(pooled.mean - pooled.ci[0]) * scale], [(pooled.ci[1] - pooled.mean) * scale]],
            fmt="D",
            color="black",
            capsize=5,
            label="pooled mean, 95 % interval",
        )
    ax.set_yticks(np.arange(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_title(f"{claim.statement}: {replication.verdict}", fontsize=10, loc="left")
    ax.set_xlabel(f"{claim.better} − {claim.worse} ({'pp' if scale == 100 else claim.metric})")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    name = f"forest_{index}.png"
    save_png(figure, folder / name, DPI)
    return Figure(
        name,
        f"Forest plot: {claim.statement}",
        "Each condition's mean difference with the interval that decided its verdict (its "
        "look's level); the grey band is the ROPE"
        + (
            "; the diamond is the pooled effect with its 95 % interval, the grey bar where a "
            "new condition's effect would fall (prediction interval)."
            if pooled is not None
            else "."
        ),
    )


def draw_conditions(
    analysis: Analysis,
    results: pd.DataFrame,
    epochs: pd.DataFrame,
    folder: Path,
    draw: Callable[[Analysis, pd.DataFrame, pd.DataFrame, Path], list[Figure]],
) -> tuple[list[Figure], dict[str, list[Figure]]]:
    """The forest plots, and each condition's own figures (drawn by `draw`, the plain
    report's, under figures/<condition>/)."""
    sweep = analysis.sweep
    forests = [
        forest(claim, replication, folder, i)
        for i, (claim, replication) in enumerate(
            zip(sweep.claims, analysis.judgement.replications, strict=True), start=1
        )
    ]
    own: dict[str, list[Figure]] = {}
    for label, part in analysis.conditions:
        rows = condition_rows(sweep, results, label)
        trials = set(rows["trial"]) if "trial" in rows else set()
        part_epochs = epochs[epochs["trial"].isin(trials)] if "trial" in epochs else epochs
        drawn = draw(part, rows, part_epochs, folder / label)
        own[label] = [
            dataclasses.replace(f, file=f"{label}/{f.file}", title=f"{label}: {f.title}")
            for f in drawn
        ]
    return forests, own


def replication_rows(analysis: Analysis) -> tuple[tuple[str, ...], ...]:
    """The replication table: one row per claim."""
    rows = []
    for claim, replication in zip(
        analysis.sweep.claims, analysis.judgement.replications, strict=True
    ):
        scale = _scale(claim)
        each = "; ".join(
            f"{e.condition}: {e.verdict}"
            + (" (stopped for futility)" if e.stopped_for_futility else "")
            + (
                ""
                if math.isnan(e.mean)
                else f", {scale * e.mean:+.2f} [{scale * e.ci[0]:+.2f}, {scale * e.ci[1]:+.2f}]"
                f" at {percent(e.ci_level)}, n = {e.n}"
            )
            for e in replication.effects
        )
        test = replication.interaction
        interaction = (
            "too few common seeds"
            if test is None
            else f"{test.test}, {test.seeds} seeds: p = {test.p_value:.3g}"
        )
        pooled = replication.pooled
        pooled_text = (
            "five or more conditions only"
            if pooled is None
            else f"{scale * pooled.mean:+.2f} [{scale * pooled.ci[0]:+.2f}, "
            f"{scale * pooled.ci[1]:+.2f}], prediction [{scale * pooled.prediction[0]:+.2f}, "
            f"{scale * pooled.prediction[1]:+.2f}], τ² = {scale**2 * pooled.tau2:.3g}, "
            f"I² = {100 * pooled.i2:.0f} %"
        )
        verdict = replication.verdict.upper() + (
            " (its size depends on the condition)"
            if replication.depends and replication.verdict == "holds in every condition"
            else ""
        )
        rows.append((claim.statement, verdict, each, interaction, pooled_text))
    return tuple(rows)
