"""The report as a sequence of blocks (headings, text, tables, figures), in reading order.

Built once from the `Analysis` and drawn figures; `render` writes the same blocks as
Markdown (README.md, for a code host) and as self-contained HTML (index.html). The verdict
table comes first, after the banners that change how it must be read (smoke run, not judged,
claims edited after results existed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from cnnlab.report.analysis import Analysis, CapAccount, Replicate
from cnnlab.report.conditions import MEANING, replication_rows
from cnnlab.report.durations import format_duration
from cnnlab.report.figures import Figure
from cnnlab.report.provenance import ABSENT, Provenance
from cnnlab.report.wording import VERDICT_WORDS, amount, interval, percent, prob, pvalue
from cnnlab.spec.design import Claim, Sweep, sweep_of_study
from cnnlab.spec.network import Network
from cnnlab.stats.calibration import RULE, skew_beyond_guarantee, skewness_se
from cnnlab.stats.convergence import RISE, WINDOW, Convergence
from cnnlab.stats.paired import ClaimResult, equivalence_level, superiority_thresholds
from cnnlab.stats.sequential import OperatingCharacteristics, SequentialClaim
from cnnlab.stats.testnoise import TestNoise


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Banner:
    kind: str  # "smoke", "not-judged", "edited", "confound"
    text: str


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    element_id: str = ""


@dataclass(frozen=True)
class FigureBlock:
    figure: Figure


Block = Heading | Text | Banner | Table | FigureBlock


def _banners(analysis: Analysis) -> list[Block]:
    blocks: list[Block] = []
    prov = analysis.provenance
    if analysis.quick:
        blocks.append(
            Banner(
                "smoke",
                "Smoke run (--quick): few seeds, one epoch on a training subset. Its verdicts are "
                "computed like any others, but they are no evidence for or against any claim.",
            )
        )
    if not analysis.judgement.judged:
        blocks.append(
            Banner(
                "not-judged",
                "Not judged: " + "; ".join(analysis.judgement.reasons) + ".",
            )
        )
    # Either flag implies a recorded hash, so a provenance to quote it from.
    if analysis.claims_edited and prov is not None:
        blocks.append(
            Banner(
                "edited",
                "Claims edited after results existed: the claims declared now differ from those "
                "hashed when the study started (hash "
                f"{prov.claims_hash_at_start}), so they were not "
                "pre-registered; read the verdicts as exploratory.",
            )
        )
    if analysis.plan_edited and prov is not None:
        blocks.append(
            Banner(
                "edited",
                "Seed plan changed after the study started: the study was created with plan "
                f'hash {prov.plan_hash_at_start} ("fixed" is a fixed '
                "seed count), so the looks were not pre-registered; read the verdicts as "
                "exploratory.",
            )
        )
    return blocks


def _verdict_table(analysis: Analysis) -> Table:
    rows = []
    for outcome in analysis.claims:
        claim, result = outcome.claim, outcome.result
        verdict = VERDICT_WORDS[result.verdict if result else None]
        if result is None:
            numbers = ("—", "—", "—", "—", f"{len(outcome.differences)}")
        else:
            (low, high), level = result.interval
            kind = "TOST" if result.decided_by == "equivalence" else "t"
            numbers = (
                f"{amount(result.mean, claim.metric)} ({percent(level)} {kind} interval "
                f"{interval(low, high, claim.metric)})",
                f"{prob(result.prob_better)} ({percent(result.ci_level)} exact "
                f"{_pair(result.prob_ci)})",
                f"{result.wins} of {result.n}"
                + (f", {result.ties} tied" if result.ties else "")
                + f" ({percent(result.ci_level)} Wilson {_pair(result.win_ci)}"
                + (", ties count half)" if result.ties else ")"),
                _test_cell(result, outcome.standing),
                str(result.n),
            )
        rows.append((claim.statement, verdict, outcome.sentence, *numbers))
    return Table(
        (
            "Claim",
            "Verdict",
            "In plain words",
            "Advantage (deciding interval)",
            "P(A beats B)",
            "Wins",
            "Test",
            "Paired seeds",
        ),
        tuple(rows),
        element_id="verdicts",
    )


def _test_cell(result: ClaimResult, standing: SequentialClaim | None) -> str:
    """The test column: Holm in a fixed design, the look's nominal α in a sequential plan."""
    if standing is not None and standing.look is not None:
        return (
            f"paired t: p = {pvalue(result.p_value)}; α = {result.alpha:.3g} at look "
            f"{standing.look}"
        )
    return (
        f"paired t: p = {pvalue(result.p_value)}; Holm {pvalue(result.p_holm)} (α = "
        f"{result.alpha:.3g})"
    )


def _number(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "n/a"


def _pair(values: tuple[float, float]) -> str:
    low, high = values
    return "n/a" if math.isnan(low) or math.isnan(high) else f"{low:.2f}–{high:.2f}"


def _claim_notes(analysis: Analysis) -> list[Block]:
    lines = []
    for outcome in analysis.claims:
        result = outcome.result
        if result is None:
            continue
        metric = outcome.claim.metric
        rope = amount(result.rope, metric, signed=False)
        spread = amount(result.sd, metric, signed=False)
        extra = "; ".join(result.notes)
        rank = f" {result.rank_note[0].upper()}{result.rank_note[1:]}." if result.rank_note else ""
        noise = _noise_text(outcome.noise, outcome.claim.better, outcome.claim.worse, metric)
        where = (
            "Holm"
            if outcome.standing is None or outcome.standing.look is None
            else f"look {outcome.standing.look}"
        )
        lines.append(
            f"*{outcome.claim.statement}* — superiority: {percent(result.ci_level)} t interval "
            f"{interval(*result.ci, metric)} ({where} α = {result.alpha:.3g}); equivalence "
            f"(TOST): {percent(result.equivalence_level)} interval "
            f"{interval(*result.equivalence_ci, metric)} against the ROPE ±{rope} ({where} α = "
            f"{result.alpha_eq:.3g}, p = {result.p_equivalence:.2g}). SD of the differences "
            f"{spread}, dz = {_number(result.dz)} (Hedges-corrected "
            f"{_number(result.hedges_dz)}).{rank}"
            + (f" {noise}" if noise else "")
            + (f" Note: {extra}." if extra else "")
        )
    return [Text(line) for line in lines]


SEED_ONLY_SHOWN_FROM = 10  # seeds; see _noise_text


def _noise_text(noise: TestNoise | None, better: str, worse: str, metric: str) -> str:
    """The test-set noise diagnostic of one claim, or n/a where it cannot be computed."""
    if metric != "test_accuracy":
        return ""
    if noise is None:
        return (
            "Test-set noise: n/a (these results predate per-example correctness, so test "
            "examples cannot be resampled, nor each test accuracy checked against them)."
        )
    counts = ", ".join(
        f"{b}/{w}" for b, w in zip(noise.only_better_right, noise.only_worse_right, strict=True)
    )
    seeds = len(noise.mcnemar_p)
    # Below 10 seeds a bootstrap of the seeds alone is far narrower than the t interval that
    # decides, which would make the test set's share look larger than it is: not shown.
    seed_only = (
        f", against {interval(*noise.seed_only, metric)} resampling the seeds alone"
        if seeds >= SEED_ONLY_SHOWN_FROM
        else ""
    )
    return (
        f"Test-set noise (a diagnostic; the t interval decides): the seeds' spread plus, counted "
        f"once, what the {noise.examples:,} test images share across seeds gives a "
        f"{percent(noise.level)} interval {interval(*noise.two_level, metric)} for new seeds on "
        f"a new test set{seed_only}. Test images only {better} got right / only {worse} got "
        f"right, per seed: {counts}; McNemar p < 0.05 on {noise.seeds_differing} of "
        f"{seeds} seeds."
    )


def _rules(sequential: bool) -> Text:
    equivalence_alpha, superiority_alpha = (
        ("α the look's nominal level", "α the look's nominal level; see the sequential plan")
        if sequential
        else (
            "Holm across this report's equivalence tests",
            "α Holm-adjusted across this report's claims",
        )
    )
    return Text(
        "How verdicts are decided, with paired differences by seed: *practically equivalent* "
        "when the (1 − 2α) Student t interval lies inside the ROPE (two one-sided tests at level "
        f"α, {equivalence_alpha}); otherwise *supported* when the "
        f"two-sided (1 − α) t interval lies above 0 ({superiority_alpha}) "
        "and the estimated P(A beats B) = Φ(mean/SD) is at least 0.75; *refuted* the same the "
        "other way; otherwise *inconclusive*, with the reason and the paired seeds that would "
        "decide it, planned from this rule's own power (80 %) over an 80 % interval of dz. The "
        "interval shown is the one that decided. P(A beats B) has an exact noncentral-t "
        "interval; the signed-rank test (on differences rounded to the test set's resolution, "
        "zeros kept by Pratt's method) is a diagnostic and never decides."
    )


def _sequential_blocks(analysis: Analysis) -> list[Block]:
    """The plan, each look's levels, where each claim stands, and the stopping probabilities."""
    plan, looks = analysis.sweep.plan, analysis.judgement.looks
    if plan is None or not looks:
        return []
    m = len(analysis.sweep.claims)
    first = looks[0]
    t_first, dz_first = superiority_thresholds(first.seeds, first.alpha)  # one per seed
    blocks: list[Block] = [
        Heading(2, "Sequential plan"),
        Text(
            f"Seeds were added in looks: {plan.describe()}. "
            + (
                f"α is split over the {m} claims by Bonferroni ({plan.alpha / m:.3g} each; Holm's "
                "step-down is not carried across looks), and each claim's share is spent "
                if m > 1
                else f"The claim's α = {plan.alpha:g} is spent "
            )
            + "over the looks for "
            "superiority (two-sided) and for each one-sided test of TOST. Each look's critical "
            "value for the paired t statistic was calibrated by simulation (200,000 draws per "
            "noise shape) so that, with futility stops ignored, the chance of a false verdict by "
            "that look stays within the α spent by then under normal, heavy-tailed (t3) and "
            "skewed noise (|skewness| up to 1, or 5 % of seeds 4 SD off); the levels below are "
            "where t crosses those values. A claim is judged at each look by the same rule as a "
            "fixed design at those levels until it is decided; the interval shown is the "
            "deciding look's repeated confidence interval. Futility stops are non-binding. "
            + _rule_note(analysis)
            + "The arms table, "
            "the figures other than the paired differences, and the sanity gate's first look use "
            "every seed trained: an arm shared with a claim that stayed open has more seeds than "
            "the look that decided another claim. With "
            f"{first.seeds} seeds the first look can support or refute a claim only when "
            f"|t| ≥ {t_first:.2f} on {first.seeds - 1} degrees of freedom (an observed dz of at "
            f"least {dz_first:.2f}), and call it equivalent only when its "
            f"{percent(equivalence_level(first.alpha_eq))} interval lies inside the ROPE."
        ),
        Table(
            ("Look", "Paired seeds", "Superiority interval", "TOST interval"),
            tuple(
                (
                    str(level.look),
                    str(level.seeds),
                    f"{percent(1 - level.alpha)} (α = {level.alpha:.3g})",
                    f"{percent(equivalence_level(level.alpha_eq))} (α = {level.alpha_eq:.3g} "
                    "per side)",
                )
                for level in looks
            ),
            element_id="looks",
        ),
    ]
    if analysis.cap is not None:
        blocks.append(Text(_cap_text(analysis.cap)))
    rows = []
    for outcome in analysis.claims:
        standing = outcome.standing
        if standing is None:
            continue
        history = ", ".join(f"look {look}: {verdict}" for look, verdict in standing.history)
        status = {
            "decided": f"decided at look {standing.look} ({standing.seeds} seeds)",
            "futile": f"stopped for futility at look {standing.look} ({standing.seeds} seeds)",
            "final": f"undecided at the last look ({standing.seeds} seeds)",
            "open": f"open: the next look needs {standing.next_seeds} seeds",
        }[standing.status]
        rows.append((outcome.claim.statement, status, history or "—"))
    blocks.append(Table(("Claim", "Standing", "Verdict at each look"), tuple(rows)))
    characteristic_rows = []
    for outcome in analysis.claims:
        for oc in outcome.characteristics:
            stops = " / ".join(f"{sum(look.values()):.2f}" for look in oc.stop)
            correct = _correct_rate(oc)
            characteristic_rows.append(
                (
                    outcome.claim.statement,
                    f"{oc.delta:g}",
                    stops,
                    f"{oc.inconclusive:.2f}",
                    correct,
                    f"{oc.expected_seeds:.1f}",
                )
            )
    if characteristic_rows:
        sims = next(o.characteristics[0].sims for o in analysis.claims if o.characteristics)
        blocks += [
            Text(
                "Stopping probabilities of this plan for each claim at a true dz of 0, 0.674 (the "
                "P(A beats B) gate), 1 and 1.75, at the claim's observed ROPE / SD, by simulation "
                f"({sims:,} runs of the rule each):"
            ),
            Table(
                (
                    "Claim",
                    "True dz",
                    "P(stop) at each look",
                    "P(undecided at the end)",
                    "Verdicts",
                    "Expected seeds",
                ),
                tuple(characteristic_rows),
                element_id="stopping",
            ),
        ]
        powers = [
            (o.claim.statement, oc.supported)
            for o in analysis.claims
            for oc in o.characteristics
            if oc.delta == 1.0
        ]
        short = [name for name, p in powers if p < 0.8]
        blocks.append(
            Text(
                "Power at a true dz of 1 (the chance this rule supports the claim by its last "
                f"look, {plan.seed_count} seeds at most): "
                + "; ".join(f"{name}: {p:.2f}" for name, p in powers)
                + ". "
                + (
                    f"Below 0.8 for {', '.join(short)}: for an effect of that size the plan's "
                    "last look is too few seeds."
                    if short
                    else "At least 0.8 for every claim."
                )
            )
        )
    skews = [(o.claim.statement, _skewness(o.differences)) for o in analysis.claims]
    shown = [
        f"{name}: {f'{g[0]:+.2f}'.replace('-', '−')} (SE {g[1]:.2f})"
        for name, g in skews
        if g is not None
    ]
    if shown:
        beyond = [name for name, g in skews if g is not None and skew_beyond_guarantee(*g)]
        blocks.append(
            Text(
                "Skewness of the paired differences the latest look judged (adjusted G1, with "
                "its standard error under normal noise): "
                + "; ".join(shown)
                + ". The error rates are guaranteed for skewness within ±1; "
                + (
                    f"beyond that by more than two standard errors: {', '.join(beyond)}. "
                    if beyond
                    else "no claim is beyond that by more than two standard errors. "
                )
                + "With few seeds the check has little power (at 5 seeds the standard error is "
                "0.91); docs/statistics.md tabulates the error rates beyond the guarantee (up to "
                "0.10 for one claim at skewness 2)."
            )
        )
    return blocks


def _skewness(differences: tuple[float, ...]) -> tuple[float, float] | None:
    """Adjusted sample skewness and its SE, or None when undefined (under 3 values, no spread)."""
    d = np.asarray(differences, dtype=float)
    if len(d) < 3 or not np.ptp(d) > 0:
        return None
    return float(sps.skew(d, bias=False)), skewness_se(len(d))


def _rule_note(analysis: Analysis) -> str:
    """Whether the verdicts were judged under the rule the study was created with."""
    provenance = analysis.provenance
    recorded = None if provenance is None else provenance.rule_at_start
    if recorded == RULE:
        return ""
    return (
        f"These claims were judged under the revised rule ({RULE}) after the data were seen: "
        "the study was created under the earlier rule, which converted z boundaries to t by "
        "their nominal levels and so spent more than α (docs/statistics.md). "
    )


def _cap_text(cap: CapAccount) -> str:
    """What the compute cap cut, in seeds, cell time and power."""
    full_cost = cap.cell_seconds * cap.full_cells
    if cap.looks == cap.full_looks:
        return (
            f"Compute cap: at most {cap.hours:g} h of training, declared before the start. The "
            f"full plan (looks at {', '.join(map(str, cap.full_looks))}) fit within it at the "
            "estimate printed before the start, so this sweep ran it: up to "
            f"{cap.full_cells} cells, at this run's measured "
            f"{format_duration(cap.cell_seconds)} per cell {format_duration(full_cost)} of cell "
            f"time (divided by the workers that train side by side); this run has "
            f"{cap.cells} cells. Its power at a true dz of 1 (P(supported) by the last look, "
            f"simulated with no ROPE stop) is {cap.power:.2f}."
        )
    return (
        f"Compute cap: at most {cap.hours:g} h of training, declared before the start. The "
        f"full plan (looks at {', '.join(map(str, cap.full_looks))}) would have trained up to "
        f"{cap.full_cells} cells: at this run's measured {format_duration(cap.cell_seconds)} per "
        f"cell, {format_duration(full_cost)} of cell time (divided by the workers that train "
        f"side by side), against the {cap.cells} cells this run has. So this sweep ran the "
        f"shorter plan (looks at {', '.join(map(str, cap.looks))}), with its own levels. Its "
        f"power at a true dz of 1 (P(supported) by the last look, simulated with no ROPE stop) "
        f"is {cap.power:.2f}; the full plan's would have been {cap.full_power:.2f}. An "
        "undecided claim here is undecided at this budget, not evidence of no difference."
    )


def _correct_rate(oc: OperatingCharacteristics) -> str:
    """The verdicts a plan reaches at a true effect, summed over its looks."""
    totals = {
        name: sum(look.get(name, 0.0) for look in oc.stop)
        for name in ("supported", "refuted", "equivalent", "futile")
    }
    return ", ".join(f"{name} {p:.2f}" for name, p in totals.items() if p >= 0.005) or "—"


def _omnibus_blocks(analysis: Analysis) -> list[Block]:
    blocks: list[Block] = []
    result = analysis.omnibus
    if result is not None:
        factor = analysis.sweep.factors[0].path
        blocks += [
            Heading(2, f"Does `{factor}` matter at all?"),
            Text(
                f"{result.test} on test accuracy over {result.n} complete replicates "
                f"(chosen because {result.reason}): statistic {result.statistic:.3g}, "
                f"p = {result.p_value:.2g}"
                + (
                    f" (uncorrected for sphericity: {result.p_uncorrected:.2g})"
                    if result.p_uncorrected is not None
                    else ""
                )
                + ". Post-hoc pairs (paired t), Holm-corrected:"
            ),
            Table(
                ("Pair", "Mean difference", "p", "p (Holm)"),
                tuple(
                    (
                        f"{pair.a} − {pair.b}",
                        amount(pair.mean, "test_accuracy"),
                        f"{pair.p_value:.2g}",
                        f"{pair.p_holm:.2g}",
                    )
                    for pair in result.pairs
                ),
            ),
        ]
    elif analysis.omnibus_note:
        blocks.append(Text(f"Omnibus test {analysis.omnibus_note}."))
    grid = analysis.factorial
    if grid is not None:
        effects = ", ".join(
            f"{e.level}: {amount(e.mean, 'test_accuracy')} (p = {e.p_value:.2g}, "
            f"Holm {e.p_holm:.2g})"
            for e in grid.simple_effects
        )
        verdict = (
            "The effect REVERSES between levels (significant simple effects of opposite sign)."
            if grid.reversal
            else "The effect holds at every level."
            if grid.holds_everywhere
            else "The effect does not hold at every level."
        )
        blocks += [
            Heading(2, f"Interaction: `{grid.factor}` × `{grid.other}`"),
            Text(
                f"Two-way repeated-measures ANOVA on test accuracy: `{grid.factor}` p = "
                f"{grid.main_p:.2g}, `{grid.other}` p = {grid.other_p:.2g}, interaction p = "
                f"{grid.interaction_p:.2g}. Simple effect of `{grid.factor}` at each level of "
                f"`{grid.other}`: {effects}. {verdict}"
            ),
        ]
    elif analysis.factorial_note:
        blocks.append(Text(f"Interaction model {analysis.factorial_note}."))
    return blocks


def _sd(value: float) -> str:
    return "—" if math.isnan(value) else f"{100 * value:.2f}"


def _cost_blocks(analysis: Analysis) -> list[Block]:
    control = next((c for c in analysis.costs if c.arm == analysis.control), None)
    # The receptive field is a column only where it differs between arms: then an accuracy
    # difference may be what each arm sees, not what the factor does (docs/statistics.md).
    fields = analysis.receptive_fields
    show_field = len({fields.get(c.arm) for c in analysis.costs}) > 1
    rows = []
    for cost in analysis.costs:
        ratio = "" if control is None else f"{cost.params / max(control.params, 1):.2f}×"
        flag = "differs from control" if cost.differs_from_control else ""
        field = (f"{fields[cost.arm]}×{fields[cost.arm]}" if cost.arm in fields else "",)
        rows.append(
            (
                cost.arm,
                str(cost.n),
                f"{100 * cost.accuracy_mean:.2f}",
                _sd(cost.accuracy_sd),
                f"{cost.params:,}",
                ratio,
                f"{cost.flops:,}",
                *(field if show_field else ()),
                f"{cost.seconds_per_epoch:.1f}",
                flag,
            )
        )
    blocks: list[Block] = [Heading(2, "Arms: accuracy and cost")]
    flagged = [c.arm for c in analysis.costs if c.differs_from_control]
    if flagged:
        blocks.append(
            Banner(
                "confound",
                f"Capacity differs: {', '.join(flagged)} ha{'s' if len(flagged) == 1 else 've'} "
                f"other parameter or FLOP counts than the control arm {analysis.control!r}; "
                "an accuracy difference may come from capacity, not only from the factor.",
            )
        )
    if analysis.replicates:
        blocks.append(
            Text(
                "Each replicate drew its own architecture, so parameters, FLOPs and seconds "
                "here are the first replicate's; every replicate's are under *Drawn "
                "architectures* below."
            )
        )
    blocks.append(
        Table(
            (
                "Arm",
                "n",
                "Test accuracy (%)",
                "SD (pp)",
                "Parameters",
                "vs control",
                "FLOPs",
                *(("Receptive field (px)",) if show_field else ()),
                "s / epoch",
                "Flag",
            ),
            tuple(rows),
            element_id="arms",
        )
    )
    return blocks


def _replicate_blocks(analysis: Analysis) -> list[Block]:
    """A randomized design's replicates: what each drew, and each arm's test accuracy."""
    replicates = analysis.replicates
    if not replicates:
        return []
    paths = list(replicates[0].drawn)
    arms = [arm for arm in analysis.arms if arm in replicates[0].accuracy]
    claims = [c for c in analysis.sweep.claims if c.metric == "test_accuracy"]
    rows = []
    for r in replicates:
        params = sorted(set(r.params.values()))
        rows.append(
            (
                str(r.seed),
                str(r.background),
                *(str(r.drawn[path]) for path in paths),
                " / ".join(f"{p:,}" for p in params),
                *(f"{100 * r.accuracy[arm]:.2f}" if arm in r.accuracy else "—" for arm in arms),
                *(_difference(r, c) for c in claims),
            )
        )
    architectures = {tuple(r.drawn.values()) for r in replicates}
    return [
        Heading(2, "Drawn architectures"),
        Text(
            f"Every replicate (seed, draw) drew its background fields at random, shared by "
            f"all arms of that replicate: {len(replicates)} replicates, "
            f"{len(architectures)} distinct architectures. Accuracies are test accuracy (%); "
            "a difference is in percentage points, positive when the claim's better arm "
            "is ahead."
        ),
        Table(
            (
                "Seed",
                "Draw",
                *paths,
                "Parameters",
                *(f"{arm} (%)" for arm in arms),
                *(f"{c.better} − {c.worse} (pp)" for c in claims),
            ),
            tuple(rows),
            element_id="replicates",
        ),
    ]


def _difference(replicate: Replicate, claim: Claim) -> str:
    accuracy = replicate.accuracy
    if claim.better not in accuracy or claim.worse not in accuracy:
        return "—"
    # The report's own signed form ("−0.14", never "-0.14" or "−0.00"), the unit in the header.
    return amount(accuracy[claim.better] - accuracy[claim.worse], claim.metric).removesuffix(" pp")


def _design_text(analysis: Analysis) -> Text:
    prov = analysis.provenance
    sweep = analysis.sweep
    network = sweep.base.arch
    yours = (
        f"; network: your function {network.function} (source SHA-256 "
        f"{network.source_sha256[:12]}…), base hp {network.hp.as_dict()}"
        if isinstance(network, Network)
        else ""
    )
    return Text(
        f"Design: {sweep.design}; arms {_arms_text(analysis)}{yours}; paired seeds "
        f"{_seed_text(sweep)}; {prov.epochs} epoch(s) "
        f"on {prov.train_images:,} {prov.dataset} training images, "
        f"batch {prov.batch_size}. Baseline (sanity gate) arm "
        f"{analysis.judgement.baseline.get('arm')!r}: mean test accuracy "
        f"{_pct(analysis.judgement.baseline.get('mean_test_accuracy'))}, declared band "
        f"{_band(analysis.judgement.baseline)}."
        if prov is not None
        else f"Design: {sweep.design}; arms {', '.join(sweep.arm_labels())}."
    )


def _pilot_blocks(convergence: Convergence) -> list[Block]:
    """A pilot's budget: the mean validation curves and the epoch the rule picks."""
    arms = list(convergence.curves)
    length = max((len(c) for c in convergence.curves.values()), default=0)
    rows = tuple(
        (
            str(epoch),
            *(
                f"{100 * c[epoch - 1]:.2f} %" if epoch <= len(c) else ""
                for c in convergence.curves.values()
            ),
        )
        for epoch in range(1, length + 1)
    )
    rule = (
        f"the first epoch at which every arm's mean validation accuracy rose by less than "
        f"{100 * RISE:.2f} pp over the last {WINDOW} epochs"
    )
    rises = ", ".join(f"{arm} {100 * rise:+.3f} pp" for arm, rise in convergence.rises.items())
    if convergence.epoch is None:
        verdict = (
            f"Not converged within the {length} epochs trained: {rule} never came "
            f"(the last {WINDOW} epochs' rises: {rises}). Train the pilot longer."
        )
    else:
        verdict = (
            f"Converged budget: {convergence.epoch} epochs, {rule} (rises from epoch "
            f"{convergence.epoch - WINDOW} to {convergence.epoch}: {rises})."
        )
    seeds = ", ".join(f"{arm} {n}" for arm, n in convergence.seeds.items())
    return [
        Heading(2, "Budget (the pilot rule)"),
        Text(verdict),
        Table(
            ("epoch", *arms),
            rows,
            element_id="pilot-curves",
        ),
        Text(
            f"Mean validation accuracy per epoch over the pilot's seeds ({seeds} seeds per "
            "arm); validation, never test, accuracy chooses the budget. The pilot's seeds are "
            "not the sweeps' own: it fixes the budget and is no evidence for any claim."
        ),
    ]


def _reused_text(analysis: Analysis) -> str:
    """Which cells are copies of earlier trainings, and what that means for the evidence."""
    copied = sum(count for _, count in analysis.reused)
    where = ", ".join(f"{study} ({count})" for study, count in analysis.reused)
    return (
        f"Reused cells: {copied} of the {analysis.cell_count} cells were not trained for this "
        f"report but copied from identical trainings in {where} (the same spec, seed, data, "
        "threads, CPU, library versions and training code, so the same bits; results.csv "
        "names each one's trial in `reused_from`). They are the same evidence as in those "
        "reports, not new confirmations of it."
    )


def _arms_text(analysis: Analysis) -> str:
    """The arms with results, and any declared arm the run never trained (a sequential plan
    trains only the baseline and the arms a claim compares)."""
    trained = set(analysis.arms)
    declared = analysis.sweep.arm_labels()
    missing = [arm for arm in declared if arm not in trained]
    text = ", ".join(arm for arm in declared if arm in trained)
    if missing:
        text += f" ({', '.join(missing)} declared but not trained: no claim compares it)"
    return text


def _seed_text(sweep: Sweep) -> str:
    if sweep.plan is not None:
        last = sweep.plan.seed_count - 1
        return f"0 to {last} as the sequential plan's looks needed them (see the plan above)"
    return ", ".join(str(s) for s in sweep.seed_values)


def _pct(value: Any) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.2f} %"


def _band(baseline: dict[str, Any]) -> str:
    band, dataset = baseline.get("band"), baseline.get("no_band_for")
    if dataset:
        return f"none for {dataset} (the sweep declares bands for other datasets only): not gated"
    return "none" if not band else f"{100 * band[0]:.1f}–{100 * band[1]:.1f} %"


def _data_blocks(prov: Provenance) -> list[Block]:
    """Your data (or a shipped dataset): its form, scaling, shape and images per class."""
    facts = prov.data_facts
    if facts is ABSENT or facts["format"] == "idx":
        return []  # MNIST and Fashion-MNIST: described by their own catalog
    h, w, c = facts["image_shape"]
    step = 100 / facts["test_images"]
    text = (
        f"Data: {prov.dataset} ({facts['format']}, {h}×{w}×{c}, {facts['scaling']}), "
        f"{facts['test_images']:,} test images: test accuracy moves in steps of {step:.3g} pp "
        "(one test image)"
        + (
            ", coarser than the default 0.1 pp ROPE: one cell's accuracy cannot show a "
            "difference that small, only the mean over many seeds can."
            if step > 0.1
            else "."
        )
    )
    rows = tuple(
        (name, f"{train:,}", f"{test:,}") for name, (train, test) in facts["classes"].items()
    )
    return [
        Text(text),
        Table(("class", "training images", "test images"), rows, element_id="classes"),
    ]


def _pairing_text(analysis: Analysis) -> str:
    low, high = analysis.init_paired or (1.0, 1.0)
    spread = f"{100 * low:.1f} %" if low == high else f"{100 * low:.1f}–{100 * high:.1f} %"
    return (
        "Initial weights: the network is your own function, so each arm's initial weights were "
        "paired with the first arm's of the same seed wherever a trainable variable's path, "
        "shape, layer type and initializers match (an initializer that is a factor is left to "
        f"differ): {spread} of the trainable parameters were paired (over cells). Unpaired "
        "parameters start from the seed's own initialisation: noise the pairing does not remove."
    )


def _provenance_blocks(prov: Provenance) -> list[Block]:
    rows: list[tuple[str, str]] = [
        ("Study", prov.study),
        ("Git commit", prov.git_commit),
        ("Packages", ", ".join(f"{k} {v}" for k, v in sorted(prov.versions.items()))),
        ("Data", f"{prov.dataset} from {prov.data_source}"),
        *((f"sha256 {name}", digest) for name, digest in sorted(prov.data_sha256.items())),
        ("Seeds", ", ".join(str(s) for s in prov.seeds)),
        *((("Workers", prov.workers),) if prov.workers is not ABSENT else ()),
        ("Threads", ", ".join(f"{k} {v}" for k, v in sorted(prov.threads.items()))),
        ("Machine", ", ".join(f"{k}: {v}" for k, v in sorted(prov.machine.items()))),
        ("Training time", f"{prov.trial_wall_seconds:,.0f} s summed over trials"),
        (
            "Sweep wall time",
            f"{prov.sweep_wall_seconds:,.0f} s (the invocation that finished it)",
        ),
        ("Finished", prov.finished),
        ("Definition hash", prov.config_hash),
        ("Claims hash at start", str(prov.claims_hash_at_start)),  # "None": not recorded
    ]
    return [
        Heading(2, "Provenance"),
        Table(("", ""), tuple(rows), element_id="provenance"),
        Text(
            "results.csv (one row per finished trial) is the source of truth; rebuild this "
            f"report without training: `python -m cnnlab.report {_rebuild_args(prov)}`"
        ),
    ]


def _rebuild_args(prov: Provenance) -> str:
    name = prov.report
    return sweep_of_study(name) + " --quick" if prov.quick else name


def build_document(
    analysis: Analysis,
    figures: list[Figure],
    question: str,
    by_condition: dict[str, list[Figure]] | None = None,
) -> list[Block]:
    """All blocks, verdicts first (a sweep with conditions: the replication verdicts first,
    then each condition's own blocks and `by_condition` figures)."""
    title = f"{analysis.sweep.name}{' (smoke run)' if analysis.quick else ''}"
    blocks: list[Block] = [Heading(1, f"cnnlab report: {title}")]
    if question:
        blocks.append(Text(f"Question: {question}"))
    blocks += _banners(analysis)
    if analysis.conditions:
        return blocks + _conditions_blocks(analysis, figures, by_condition or {})
    blocks += _body(analysis, figures)
    if analysis.provenance is not None:  # a written report always has one (`write_report`)
        blocks += _provenance_blocks(analysis.provenance)
    return blocks


def _conditions_blocks(
    analysis: Analysis, forests: list[Figure], by_condition: dict[str, list[Figure]]
) -> list[Block]:
    """The replication verdicts and forest plots, then each condition as a report of its own."""
    conditions = analysis.sweep.conditions
    assert conditions is not None
    levels = dict(zip(conditions.labels, conditions.levels, strict=True))
    blocks: list[Block] = [
        Heading(2, "Replication across conditions"),
        Text(
            f"Every claim is judged under each condition of `{conditions.path}` "
            f"({', '.join(f'{label} = {levels[label]!r}' for label in conditions.labels)}), "
            "each with its own looks at the claim's own level, on the same seeds."
        ),
        Table(
            ("claim", "replication", "each condition (pp)", "differs by condition?", "pooled"),
            replication_rows(analysis),
            element_id="replication",
        ),
        Text(
            "Verdicts: "
            + "; ".join(f"**{verdict}**: {meaning}" for verdict, meaning in MEANING.items())
            + ". The interaction test and the pooled effect read the seeds every condition "
            "trains whatever its data say (a sequential plan's first look): later seeds are "
            "chosen by each condition's stopping (docs/statistics.md)."
        ),
        *(FigureBlock(figure) for figure in forests),
    ]
    if analysis.reused:
        blocks.append(Text(_reused_text(analysis)))
    for label, part in analysis.conditions:
        blocks.append(Heading(2, f"Condition {label}: {conditions.path} = {levels[label]!r}"))
        blocks += _body(part, by_condition.get(label, []), level=3)
    if analysis.provenance is not None:
        blocks += _provenance_blocks(analysis.provenance)
    return blocks


def _body(analysis: Analysis, figures: list[Figure], level: int = 2) -> list[Block]:
    """A plain sweep's report between its banners and its provenance; `level` is its
    headings' (3 inside a condition)."""
    blocks: list[Block] = []
    if analysis.convergence is not None:
        blocks += _pilot_blocks(analysis.convergence)
    blocks.append(Heading(level, "Verdicts"))
    if analysis.claims:
        blocks.append(_verdict_table(analysis))
    else:
        blocks.append(Text("This sweep declares no claims; the figures describe its results."))
    blocks += _claim_notes(analysis)
    blocks.append(_rules(analysis.sweep.plan is not None))
    blocks += _sequential_blocks(analysis)
    blocks.append(_design_text(analysis))
    if analysis.init_paired is not None:
        blocks.append(Text(_pairing_text(analysis)))
    if analysis.provenance is not None and level == 2:
        blocks += _data_blocks(analysis.provenance)
    if analysis.reused:
        blocks.append(Text(_reused_text(analysis)))
    blocks += _omnibus_blocks(analysis)
    blocks += _cost_blocks(analysis)
    blocks += _replicate_blocks(analysis)
    blocks.append(Heading(level, "Figures"))
    blocks += [FigureBlock(figure) for figure in figures]
    return blocks


__all__ = ["Block", "build_document"]
