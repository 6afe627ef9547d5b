"""What a sweep prints after it ends (the summary; the plan it prints first is `launch`'s).

The summary formats the end-of-sweep `Analysis` (the same one the report is built from), so
the two never disagree about an arm's accuracy or a claim's verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from cnnlab.report.analysis import Analysis
from cnnlab.report.durations import format_duration
from cnnlab.spec.design import Sweep
from cnnlab.stats.claims import Judgement
from cnnlab.stats.paired import ClaimResult
from cnnlab.stats.sequential import SequentialClaim


@dataclass(frozen=True)
class SweepOutcome:
    study_name: str
    total: int
    finished: int
    failed: list[str]
    missing: list[str]
    results_csv: Path | None
    runs_table_url: str | None
    trial_seconds: float = 0.0  # wall time of the finished trials in results.csv, summed
    tracking_server: bool = False  # runs_table_url is an `mlflow server`'s (no `cnnlab ui`)


def summary_text(
    sweep: Sweep,
    outcome: SweepOutcome,
    analysis: Analysis | None,
    elapsed: float,
    stopped_for_time: bool,
    runs_dir: Path,
) -> str:
    """The one-screen summary: per arm mean ± SD of test accuracy and time, the claims'
    verdicts, and where things are."""
    lines = [
        "",
        f"Study {outcome.study_name}: {outcome.finished} of {outcome.total} "
        f"cells finished in {format_duration(elapsed)} this run.",
    ]
    if analysis is not None and analysis.costs:
        lines.append(f"{'arm':<18} {'n':>3} {'test accuracy':>20} {'s/epoch':>8} {'params':>11}")
        for arm in analysis.costs:
            sd = 0.0 if math.isnan(arm.accuracy_sd) else arm.accuracy_sd
            lines.append(
                f"{arm.arm:<18} {arm.n:>3} {100 * arm.accuracy_mean:>11.2f} ± "
                f"{100 * sd:>4.2f} % {arm.seconds_per_epoch:>8.1f} {arm.params:>11,}"
            )
    if sweep.claims and analysis is not None:
        lines += claim_lines(analysis.judgement, analysis.quick)
    if outcome.failed:
        lines.append(f"Failed this run ({len(outcome.failed)}): {', '.join(outcome.failed[:6])}")
    if outcome.missing:
        why = " (stopped by --max-time)" if stopped_for_time else ""
        lines.append(
            f"Missing cells{why}: {len(outcome.missing)}; run the same command to finish them."
        )
    lines.append(f"Results: {outcome.results_csv}")
    if outcome.tracking_server:  # its own UI, at the address the runs table has
        lines.append(f"MLflow:  {outcome.runs_table_url}")
    else:
        lines.append(
            f"MLflow:  python -m cnnlab.ui --runs-dir {runs_dir}   then open "
            f"{outcome.runs_table_url}"
        )
    return "\n".join(lines) + "\n"


def claim_lines(judgement: Judgement, quick: bool) -> list[str]:
    """The declared claims' verdicts in a few lines (the report gives the full account)."""
    banner = " (smoke run: no evidence)" if quick else ""
    if judgement.conditions:
        lines = []
        for label, own in judgement.conditions:
            lines += [f"Condition {label}:", *(f"  {line}" for line in claim_lines(own, quick))]
        return lines + replication_lines(judgement)
    if not judgement.judged:
        return [f"Claims not judged{banner}: " + "; ".join(judgement.reasons) + "."]
    lines = [f"Claims{banner}:"]
    standings = {s.statement: s for s in judgement.sequence}
    for result in judgement.results:
        standing = standings.get(result.statement)
        (low, high), level = result.interval
        lines.append(
            f"  {result.verdict.upper():<12} {result.statement}: {100 * result.mean:+.2f} pp "
            f"[{100 * low:+.2f}, {100 * high:+.2f}] ({100 * level:.4g}% interval), P(A>B) "
            f"{result.prob_better:.3f}, {_p(result, standing)}, n = {result.n}"
            + _why_open(standing)
            + (f"; {_seeds(result)}" if result.advice is not None else "")
        )
    return lines


def replication_lines(judgement: Judgement) -> list[str]:
    """Each claim's replication verdict across the conditions, one line each."""
    lines = ["Replication across conditions:"]
    for replication in judgement.replications:
        each = ", ".join(f"{e.condition} {e.verdict}" for e in replication.effects)
        test = replication.interaction
        interaction = (
            f"; differs by condition: p {test.p_value:.3g} ({test.test}, {test.seeds} seeds)"
            if test is not None
            else ""
        )
        lines.append(
            f"  {replication.verdict.upper()}: {replication.statement} ({each}){interaction}"
        )
    return lines


def _why_open(standing: SequentialClaim | None) -> str:
    """Why a sequential plan stopped training an undecided claim."""
    if standing is not None and standing.status == "futile":
        return f"; stopped for futility at look {standing.look}"
    if standing is not None and standing.status == "final":
        return "; undecided at the plan's last look"
    return ""


def _p(result: ClaimResult, standing: SequentialClaim | None) -> str:
    if standing is None or standing.look is None:
        return f"p(Holm) {result.p_holm:.3g}"
    return f"p {result.p_value:.3g} against α {result.alpha:.3g} at look {standing.look}"


def _seeds(result: ClaimResult) -> str:
    """The shortest form of the plan: seeds needed at the estimate, per reachable outcome."""
    assert result.advice is not None
    reachable = [
        f"~{need.at_estimate} seeds to be {need.outcome}"
        for need in result.advice.outcomes
        if need.at_estimate is not None
    ]
    return ", ".join(reachable) if reachable else "no realistic number of seeds decides it"


def look_standing(sweep: Sweep, judgement: Judgement) -> str:
    """Where a sequential plan's claims stand, one line each (printed before every look)."""
    if judgement.conditions:
        return "\n".join(
            f"Condition {label}: {look_standing(sweep, own)}" for label, own in judgement.conditions
        )
    if not judgement.sequence:
        return "Claims: " + ("; ".join(judgement.reasons) or "no look judged yet") + "."
    lines = []
    for standing in judgement.sequence:
        if standing.result is None:
            where = f"waiting for look 1 ({standing.next_seeds} seeds)"
        elif standing.status == "decided":
            verdict = standing.result.verdict.upper()
            where = f"{verdict} at look {standing.look} ({standing.seeds} seeds)"
        elif standing.status == "futile":
            where = f"stopped for futility at look {standing.look} ({standing.seeds} seeds)"
        elif standing.status == "final":
            where = f"inconclusive at the last look ({standing.seeds} seeds)"
        else:
            where = (
                f"open after look {standing.look} ({standing.seeds} seeds); next look at "
                f"{standing.next_seeds}"
            )
        lines.append(f"  {standing.statement}: {where}")
    return "Claims so far:\n" + "\n".join(lines)
