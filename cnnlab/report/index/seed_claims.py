"""The seed documents' claims, and what the committed reports say of each.

`reports/README.md` opens with a table of the seed documents' seven claims, each tested as one
or more claims of a shipped sweep. The table is written from the committed reports alone
(`verdicts.json` and `provenance.json` in each `reports/NAME/`), never typed by hand:
`python -m cnnlab.report --index` rewrites it between its two markers (`cnnlab.report.index.readme`)
and leaves the rest of the README as written. A claim whose report is not committed yet
reads "not run yet".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab.report.build import ReportError
from cnnlab.report.durations import format_duration
from cnnlab.report.index.cost import arm_costs
from cnnlab.report.provenance import Provenance
from cnnlab.report.wording import VERDICT_WORDS, amount, interval, metric_label, percent
from cnnlab.spec.design import study_name

START = "<!-- seed claims: written by `python -m cnnlab.report --index`; do not edit -->"
END = "<!-- end of seed claims -->"


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """One claim of a shipped sweep, run on `dataset`: `statement` as the sweep declares it."""

    sweep: str
    statement: str
    dataset: str = "mnist"

    @property
    def report(self) -> str:
        """The report's folder: `pooling`, or `pooling-fashion_mnist` for another dataset."""
        return study_name(self.sweep, quick=False, dataset=self.dataset)


@dataclass(frozen=True, kw_only=True)
class SeedClaim:
    number: int
    text: str
    evidence: tuple[Evidence, ...]


def _in(sweep: str, *statements: str, dataset: str = "mnist") -> tuple[Evidence, ...]:
    return tuple(Evidence(sweep=sweep, statement=s, dataset=dataset) for s in statements)


SEED_CLAIMS: tuple[SeedClaim, ...] = (
    SeedClaim(
        number=1,
        text='Max pooling beats average pooling (it "keeps the most important features")',
        evidence=_in("pooling", "max pooling beats average pooling")
        + _in(
            "pooling_x_kernel",
            "max beats avg with a 3×3 first kernel",
            "max beats avg with a 7×7 first kernel",
        )
        + _in("pooling_randomized", "max pooling beats average pooling")
        + _in("pooling", "max pooling beats average pooling", dataset="fashion_mnist"),
    ),
    SeedClaim(
        number=2,
        text="A larger first-layer kernel (5×5 or 7×7) beats 3×3",
        evidence=_in(
            "first_kernel", "a 5×5 first kernel beats 3×3", "a 7×7 first kernel beats 3×3"
        ),
    ),
    SeedClaim(
        number=3,
        text="Pooling throws information away, so accuracy should drop",
        evidence=_in(
            "pooling", "no pooling beats max pooling", "max pooling beats a stride-2 convolution"
        )
        + _in("pooling_gap", "with a GAP head (equal parameters), no pooling beats max pooling")
        + _in(
            "pooling",
            "no pooling beats max pooling",
            "max pooling beats a stride-2 convolution",
            dataset="fashion_mnist",
        ),
    ),
    SeedClaim(
        number=4,
        text="Max pooling gives some invariance to small translations",
        evidence=tuple(
            claim
            for dataset in ("mnist", "fashion_mnist")
            for claim in _in(
                "translation",
                "max pooling loses less accuracy than avg under 2-pixel shifts",
                "max pooling loses less accuracy than no pooling under 2-pixel shifts",
                dataset=dataset,
            )
        ),
    ),
    SeedClaim(
        number=6,
        text="Dropout 0.5 in the dense head helps test accuracy",
        evidence=_in("dropout", "dropout 0.5 beats no dropout"),
    ),
    SeedClaim(
        number=7,
        text='Augmentation by shifting and rotating "teaches the network what to ignore"',
        evidence=_in(
            "augmentation",
            "augmentation loses less accuracy under 2-pixel shifts",
            "augmentation loses less accuracy under a 10° rotation",
            "augmentation beats no augmentation on test accuracy",
        ),
    ),
)


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ReportError(f"{path} is missing; rebuild that report: python -m cnnlab.report NAME.")
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ReportError(f"{path}: not valid JSON ({error}); rebuild that report.") from None
    return loaded


@dataclass(frozen=True, kw_only=True)
class CommittedReport:
    """One report folder's two files the table reads, each read once."""

    folder: Path
    verdicts: dict[str, Any]
    provenance: Provenance


def _committed(reports_dir: Path) -> dict[str, CommittedReport]:
    """Every report folder the seed claims name that has its verdicts committed."""
    found = {}
    for name in sorted({e.report for seed in SEED_CLAIMS for e in seed.evidence}):
        folder = reports_dir / name
        if (folder / "verdicts.json").is_file():
            found[name] = CommittedReport(
                folder=folder,
                verdicts=_read(folder / "verdicts.json"),
                provenance=Provenance.from_json(
                    _read(folder / "provenance.json"), origin=folder / "provenance.json"
                ),
            )
    return found


def _claim(report: CommittedReport, evidence: Evidence) -> dict[str, Any]:
    """The claim's record in the report's verdicts.json."""
    claims = report.verdicts["claims"]
    for claim in claims:
        if claim["numbers"] is not None and claim["numbers"]["statement"] == evidence.statement:
            return dict(claim)
    statements = [c["numbers"]["statement"] for c in claims if c["numbers"]]
    raise ReportError(
        f"{report.folder / 'verdicts.json'} has no claim {evidence.statement!r} (it has "
        f"{statements}); correct the statement in cnnlab/report/index/seed_claims.py."
    )


def _decided(claim: dict[str, Any]) -> str:
    standing = claim.get("sequential")
    if standing is None:
        return "fixed design"
    if standing["status"] == "decided":
        return f"look {standing['look']}"
    if standing["status"] == "futile":
        return f"stopped for futility at look {standing['look']}"
    return f"undecided at the last look ({standing['look']})"


def _pairs(n: int, provenance: Provenance) -> str:
    """Paired replicates: seeds, or seeds × draws in a randomized design (10 = 5 × 2)."""
    draws = provenance.n_backgrounds
    return str(n) if draws == 1 else f"{n} ({n // draws} seeds × {draws} draws)"


def _row(claimed: str, evidence: Evidence, report: CommittedReport | None) -> str:
    link = f"[`{evidence.report}`]({evidence.report}/README.md)"
    if report is None:
        where = f"{link}; {evidence.dataset}"
        return f"| {claimed} | {evidence.statement} ({where}) | not run yet |||||"
    claim, provenance = _claim(report, evidence), report.provenance
    numbers, metric = claim["numbers"], claim["metric"]
    # The interval that decided, as the report shows it: TOST's for an equivalence.
    if numbers.get("decided_by") == "equivalence":
        (low, high), level, kind = numbers["equivalence_ci"], numbers["equivalence_level"], "TOST"
    else:
        (low, high), level, kind = numbers["ci"], numbers["ci_level"], "t"
    # Signed as the claim's advantage: for a drop (lower is better) + means a smaller drop.
    lower = "" if claim.get("higher_is_better", True) else ", lower is better"
    effect = (
        f"{amount(numbers['mean'], metric)} on {metric_label(metric)}{lower} "
        f"({percent(level)} {kind} interval {interval(low, high, metric)})"
    )
    dataset = provenance.dataset
    wall = provenance.sweep_wall_seconds
    pairs = _pairs(numbers["n"], provenance)
    return (
        f"| {claimed} | {evidence.statement} ({link}; {dataset}) | "
        f"**{VERDICT_WORDS[numbers['verdict']]}** | {effect} | {pairs} | "
        f"{_decided(claim)} | {format_duration(wall) if wall else 'n/a'} |"
    )


def _cost_row(reports_dir: Path) -> str:
    """Seed claim 5, from exact counts and the timing benchmark (`cnnlab.report.index.cost`)."""
    claimed = "5. Pooling reduces computation, memory and parameters"
    link = "[`cost`](cost/README.md)"
    if not (reports_dir / "pooling" / "results.csv").is_file():
        return f"| {claimed} | no pooling against max pooling, counted ({link}) | not run yet |||||"
    costs = {c.arm: c for c in arm_costs(reports_dir)[0]}
    ratios = [(what, r) for what, r in costs["none"].ratios_to(costs["max"]) if r is not None]
    holds = all(ratio > 1 for _, ratio in ratios)
    effect = "without pooling: " + ", ".join(f"×{r:.2f} {what}" for what, r in ratios)
    if len(ratios) == 3:
        effect += " (time per epoch not measured yet)"
    return (
        f"| {claimed} | no pooling against max pooling, counted ({link}; mnist) | "
        f"**{'Holds' if holds else 'Does not hold'}** (exact counts) | {effect} | – | – | – |"
    )


def seed_claims_table(reports_dir: Path) -> str:
    """The generated block of `reports/README.md`, markers included."""
    lines = [
        START,
        "| Seed claim | Tested as (report; data) | Verdict | Advantage of the arm claimed "
        "better (deciding interval) | Paired seeds | Decided at | Sweep wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    committed = _committed(reports_dir)
    for seed in SEED_CLAIMS:
        if seed.number == 6:  # claim 5 is counted, not tested: its row comes from the cost report
            lines.append(_cost_row(reports_dir))
        for i, evidence in enumerate(seed.evidence):  # the seed's words on its first row only
            claimed = f"{seed.number}. {seed.text}" if i == 0 else ""
            lines.append(_row(claimed, evidence, committed.get(evidence.report)))
    return "\n".join([*lines, END])
