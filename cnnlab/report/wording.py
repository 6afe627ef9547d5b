"""How numbers and verdicts read in a report: units per metric and the plain-words sentence.

Metrics are fractions in the data (0.9871); reports show accuracies and accuracy drops in
percentage points (pp), losses as they are, parameters and FLOPs as counts, time in seconds.
"""

from __future__ import annotations

import math

from cnnlab.spec.design import Claim
from cnnlab.stats.paired import ClaimResult

_LABELS = {
    "test_accuracy": "test accuracy",
    "val_accuracy": "validation accuracy",
    "test_loss": "test loss",
    "val_loss": "validation loss",
    "seconds_per_epoch": "seconds per epoch",
    "params": "parameters",
    "flops": "FLOPs",
}

VERDICT_WORDS = {
    "supported": "Supported",
    "refuted": "Refuted",
    "equivalent": "Practically equivalent",
    "inconclusive": "Inconclusive",
    None: "Not judged",
}


def metric_label(metric: str) -> str:
    """`shift2_drop` → "accuracy drop under 2-pixel shifts"."""
    if metric in _LABELS:
        return _LABELS[metric]
    name, _, kind = metric.partition("_")
    if name.startswith("shift"):
        where = f"{name[5:]}-pixel shifts"
    elif name.startswith("rot"):
        sign = "−" if name[3] == "m" else "+"
        where = f"{sign}{name[4:]}° rotation"
    else:
        return metric.replace("_", " ")
    return f"accuracy drop under {where}" if kind == "drop" else f"accuracy under {where}"


def is_fraction(metric: str) -> bool:
    return "accuracy" in metric or metric.endswith("_drop")


def unit(metric: str) -> str:
    if is_fraction(metric):
        return "pp"
    return {"seconds_per_epoch": "s"}.get(metric, "")


def amount(value: float, metric: str, signed: bool = True) -> str:
    """A value (or difference) of `metric` with its unit: `+0.15 pp`, `−1,234 parameters`."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if is_fraction(metric):
        text = f"{100 * value:+.2f}" if signed else f"{100 * value:.2f}"
        return text.replace("-", "−") + " pp"
    if metric in ("params", "flops"):
        return f"{value:+,.0f}".replace("-", "−") if signed else f"{value:,.0f}"
    digits = f"{value:+.3g}" if signed else f"{value:.3g}"
    suffix = " s" if metric == "seconds_per_epoch" else ""
    return digits.replace("-", "−") + suffix


def interval(low: float, high: float, metric: str) -> str:
    return f"{amount(low, metric)} to {amount(high, metric)}"


def claim_sentence(claim: Claim, result: ClaimResult | None, wins: int, n: int) -> str:
    """The verdict in plain words, with the numbers behind it."""
    label = metric_label(claim.metric)
    a, b = claim.better, claim.worse
    if result is None:
        return f"Not judged: see the reasons above. ({a} ahead of {b} on {wins} of {n} seeds.)"
    level = round(100 * result.ci_level)
    advantage = (
        f"{a}'s advantage on {label} ({'higher' if claim.higher_is_better else 'lower'} is "
        f"better) is {amount(result.mean, claim.metric)} on average over {result.n} paired "
        f"seeds ({level}% CI {interval(*result.ci, claim.metric)}); {a} came out ahead on "
        f"{wins} of {n}, and the estimated chance that {a} beats {b} on a new seed is "
        f"{result.prob_better:.2f}"
    )
    test = f"{result.test} p = {result.p_value:.2g}, {result.p_holm:.2g} after Holm"
    rope = amount(result.rope, claim.metric, signed=False)
    if result.verdict == "supported":
        return f"{a} beats {b}: {advantage} ({test})."
    if result.verdict == "refuted":
        return f"The opposite holds, {b} beats {a}: {advantage} ({test})."
    if result.verdict == "equivalent":
        return (
            f"{a} and {b} are practically equivalent: the whole CI lies within ±{rope}, the "
            f"region declared too small to matter. {advantage}."
        )
    if result.seeds_needed:
        more = f"about {result.seeds_needed} paired seeds would decide it"
    elif result.notes:  # untestable (too few pairs, no spread): the note says why
        more = result.notes[0]
    else:
        more = "no realistic number of seeds would decide it at the observed effect size"
    return f"Not settled: {advantage} ({test}); {more}."
