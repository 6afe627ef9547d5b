"""What a sweep prints before it starts (the plan) and after it ends (the summary)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import optuna

from cnnlab.claims import Judgement, design_rows, judge
from cnnlab.design import Cell, Sweep
from cnnlab.estimate import format_duration, sweep_seconds


@dataclass(frozen=True)
class SweepOutcome:
    study_name: str
    total: int
    finished: int
    failed: list[str]
    missing: list[str]
    results_csv: Path | None
    runs_table_url: str | None


def describe_plan(sweep: Sweep, design_cells: list[Cell]) -> str:
    spec = sweep.base
    images = spec.data.train_subset or 60_000 - spec.data.validation_size
    arms = sweep.arm_labels()
    if sweep.design == "search":
        size = f"{sweep.n_trials} sampled trials over {len(arms)} combinations"
    else:
        bgs = f" × {sweep.n_backgrounds} backgrounds" if sweep.design == "randomized" else ""
        size = (
            f"{len(arms)} arms × {len(sweep.seed_values)} paired seeds{bgs} = "
            f"{len(design_cells)} trials"
        )
    epochs = spec.train.epochs
    return (
        f"{sweep.name} ({sweep.design}): {size}; {epochs} epoch{'s' if epochs != 1 else ''} "
        f"each on {images:,} {spec.data.dataset} training images, batch {spec.train.batch_size}.\n"
        f"Arms: {', '.join(arms) if len(arms) <= 12 else f'{len(arms)} combinations'}.\n"
        f"Estimated time on this machine: {format_duration(sweep_seconds(sweep))} "
        "(a rough model; the ETA below uses measured times)."
    )


def summary_text(
    sweep: Sweep,
    study: optuna.Study,
    outcome: SweepOutcome,
    elapsed: float,
    stopped_for_time: bool,
    runs_dir: Path,
    quick: bool = False,
) -> str:
    """The one-screen summary: per arm mean ± SD of test accuracy and time, and where things are."""
    from cnnlab.results import trials_table

    results = design_rows(sweep, trials_table(study, one_per_cell=sweep.design != "search")[0])
    lines = [
        "",
        f"Study {outcome.study_name}: {outcome.finished} of {outcome.total} "
        f"replicates finished in {format_duration(elapsed)} this run.",
    ]
    if not results.empty:
        lines.append(f"{'arm':<18} {'n':>3} {'test accuracy':>20} {'s/epoch':>8} {'params':>11}")
        order = [a for a in sweep.arm_labels() if a in set(results["arm"])] or sorted(
            set(results["arm"])
        )
        for arm in order:
            rows = results[results["arm"] == arm]
            accs = list(rows["test_accuracy"])
            sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
            lines.append(
                f"{arm:<18} {len(accs):>3} {100 * statistics.fmean(accs):>11.2f} ± "
                f"{100 * sd:>4.2f} % {statistics.fmean(rows['seconds_per_epoch']):>8.1f} "
                f"{int(rows['params'].iloc[0]):>11,}"
            )
    if sweep.claims and not results.empty:
        lines += claim_lines(judge(sweep, results, quick=quick), quick)
    if outcome.failed:
        lines.append(f"Failed this run ({len(outcome.failed)}): {', '.join(outcome.failed[:6])}")
    if outcome.missing:
        why = " (stopped by --max-time)" if stopped_for_time else ""
        lines.append(
            f"Missing replicates{why}: {len(outcome.missing)}; run the same command to finish them."
        )
    lines.append(f"Results: {outcome.results_csv}")
    lines.append(
        f"MLflow:  python -m cnnlab.ui --runs-dir {runs_dir}   then open {outcome.runs_table_url}"
    )
    return "\n".join(lines) + "\n"


def claim_lines(judgement: Judgement, quick: bool) -> list[str]:
    """The declared claims' verdicts in a few lines (the report gives the full account)."""
    banner = " (smoke run: no evidence)" if quick else ""
    if not judgement.judged:
        return [f"Claims not judged{banner}: " + "; ".join(judgement.reasons) + "."]
    lines = [f"Claims{banner}:"]
    for result in judgement.results:
        low, high = result.ci
        lines.append(
            f"  {result.verdict.upper():<12} {result.statement}: {100 * result.mean:+.2f} pp "
            f"[{100 * low:+.2f}, {100 * high:+.2f}], P(A>B) {result.prob_better:.2f}, "
            f"p(Holm) {result.p_holm:.3g}, n = {result.n}"
            + (f"; ~{result.seeds_needed} seeds would decide it" if result.seeds_needed else "")
        )
    return lines
