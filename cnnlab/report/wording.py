"""How numbers and verdicts read in a report: units per metric and the plain-words sentence.

Metrics are fractions in the data (0.9871); reports show accuracies and accuracy drops in
percentage points (pp), losses as they are, parameters and FLOPs as counts, time in seconds.
"""

from __future__ import annotations

import math

from cnnlab.spec.design import Claim
from cnnlab.stats.paired import ClaimResult
from cnnlab.stats.sequential import SequentialClaim
from cnnlab.stats.testnoise import TestNoise

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
        value = 0.0 if round(100 * value, 2) == 0 else value  # no "−0.00 pp"
        text = f"{100 * value:+.2f}" if signed else f"{100 * value:.2f}"
        return text.replace("-", "−") + " pp"
    if metric in ("params", "flops"):
        return f"{value:+,.0f}".replace("-", "−") if signed else f"{value:,.0f}"
    digits = f"{value:+.3g}" if signed else f"{value:.3g}"
    suffix = " s" if metric == "seconds_per_epoch" else ""
    return digits.replace("-", "−") + suffix


def interval(low: float, high: float, metric: str) -> str:
    return f"{amount(low, metric)} to {amount(high, metric)}"


def pvalue(value: float) -> str:
    """A p-value with two significant digits, "n/a" where no test could be run."""
    return "n/a" if math.isnan(value) else f"{value:.2g}"


def percent(level: float) -> str:
    """A confidence level as a percentage: 0.975 → "97.5%", 0.9 → "90%"."""
    return f"{100 * level:.4g}%"


def prob(value: float) -> str:
    """P(A>B) with three decimals, so 0.747 is never printed as 0.75 next to a 0.75 gate."""
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def number(value: float, digits: int = 2) -> str:
    """A plain number with a true minus sign: −0.15."""
    return f"{value:.{digits}f}".replace("-", "−")


def seeds_phrase(result: ClaimResult) -> str:
    """What would decide an inconclusive claim, from the verdict rule's own power."""
    plan = result.advice
    if plan is None:
        return ""
    low, high = plan.interval
    over = f"its {percent(plan.level)} interval of dz ({number(low)} to {number(high)})"
    at = f"the estimated dz {number(plan.effect)}"
    reachable: list[str] = []
    favourable: list[tuple[int, str]] = []
    for need in plan.outcomes:
        if need.at_estimate is not None:
            most = "more than 1,000" if need.most is None else f"{need.most}"
            spread = (
                f"; {need.fewest} to {most} across {over}"
                if need.fewest is not None and (need.fewest, need.most) != (need.at_estimate,) * 2
                else ""
            )
            reachable.append(
                f"about {need.at_estimate} paired seeds in all would make it {need.outcome} "
                f"with power {plan.power:.1f} at {at}{spread}"
            )
        elif need.fewest is not None:
            favourable.append((need.fewest, need.outcome))
    if plan.decidable:
        return "; ".join(
            reachable
            + [
                f"it cannot be {outcome} at {at} with any realistic number of seeds ({fewest} "
                f"would do at the favourable end of {over})"
                for fewest, outcome in favourable
            ]
        )
    text = (
        f"no realistic number of seeds (up to 1,000) would decide it at {at}: too small an "
        "effect for the P(A>B) gate, and the ROPE too narrow for equivalence at this spread"
    )
    if favourable:
        text += f"; at the favourable end of {over}, " + " and ".join(
            f"{fewest} seeds would make it {outcome}" for fewest, outcome in favourable
        )
    return text


def where_alpha(standing: SequentialClaim | None) -> str:
    """How a claim's α came about: Holm across the report, or a look of a sequential plan."""
    if standing is None or standing.look is None:
        return "after Holm"
    return f"at look {standing.look} of the sequential plan"


def why_not_settled(
    result: ClaimResult, metric: str, standing: SequentialClaim | None = None
) -> str:
    """Each reason an inconclusive claim is neither supported/refuted nor equivalent."""
    if result.untestable:
        return result.untestable
    level = percent(result.ci_level)
    reasons = []
    if not result.excludes_zero:
        reasons.append(
            f"the {level} interval {interval(*result.ci, metric)} includes 0 (α = "
            f"{result.alpha:.3g} {where_alpha(standing)})"
        )
    elif not result.gate_passed:
        toward_a = result.ci[0] > 0
        reasons.append(
            f"P(A>B) {prob(result.prob_better)} is "
            + ("below 0.75" if toward_a else "above 0.25")
            + " (the effect is detectable but small against the seed-to-seed spread)"
        )
    rope = amount(result.rope, metric, signed=False)
    reasons.append(
        f"the {percent(result.equivalence_level)} interval "
        f"{interval(*result.equivalence_ci, metric)} is not inside the ROPE ±{rope}"
    )
    return "; ".join(reasons)


def claim_sentence(
    claim: Claim,
    result: ClaimResult | None,
    wins: int,
    n: int,
    standing: SequentialClaim | None = None,
    noise: TestNoise | None = None,
) -> str:
    """The verdict in plain words, with the numbers behind it (and, in a sequential plan, the
    look that decided it); an equivalence says whether it holds beyond this test set (`noise`:
    the two-level interval over seeds and test images)."""
    label = metric_label(claim.metric)
    a, b = claim.better, claim.worse
    if result is None and standing is not None:
        return (
            f"Not judged yet: its first look ({standing.next_seeds} paired seeds of {a} and "
            f"{b}) is not complete; rerun the sweep command to finish it."
        )
    if result is None:
        return f"Not judged: see the reasons above. ({a} ahead of {b} on {wins} of {n} seeds.)"
    (low, high), level = result.interval
    kind = "TOST" if result.decided_by == "equivalence" else "t"
    advantage = (
        f"{a}'s advantage on {label} ({'higher' if claim.higher_is_better else 'lower'} is "
        f"better) is {amount(result.mean, claim.metric)} on average over {result.n} paired "
        f"seeds ({percent(level)} {kind} interval {interval(low, high, claim.metric)}); {a} came "
        f"out ahead on {wins} of {n}, and the estimated chance that {a} beats {b} on a new seed "
        f"is {prob(result.prob_better)}"
    )
    if standing is None or standing.look is None:
        test = f"paired t p = {pvalue(result.p_value)}, {pvalue(result.p_holm)} after Holm"
        when = ""
    else:
        test = f"paired t p = {pvalue(result.p_value)} against α = {result.alpha:.2g} at this look"
        when = f" Decided at look {standing.look} of the sequential plan ({standing.seeds} seeds)."
    rope = amount(result.rope, claim.metric, signed=False)
    if result.verdict == "supported":
        return f"{a} beats {b}: {advantage} ({test}).{when}"
    if result.verdict == "refuted":
        return f"The opposite holds, {b} beats {a}: {advantage} ({test}).{when}"
    if result.verdict == "equivalent":
        return (
            f"{a} and {b} are practically equivalent: the whole {percent(level)} interval lies "
            f"within ±{rope}, the region declared too small to matter. {advantage}.{when}"
            + _equivalence_scope(noise, result.rope, claim.metric)
        )
    more = seeds_phrase(result)
    if standing is not None and standing.status == "open":
        more = ""  # the plan's next look is what comes next, not a fixed design
    elif standing is not None and more:
        more = f"beyond this plan, as a fixed design: {more}"
    return (
        f"Not settled{_sequential_stop(standing)}: {advantage} ({test}). Why: "
        f"{why_not_settled(result, claim.metric, standing)}."
        + (f" To decide it: {more}." if more else "")
    )


def _equivalence_scope(noise: TestNoise | None, rope: float, metric: str) -> str:
    """Whether "practically equivalent" holds for the task or only for this test set."""
    if noise is None:
        return (
            " Whether it holds beyond this test set is not known: the runs kept no per-image "
            "results to count the test set's own noise."
        )
    low, high = noise.two_level
    two_level = f"{percent(noise.level)} two-level interval {interval(low, high, metric)}"
    if -rope < low and high < rope:
        return (
            f" It holds for the task, not only for this test set: counting new test images as "
            f"well as new seeds, the {two_level} lies inside the ROPE too."
        )
    return (
        f" It is shown for this test set only: counting new test images as well as new seeds, "
        f"the {two_level} reaches outside ±{amount(rope, metric, signed=False)}."
    )


def _sequential_stop(standing: SequentialClaim | None) -> str:
    """Where an undecided claim of a sequential plan stopped (empty for a fixed design)."""
    if standing is None or standing.look is None:
        return ""
    if standing.status == "futile":
        return (
            f" (stopped at look {standing.look}: at the estimated effect more seeds were "
            "unlikely to decide it; the plan's last look would decide it with less than the "
            "futility power. A futility stop, not evidence of no difference)"
        )
    if standing.status == "final":
        return f" at the plan's last look ({standing.seeds} seeds)"
    return f" yet (look {standing.look}; the next look needs {standing.next_seeds} seeds)"
