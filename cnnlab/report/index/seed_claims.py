"""The seed documents' claims, and what the committed reports say of each.

`reports/README.md` opens with a table of the seed documents' seven claims, each tested as one
or more claims of a shipped sweep. The table is written from the committed reports alone
(`verdicts.json` and `provenance.json` in each `reports/NAME/`), never typed by hand:
`python -m cnnlab.report --index` rewrites it between its two markers (`cnnlab.report.index.readme`)
and leaves the rest of the README as written. A claim whose report is not committed yet
reads "not run yet".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cnnlab.report.build import ReportError, run_sweep_of
from cnnlab.report.durations import format_duration
from cnnlab.report.index.cost import arm_costs
from cnnlab.report.provenance import Provenance
from cnnlab.report.wording import VERDICT_WORDS, amount, interval, metric_label, percent
from cnnlab.spec.design import Cell, cells, condition_sweeps, study_name
from cnnlab.spec.specs import flat_params

START = "<!-- seed claims: written by `python -m cnnlab.report --index`; do not edit -->"
END = "<!-- end of seed claims -->"


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """One claim of a shipped sweep, run on `dataset`: `statement` as the sweep declares it.

    `supports_when` is the verdict that bears the seed's statement out ("refuted" where the
    sweep's claim is worded against it); `network` names the network it was tested in."""

    sweep: str
    statement: str
    dataset: str = "mnist"
    supports_when: Literal["supported", "refuted"] = "supported"
    network: str = "`small`"
    condition: str = ""  # a sweep with conditions: the condition this row reads, e.g. `e9`

    @property
    def report(self) -> str:
        """The report's folder: `pooling`, or `pooling-fashion_mnist` for another dataset."""
        return study_name(self.sweep, quick=False, dataset=self.dataset)


@dataclass(frozen=True, kw_only=True)
class SeedClaim:
    number: int
    text: str
    evidence: tuple[Evidence, ...]


def _in(
    sweep: str,
    *statements: str,
    dataset: str = "mnist",
    supports_when: Literal["supported", "refuted"] = "supported",
    network: str = "`small`",
    conditions: tuple[str, ...] = ("",),
) -> tuple[Evidence, ...]:
    """One row per statement (and per condition, for a sweep with conditions)."""
    return tuple(
        Evidence(
            sweep=sweep,
            statement=s,
            dataset=dataset,
            supports_when=supports_when,
            network=network,
            condition=condition,
        )
        for s in statements
        for condition in conditions
    )


# Géron's own network (the second seed), at his recipe: batch 32, the budget geron_pilot fixed.
GERON = "`geron` (Géron's CNN), batch 32"
GERON_BF16 = f"{GERON}, mixed bfloat16"

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
        + _in(
            "pooling_randomized",
            "max pooling beats average pooling",
            network="`small`-like, filters, first kernel and dropout drawn per seed",
        )
        + _in("pooling", "max pooling beats average pooling", dataset="fashion_mnist")
        + _in("budget", "max pooling beats average pooling", conditions=("e3", "e9")),
    ),
    SeedClaim(
        number=2,
        text="A larger first-layer kernel (5×5 or 7×7) beats 3×3",
        evidence=_in("first_kernel", "a 5×5 first kernel beats 3×3", "a 7×7 first kernel beats 3×3")
        + _in("geron_first_kernel", "a 7×7 first kernel beats 3×3", network=GERON_BF16)
        + _in(
            "geron_precision",
            "a 7×7 first kernel beats 3×3",
            network=GERON,
            conditions=("fp32", "bf16"),
        ),
    ),
    SeedClaim(
        number=3,
        text="Pooling throws information away, so accuracy should drop",
        # A learned stride-2 convolution keeps what max pooling discards: max losing to it
        # (the claim refuted) bears the seed out.
        evidence=_in("pooling", "no pooling beats max pooling")
        + _in("pooling", "max pooling beats a stride-2 convolution", supports_when="refuted")
        + _in(
            "pooling_gap",
            "with a GAP head (equal parameters), no pooling beats max pooling",
            network="`small` with a global-average-pooling head",
        )
        + _in("pooling", "no pooling beats max pooling", dataset="fashion_mnist")
        + _in(
            "pooling",
            "max pooling beats a stride-2 convolution",
            dataset="fashion_mnist",
            supports_when="refuted",
        )
        + _in(
            "receptive_field",
            "no pooling (5×5 view) beats max pooling (10×10), at equal parameters",
            "no pooling with a 9×9 view beats max pooling (10×10), at equal parameters",
            "no pooling with an 11×11 view beats max pooling (10×10), at equal parameters",
            network="`small` with a GAP head, receptive fields matched by dilation",
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
        evidence=_in("dropout", "dropout 0.5 beats no dropout")
        + _in("budget", "dropout 0.5 beats no dropout", conditions=("e3", "e9"))
        + _in("geron_dropout", "dropout 0.5 beats no dropout", network=GERON_BF16)
        + _in(
            "geron_precision",
            "dropout 0.5 beats no dropout",
            network=GERON,
            conditions=("fp32", "bf16"),
        ),
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


def _verdicts_of(report: CommittedReport, evidence: Evidence) -> dict[str, Any]:
    """The verdicts a row reads: the report's, or its condition's own."""
    if not evidence.condition:
        return report.verdicts
    conditions = report.verdicts.get("conditions") or {}
    if evidence.condition not in conditions:
        raise ReportError(
            f"{report.folder / 'verdicts.json'} has no condition {evidence.condition!r} (it has "
            f"{sorted(conditions)}); correct the condition in cnnlab/report/index/seed_claims.py."
        )
    found: dict[str, Any] = conditions[evidence.condition]
    return found


def _replication(report: CommittedReport | None, evidence: Evidence) -> str:
    """A row of a sweep with conditions: its claim's replication verdict across them."""
    if report is None or not evidence.condition:
        return "–"
    for replication in report.verdicts.get("replications", []):
        if replication["statement"] == evidence.statement:
            return str(replication["verdict"])
    return "not judged yet"


def _claim(report: CommittedReport, evidence: Evidence) -> dict[str, Any]:
    """The claim's record in the report's verdicts.json (its condition's, where it has one)."""
    claims = _verdicts_of(report, evidence)["claims"]
    for claim in claims:
        if claim["numbers"] is not None and claim["numbers"]["statement"] == evidence.statement:
            return dict(claim)
    statements = [c["numbers"]["statement"] for c in claims if c["numbers"]]
    raise ReportError(
        f"{report.folder / 'verdicts.json'} has no claim {evidence.statement!r} (it has "
        f"{statements}); correct the statement in cnnlab/report/index/seed_claims.py."
    )


def _design(claim: dict[str, Any], verdicts: dict[str, Any]) -> str:
    """Which standard decided the row: a fixed design's Holm levels at α = 0.05, or the
    sequential plan's calibrated levels (α/m per claim), and where it stopped."""
    standing = claim.get("sequential")
    if standing is None:
        return "fixed, Holm at α = 0.05 within the report"
    claims = len(verdicts["claims"])
    share = f"α = 0.05/{claims} per claim" if claims > 1 else "α = 0.05"
    where = {
        "decided": f"decided at look {standing['look']}",
        "futile": f"stopped for futility at look {standing['look']}",
        "final": f"undecided at the last look ({standing['look']})",
        "open": f"open after look {standing['look']}",
    }[standing["status"]]
    return f"sequential ({share}), {where}"


def _pairs(n: int, provenance: Provenance) -> str:
    """Paired seeds; a randomized design's claim is judged on each seed's mean over its draws."""
    draws = provenance.n_backgrounds
    return str(n) if draws == 1 else f"{n} (the mean of {draws} draws each)"


def _reading(verdict: str, evidence: Evidence) -> str:
    """What the verdict says of the seed's statement."""
    if verdict == evidence.supports_when:
        return "supports"
    if verdict in ("supported", "refuted", "equivalent"):
        return "contradicts"  # the other direction, or no difference that matters
    return "leaves open"


def _fingerprint(cell: Cell) -> str:
    """A trained cell's identity across sweeps: its whole spec and its seed. Deterministic
    training makes the same spec and seed the same initial weights, data order and model,
    whatever the thread count, so two sweeps that train it hold one result, not two."""
    text = json.dumps([flat_params(cell.spec), cell.seed], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _cells_used(
    report: CommittedReport, claim: dict[str, Any], condition: str = ""
) -> frozenset[str]:
    """The cells (both arms, the seeds its verdict rests on, its condition's) behind a row."""
    sweep = run_sweep_of(report.provenance, report.folder, None)
    standing = claim.get("sequential")
    seeds = standing.get("seeds", 0) if standing else len(sweep.seed_values)
    arms = (claim.get("better"), claim.get("worse"))
    return frozenset(
        _fingerprint(c)
        for c in cells(sweep)
        if c.arm in arms and c.seed < seeds and c.condition == condition
    )


def _epochs(report: CommittedReport, evidence: Evidence) -> int:
    """The training budget a row was judged at (a condition may set its own)."""
    if not evidence.condition:
        return report.provenance.epochs
    sweep = run_sweep_of(report.provenance, report.folder, None)
    parts = dict(condition_sweeps(sweep))
    return parts[evidence.condition].base.train.epochs if evidence.condition in parts else 0


@dataclass(frozen=True, kw_only=True)
class Row:
    """One evidence row as read from its committed report (`claim` None: not run yet)."""

    seed: SeedClaim
    evidence: Evidence
    report: CommittedReport | None
    claim: dict[str, Any] | None
    cells: frozenset[str]


def _shared(row: Row, rows: list[Row]) -> str:
    """How many of this row's cells other rows also rest on, by report (the most shared first):
    `small`'s max-pooling arm is the baseline of most sweeps, so most rows share some."""
    by_report: dict[str, set[str]] = {}
    for other in rows:
        if other is not row and row.cells & other.cells:
            by_report.setdefault(other.evidence.report, set()).update(row.cells & other.cells)
    if not by_report:
        return "none"
    ranked = sorted(by_report.items(), key=lambda item: (-len(item[1]), item[0]))
    return f"of its {len(row.cells)}: " + ", ".join(
        f"{len(cells)} in `{report}`" for report, cells in ranked
    )


def _row(claimed: str, row: Row, rows: list[Row]) -> str:
    evidence, report, claim = row.evidence, row.report, row.claim
    link = f"[`{evidence.report}`]({evidence.report}/README.md)"
    if evidence.condition:
        link += f", condition `{evidence.condition}`"
    if report is None or claim is None:
        where = f"{link}; {evidence.network}, {evidence.dataset}"
        return f"| {claimed} | {evidence.statement} ({where}) | not run yet ||||||||"
    provenance = report.provenance
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
    scope = f"{evidence.network}, {_epochs(report, evidence)} epochs, {provenance.dataset}"
    wall = provenance.sweep_wall_seconds
    return (
        f"| {claimed} | {evidence.statement} ({link}; {scope}) | "
        f"**{VERDICT_WORDS[numbers['verdict']]}** | "
        f"{_reading(numbers['verdict'], evidence)} | {_replication(report, evidence)} | "
        f"{effect} | {_pairs(numbers['n'], provenance)} | "
        f"{_design(claim, _verdicts_of(report, evidence))} | "
        f"{_shared(row, rows)} | {format_duration(wall) if wall else 'n/a'} |"
    )


def _cost_row(reports_dir: Path) -> str:
    """Seed claim 5, from exact counts and the timing benchmark (`cnnlab.report.index.cost`)."""
    claimed = "5. Pooling reduces computation, memory and parameters"
    link = "[`cost`](cost/README.md)"
    if not (reports_dir / "pooling" / "results.csv").is_file():
        return (
            f"| {claimed} | no pooling against max pooling, counted ({link}) | not run yet ||||||||"
        )
    costs = {c.arm: c for c in arm_costs(reports_dir)[0]}
    ratios = [(what, r) for what, r in costs["none"].ratios_to(costs["max"]) if r is not None]
    holds = all(ratio > 1 for _, ratio in ratios)
    effect = "without pooling: " + ", ".join(f"×{r:.2f} {what}" for what, r in ratios)
    if len(ratios) == 3:
        effect += " (time per epoch not measured yet)"
    return (
        f"| {claimed} | no pooling against max pooling, counted ({link}; mnist) | "
        f"**{'Holds' if holds else 'Does not hold'}** (exact counts) | supports | – | {effect} | "
        "– | – | – | – |"
    )


def _rows(reports_dir: Path) -> list[Row]:
    committed = _committed(reports_dir)
    rows = []
    for seed in SEED_CLAIMS:
        for evidence in seed.evidence:
            report = committed.get(evidence.report)
            claim = None if report is None else _claim(report, evidence)
            used = (
                frozenset()
                if report is None or claim is None
                else _cells_used(report, claim, evidence.condition)
            )
            rows.append(Row(seed=seed, evidence=evidence, report=report, claim=claim, cells=used))
    return rows


def _confirmations(seed: SeedClaim, rows: list[Row]) -> str:
    """How many rows support the seed's statement, counting rows that share cells once."""
    read = [
        (row, _reading(row.claim["numbers"]["verdict"], row.evidence))
        for row in rows
        if row.seed is seed and row.claim is not None
    ]
    groups: list[set[str]] = []  # the cells of supporting rows, joined where rows share any
    for row, reading in read:
        if reading == "supports":
            touching = [g for g in groups if g & row.cells]
            groups = [g for g in groups if not g & row.cells] + [set(row.cells).union(*touching)]
    counts = {k: sum(r == k for _, r in read) for k in ("supports", "contradicts", "leaves open")}
    untested = sum(1 for row in rows if row.seed is seed and row.claim is None)
    return (
        f"- Seed claim {seed.number}: {counts['supports']} row(s) support it, "
        f"{counts['contradicts']} contradict it, {counts['leaves open']} leave it open; "
        f"independent confirmations (rows that share cells counted once): {len(groups)}. "
        f"Across the contexts tested: {_across(counts)}"
        + (f" ({untested} context(s) not run yet)." if untested else ".")
    )


def _across(counts: dict[str, int]) -> str:
    """The seed claim over every row: an intersection–union reading, never a pooled test."""
    supports, contradicts, open_ = counts["supports"], counts["contradicts"], counts["leaves open"]
    if supports + contradicts + open_ == 0:
        return "not tested yet"
    if supports and not contradicts and not open_:
        return "it holds in every context tested (intersection–union: each row at its own level)"
    if supports and contradicts:
        return (
            "it depends on the context, supported in some rows and contradicted in others (no "
            "interaction test spans reports; a report with conditions tests one within itself)"
        )
    if supports:
        return "it holds where it was decided and is open elsewhere, so not in every context"
    if contradicts and not open_:
        return "contradicted in every context tested"
    if contradicts:
        return "contradicted where it was decided and open elsewhere"
    return "open in every context tested (never evidence of no difference)"


NOTES = (
    "Each report controls its own false-verdict rate (a fixed design by Holm over its claims at "
    "α = 0.05; a sequential plan by Bonferroni over its claims, spent over its looks at "
    "calibrated levels); nothing here corrects across reports. Reading a seed claim as holding "
    "only when every one of its rows supports it is an intersection–union test: each row at its "
    "own level makes the conjunction a test at that level (Berger 1982), so claim 1's \"every row "
    'holds" reading needs no further correction, while "some row holds" would need one over the '
    "rows and is never claimed. Rows that share cells (the same arm spec and seed, hence the same "
    "initial weights, data order and model) rest on the same trained networks: they are one "
    "confirmation, not several. Scope: every verdict is about the network, the epochs and the "
    "dataset of its row. A futility stop or an undecided claim leaves the seed's statement open: "
    "it is never evidence of no difference."
)


def seed_claims_table(reports_dir: Path) -> str:
    """The generated block of `reports/README.md`, markers included."""
    lines = [
        START,
        "| Seed claim | Tested as (report; network, epochs, data) | Verdict | Reads for the seed "
        "claim | Replication across the report's conditions | Advantage of the arm claimed "
        "better (deciding interval) | Paired seeds | Design, where it stopped | Cells shared "
        "with other rows | Sweep wall time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = _rows(reports_dir)
    for seed in SEED_CLAIMS:
        if seed.number == 6:  # claim 5 is counted, not tested: its row comes from the cost report
            lines.append(_cost_row(reports_dir))
        mine = [r for r in rows if r.seed is seed]
        for i, row in enumerate(mine):  # the seed's words on its first row only
            claimed = f"{seed.number}. {seed.text}" if i == 0 else ""
            lines.append(_row(claimed, row, rows))
    lines += ["", NOTES, "", *(_confirmations(seed, rows) for seed in SEED_CLAIMS)]
    return "\n".join([*lines, END])
