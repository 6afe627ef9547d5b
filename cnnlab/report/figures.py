"""The report's seaborn figures, written as PNG files.

Each function draws one figure from the results (one row per trial) or the per-epoch table
and returns a `Figure` (file, title, caption), or None when the sweep has nothing to show
for it (no claims, no shifted-test probe, ...). Confidence bands use seaborn's seeded
bootstrap and the strip plots a fixed jitter seed, so the same table draws the same figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.figure
import numpy as np
import pandas as pd
import seaborn as sns

from cnnlab.report.analysis import Analysis
from cnnlab.report.canvas import new_figure, save_png
from cnnlab.report.wording import is_fraction, metric_label, percent, unit
from cnnlab.spec.metrics import ANGLES, rotation_name, shift_name
from cnnlab.stats.table import paired

PER_EPOCH = ("test_accuracy", "val_accuracy", "test_loss", "val_loss")
MAX_ARMS_SHOWN = 12  # beyond this (a search), the figures show the best arms only
DPI = 100


@dataclass(frozen=True)
class Figure:
    file: str  # name under figures/
    title: str
    caption: str


def _scale(metric: str) -> float:
    return 100.0 if is_fraction(metric) else 1.0


def _axis_label(metric: str) -> str:
    suffix = {"pp": " (%)" if "drop" not in metric else " (pp)", "s": " (s)"}.get(unit(metric), "")
    return metric_label(metric) + suffix


def _save(figure: matplotlib.figure.Figure, folder: Path, name: str) -> str:
    save_png(figure, folder / name, DPI)
    return name


def _mean_with_ci(ax: Any, data: pd.DataFrame, x: str, y: str, **style: Any) -> None:
    """Mean of `y` per `x` with a 95% bootstrap band: seaborn's, seeded, so figures repeat."""
    sns.lineplot(data=data, x=x, y=y, marker="o", errorbar=("ci", 95), seed=0, ax=ax, **style)


def _shown_arms(analysis: Analysis) -> list[str]:
    arms = analysis.arms
    if len(arms) <= MAX_ARMS_SHOWN:
        return arms
    ranked = sorted(analysis.costs, key=lambda c: -c.accuracy_mean)[:MAX_ARMS_SHOWN]
    return [c.arm for c in ranked]


def distribution(
    analysis: Analysis, results: pd.DataFrame, metric: str, folder: Path
) -> Figure | None:
    """Per-arm box plot with one point per trial."""
    if metric not in results or results[metric].isna().all():
        return None
    arms = _shown_arms(analysis)
    data = results[results["arm"].isin(arms)].assign(value=lambda f: f[metric] * _scale(metric))
    figure, ax = new_figure(figsize=(max(4.5, 1.2 * len(arms) + 2), 3.8))
    sns.boxplot(data=data, x="arm", y="value", order=arms, color="0.9", showfliers=False, ax=ax)
    # A swarm places points deterministically (a strip plot's jitter is random).
    sns.swarmplot(
        data=data,
        x="arm",
        y="value",
        order=arms,
        hue="arm",
        hue_order=arms,
        size=5,
        legend=False,
        ax=ax,
        warn_thresh=1.0,
    )
    ax.set(xlabel="", ylabel=_axis_label(metric), title=f"{metric_label(metric)} per arm")
    if len(arms) > 5:
        ax.tick_params(axis="x", labelrotation=30)
    name = _save(figure, folder, f"distribution_{metric}.png")
    return Figure(
        name,
        f"Distribution of {metric_label(metric)}",
        f"One point per trial (seed); boxes show quartiles. {len(data)} trials.",
    )


def paired_differences(analysis: Analysis, folder: Path) -> Figure | None:
    """Per claim: each replicate's difference, the mean with its CI, zero and the ROPE."""
    outcomes = [o for o in analysis.claims if o.differences]
    if not outcomes:
        return None
    figure, axes = new_figure(
        len(outcomes), 1, figsize=(7.5, 1.6 + 1.3 * len(outcomes)), squeeze=False
    )
    for ax, outcome in zip(axes[:, 0], outcomes, strict=True):
        claim, scale = outcome.claim, _scale(outcome.claim.metric)
        d = np.asarray(outcome.differences) * scale
        ax.axvspan(-claim.rope * scale, claim.rope * scale, color="0.88", label="ROPE")
        ax.axvline(0, color="0.4", lw=1)
        jitter = np.random.default_rng(0).uniform(-0.12, 0.12, size=len(d))
        ax.scatter(d, jitter, s=22, color=sns.color_palette()[0], zorder=3, label="one seed")
        if outcome.result is not None:
            result = outcome.result
            mean = result.mean * scale
            for (low, high), y, name, colour in (
                (result.ci, 0.0, "superiority t interval", "black"),
                (result.equivalence_ci, -0.3, "TOST interval", "0.45"),
            ):
                if math.isnan(low):
                    continue
                ax.errorbar(
                    mean,
                    y,
                    xerr=[[mean - low * scale], [high * scale - mean]],
                    fmt="D",
                    color=colour,
                    capsize=5,
                    zorder=4,
                    label=f"mean, {name}",
                )
            verdict: str = (
                f"{result.verdict} (t interval {percent(result.ci_level)}, TOST "
                f"{percent(result.equivalence_level)})"
            )
        else:
            verdict = "not judged"
        ax.set_yticks([])
        ax.set_ylim(-0.55, 0.5)
        ax.set_title(f"{claim.statement} — {verdict}", fontsize=10, loc="left")
        ax.set_xlabel(
            f"{claim.better} − {claim.worse}, {_axis_label(claim.metric)}"
            + ("" if claim.higher_is_better else ", sign flipped: > 0 favours " + claim.better)
        )
    # Above the first panel, outside the data: the points can lie anywhere on the axis.
    axes[0, 0].legend(loc="lower left", bbox_to_anchor=(0, 1.18), fontsize=8, ncol=4, frameon=False)
    name = _save(figure, folder, "paired_differences.png")
    return Figure(
        name,
        "Paired differences per claim",
        "Each point is one paired seed; the black diamond is the mean with the superiority t "
        "interval at the claim's level (Holm's, or the deciding look's in a sequential plan), "
        "the grey one with the TOST interval; the grey band is the region of practical "
        "equivalence (ROPE).",
    )


def learning_curves(analysis: Analysis, epochs: pd.DataFrame, folder: Path) -> Figure | None:
    """Validation and test accuracy per epoch: mean ± 95% CI per arm."""
    if epochs.empty:
        return None
    arms = _shown_arms(analysis)
    data = epochs[epochs["arm"].isin(arms)]
    figure, axes = new_figure(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, metric in zip(axes, ("val_accuracy", "test_accuracy"), strict=True):
        values = data.assign(value=data[metric] * 100)
        _mean_with_ci(ax, values, "epoch", "value", hue="arm", hue_order=arms)
        ax.set(xlabel="epoch", ylabel=_axis_label(metric), title=metric_label(metric))
        ax.set_xticks(sorted(data["epoch"].unique()))
    legend = axes[1].get_legend()
    if legend is not None:  # one legend for both panels
        legend.remove()
    name = _save(figure, folder, "learning_curves.png")
    return Figure(
        name,
        "Learning curves",
        "Mean over seeds per arm after each epoch, with a 95% bootstrap confidence band.",
    )


def _epoch_differences(epochs: pd.DataFrame, metric: str, better: str, worse: str) -> pd.DataFrame:
    a, b = paired(epochs, metric, better, worse, per=("epoch",))
    return pd.DataFrame({"d": a - b}).reset_index()


def effect_by_epoch(analysis: Analysis, epochs: pd.DataFrame, folder: Path) -> Figure | None:
    """Each per-epoch claim's mean paired difference after every epoch, with a 95% CI."""
    outcomes = [o for o in analysis.claims if o.claim.metric in PER_EPOCH]
    if epochs.empty or not outcomes:
        return None
    figure, ax = new_figure(figsize=(7.5, 3.8))
    for outcome in outcomes:
        claim = outcome.claim
        d = _epoch_differences(epochs, claim.metric, claim.better, claim.worse)
        if d.empty:
            continue
        sign = 1.0 if claim.higher_is_better else -1.0
        d = d.assign(value=sign * d["d"] * _scale(claim.metric), claim=claim.statement)
        _mean_with_ci(ax, d, "epoch", "value", label=claim.statement)
    ax.axhline(0, color="0.4", lw=1)
    ax.set(
        xlabel="epoch",
        ylabel="paired difference (claim's direction)",
        title="The effect after each epoch",
    )
    ax.set_xticks(sorted(epochs["epoch"].unique()))
    ax.legend(fontsize=8)
    name = _save(figure, folder, "effect_by_epoch.png")
    return Figure(
        name,
        "The effect after each epoch",
        "Mean paired difference per epoch (> 0: the claim's direction) with a 95% bootstrap "
        "band; an effect that only appears at the last epoch, or flips sign, shows here.",
    )


def accuracy_vs_cost(analysis: Analysis, results: pd.DataFrame, folder: Path) -> Figure | None:
    """Test accuracy against parameters and against time per epoch, one point per trial."""
    if results.empty:
        return None
    arms = _shown_arms(analysis)
    data = results[results["arm"].isin(arms)].assign(accuracy=lambda f: 100 * f["test_accuracy"])
    figure, axes = new_figure(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, cost, label in (
        (axes[0], "params", "parameters (log scale)"),
        (axes[1], "seconds_per_epoch", "seconds per epoch"),
    ):
        sns.scatterplot(
            data=data,
            x=cost,
            y="accuracy",
            hue="arm",
            hue_order=arms,
            s=40,
            ax=ax,
            legend=ax is axes[0],
        )
        if cost == "params":  # capacities span orders of magnitude (none: 21× max)
            ax.set_xscale("log")
        ax.set(xlabel=label, ylabel="test accuracy (%)")
    axes[0].set_title("accuracy against size")
    axes[1].set_title("accuracy against time")
    name = _save(figure, folder, "accuracy_vs_cost.png")
    return Figure(
        name,
        "Accuracy against cost",
        "One point per trial. Arms far apart on the x axis differ in capacity or time, not only "
        "in the factor under test.",
    )


def shifted_accuracy(analysis: Analysis, results: pd.DataFrame, folder: Path) -> Figure | None:
    """Accuracy drop under shifts (MNIST: 0–3 pixels; other sizes: scaled, `probe_shifts`) and
    rotations, mean ± 95% CI per arm."""
    shifts = [k for k in range(1, 65) if f"{shift_name(k)}_drop" in results]
    if not shifts:
        return None
    arms = _shown_arms(analysis)
    data = results[results["arm"].isin(arms)]
    rows = []
    for _, row in data.iterrows():
        rows.append({"arm": row["arm"], "kind": "shift", "x": 0, "drop": 0.0})
        rows.append({"arm": row["arm"], "kind": "rotation", "x": 0, "drop": 0.0})
        for k in shifts:
            rows.append(
                {
                    "arm": row["arm"],
                    "kind": "shift",
                    "x": k,
                    "drop": 100 * row[f"{shift_name(k)}_drop"],
                }
            )
        for angle in ANGLES:
            name = rotation_name(angle)
            if f"{name}_drop" in row:
                rows.append(
                    {
                        "arm": row["arm"],
                        "kind": "rotation",
                        "x": angle,
                        "drop": 100 * row[f"{name}_drop"],
                    }
                )
    long = pd.DataFrame(rows)
    figure, axes = new_figure(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, kind, label in (
        (axes[0], "shift", "shift (pixels, mean of 4 directions)"),
        (axes[1], "rotation", "rotation (degrees)"),
    ):
        part = long[long["kind"] == kind]
        _mean_with_ci(ax, part, "x", "drop", hue="arm", hue_order=arms, legend=ax is axes[0])
        ax.set(xlabel=label, ylabel="accuracy drop (pp)")
    axes[0].set_title("shifted test images (zero-filled)")
    axes[1].set_title("rotated test images")
    name = _save(figure, folder, "shifted_accuracy.png")
    return Figure(
        name,
        "Accuracy on shifted and rotated test images",
        "Drop from the unshifted accuracy on the same test images (lower is more invariant); "
        "mean over seeds with a 95% bootstrap band.",
    )


FigureMaker = Callable[[], "Figure | None"]


def draw_all(
    analysis: Analysis, results: pd.DataFrame, epochs: pd.DataFrame, folder: Path
) -> list[Figure]:
    """Every figure that applies to this sweep, in report order."""
    sns.set_theme(style="whitegrid", context="notebook")
    claim_metrics = sorted({o.claim.metric for o in analysis.claims} - {"test_accuracy"})
    metrics = ["test_accuracy", *claim_metrics]
    makers: list[FigureMaker] = [
        *(lambda m=m: distribution(analysis, results, m, folder) for m in metrics),
        lambda: paired_differences(analysis, folder),
        lambda: learning_curves(analysis, epochs, folder),
        lambda: effect_by_epoch(analysis, epochs, folder),
        lambda: accuracy_vs_cost(analysis, results, folder),
        lambda: shifted_accuracy(analysis, results, folder),
    ]
    return [figure for make in makers if (figure := make()) is not None]
