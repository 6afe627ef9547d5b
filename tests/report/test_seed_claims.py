"""reports/README.md's generated tables (seed claims, runs): written from committed reports only."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Literal

import pytest

from cnnlab.report.build import ReportError
from cnnlab.report.index.readme import write_index
from cnnlab.report.index.runs import RUNS_END, RUNS_START, runs_table
from cnnlab.report.index.seed_claims import (
    END,
    SEED_CLAIMS,
    START,
    Evidence,
    Row,
    SeedClaim,
    _confirmations,
    _reading,
    _shared,
    seed_claims_table,
)
from cnnlab.report.provenance import Provenance
from cnnlab.spec.loading import load_sweep, shipped_names

REPORTS = Path(__file__).resolve().parents[2] / "reports"


def test_every_seed_claim_names_a_claim_its_shipped_sweep_declares() -> None:
    # Before a sweep has run there is no verdicts.json to check a statement against: a typo
    # would read "not run yet" for ever.
    for seed in SEED_CLAIMS:
        for evidence in seed.evidence:
            assert evidence.sweep in shipped_names(), evidence
            declared = [c.statement for c in load_sweep(evidence.sweep).claims]
            assert evidence.statement in declared, (evidence, declared)


def test_the_committed_readme_table_is_what_the_committed_reports_say() -> None:
    text = (REPORTS / "README.md").read_text()
    assert text.count(START) == 1 and text.count(END) == 1
    block = START + text.split(START, 1)[1].split(END, 1)[0] + END
    assert block == seed_claims_table(REPORTS), "run: python -m cnnlab.report --index"
    runs = RUNS_START + text.split(RUNS_START, 1)[1].split(RUNS_END, 1)[0] + RUNS_END
    assert runs == runs_table(REPORTS), "run: python -m cnnlab.report --index"


def _report(folder: Path, statement: str, numbers: dict[str, object], **claim: object) -> None:
    folder.mkdir(parents=True)
    record = {"metric": "test_accuracy", "numbers": {"statement": statement, **numbers}, **claim}
    (folder / "verdicts.json").write_text(json.dumps({"claims": [record]}))
    # A committed run's provenance, with the two fields the table shows set here.
    committed = Provenance.read(REPORTS / "dropout" / "provenance.json")
    provenance = dataclasses.replace(committed, dataset="mnist", sweep_wall_seconds=1260.0)
    (folder / "provenance.json").write_text(provenance.to_json())


def test_a_row_carries_the_verdict_effect_interval_seeds_look_and_wall_time(
    tmp_path: Path,
) -> None:
    numbers = {"verdict": "supported", "mean": 0.0031, "ci": [0.0005, 0.0056], "ci_level": 0.994}
    standing = {"status": "decided", "look": 1}
    _report(tmp_path / "dropout", "dropout 0.5 beats no dropout", {**numbers, "n": 5},
            sequential=standing)  # fmt: skip
    table = seed_claims_table(tmp_path)
    row = next(line for line in table.splitlines() if line.startswith("| 6. Dropout"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:] == [
        "dropout 0.5 beats no dropout ([`dropout`](dropout/README.md); `small`, 3 epochs, mnist)",
        "**Supported**",
        "supports",
        "–",  # no conditions in this report: no replication verdict
        "+0.31 pp on test accuracy (99.4% t interval +0.05 pp to +0.56 pp)",
        "5",
        "sequential (α = 0.05), decided at look 1",
        "none",
        "21 min 00 s",
    ]
    later = [line for line in table.splitlines() if "(pooling_x_kernel/README.md)" in line]
    assert len(later) == 2 and all(line.startswith("|  | ") for line in later)
    assert all("not run yet" in line for line in later)


def test_a_statement_the_report_does_not_have_is_refused_with_what_it_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _report(tmp_path / "dropout", "dropout 0.5 beats no dropout", {"verdict": "supported"})
    wrong = (Evidence(sweep="dropout", statement="dropout helps"),)
    monkeypatch.setattr(
        "cnnlab.report.index.seed_claims.SEED_CLAIMS",
        (type(SEED_CLAIMS[0])(number=6, text="Dropout helps", evidence=wrong),),
    )
    with pytest.raises(ReportError, match=r"dropout/verdicts.json has no claim 'dropout helps'"):
        seed_claims_table(tmp_path)


def test_a_randomized_row_says_its_seeds_are_means_over_draws(tmp_path: Path) -> None:
    folder = tmp_path / "pooling_randomized"
    _report(folder, "max pooling beats average pooling", {"verdict": "supported", "n": 5,
            "mean": 0.0023, "ci": [0.0005, 0.0042], "ci_level": 0.9821})  # fmt: skip
    provenance = json.loads((folder / "provenance.json").read_text())
    (folder / "provenance.json").write_text(json.dumps({**provenance, "n_backgrounds": 2}))
    row = next(line for line in seed_claims_table(tmp_path).splitlines() if "randomized" in line)
    assert "| 5 (the mean of 2 draws each) |" in row


def test_a_report_without_its_provenance_is_refused_by_name(tmp_path: Path) -> None:
    _report(tmp_path / "dropout", "dropout 0.5 beats no dropout", {"verdict": "supported"})
    (tmp_path / "dropout" / "provenance.json").unlink()
    with pytest.raises(ReportError, match=r"dropout/provenance.json is missing"):
        seed_claims_table(tmp_path)


def test_the_index_rewrites_its_block_and_keeps_the_rest_of_the_readme(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Reports\n\nintro\n\n{START}\nstale\n{END}\n\n## Answer\n\nprose\n")
    write_index(tmp_path)
    text = readme.read_text()
    assert text.startswith("# Reports\n\nintro\n\n" + START)
    assert END + "\n\n## Answer\n\nprose\n" in text
    assert text.endswith(RUNS_END + "\n")  # the runs table, appended the first time
    assert "stale" not in text and "not run yet" in text
    write_index(tmp_path)
    assert readme.read_text() == text  # a second run changes nothing


def test_an_equivalence_shows_the_tost_interval_that_decided_it(tmp_path: Path) -> None:
    # dropout: the t interval (97.74%) is not what decided "practically equivalent"; the
    # report shows the 95.09% TOST interval, and so must the table.
    numbers = {
        "verdict": "equivalent",
        "decided_by": "equivalence",
        "mean": -0.0004,
        "ci": [-0.00108, 0.0003],
        "ci_level": 0.9774,
        "equivalence_ci": [-0.00097, 0.00019],
        "equivalence_level": 0.9509,
        "n": 20,
    }
    _report(tmp_path / "dropout", "dropout 0.5 beats no dropout", numbers)
    row = next(line for line in seed_claims_table(tmp_path).splitlines() if "| 6. " in line)
    assert "−0.04 pp on test accuracy (95.09% TOST interval −0.10 pp to +0.02 pp)" in row
    assert "**Practically equivalent**" in row


@pytest.mark.parametrize(
    ("verdict", "supports_when", "reading"),
    [
        ("supported", "supported", "supports"),
        ("refuted", "supported", "contradicts"),
        ("equivalent", "supported", "contradicts"),
        ("inconclusive", "supported", "leaves open"),
        ("refuted", "refuted", "supports"),  # a claim worded against the seed's statement
        ("supported", "refuted", "contradicts"),
    ],
)
def test_a_rows_reading_follows_the_direction_the_seed_claims(
    verdict: str, supports_when: Literal["supported", "refuted"], reading: str
) -> None:
    evidence = Evidence(sweep="pooling", statement="x", supports_when=supports_when)
    assert _reading(verdict, evidence) == reading


def _row_of(seed: SeedClaim, verdict: str, cells: set[str]) -> Row:
    evidence = Evidence(sweep="pooling", statement=f"{verdict} {sorted(cells)}")
    claim = {"numbers": {"verdict": verdict}}
    return Row(seed=seed, evidence=evidence, report=None, claim=claim, cells=frozenset(cells))


def test_rows_that_share_cells_are_one_confirmation() -> None:
    seed = SEED_CLAIMS[0]
    rows = [
        _row_of(seed, "supported", {"a", "b"}),
        _row_of(seed, "supported", {"b", "c"}),  # shares b with the first
        _row_of(seed, "supported", {"d"}),
        _row_of(seed, "supported", {"c", "e"}),  # joins the first group through c
        _row_of(seed, "inconclusive", {"d", "f"}),  # shares d, but does not support
    ]
    line = _confirmations(seed, rows)
    assert "4 row(s) support it, 0 contradict it, 1 leave it open" in line
    assert "independent confirmations (rows that share cells counted once): 2." in line
    assert line.endswith(
        "Across the contexts tested: it holds where it was decided and is open elsewhere, so "
        "not in every context."
    )
    # every fake row is in `pooling`: the first shares b with one row and c (via none) not
    assert _shared(rows[0], rows) == "of its 2: 1 in `pooling`"
    assert _shared(rows[2], rows) == "of its 1: 1 in `pooling`"


def test_the_same_arm_spec_and_seed_is_one_cell_across_sweeps() -> None:
    from cnnlab.report.index.seed_claims import _fingerprint
    from cnnlab.spec.design import cells

    pooling, dropout = load_sweep("pooling"), load_sweep("dropout")
    max_cells = {c.seed: _fingerprint(c) for c in cells(pooling) if c.arm == "max"}
    d0_cells = {c.seed: _fingerprint(c) for c in cells(dropout) if c.arm == "d0"}
    avg_cells = {c.seed: _fingerprint(c) for c in cells(pooling) if c.arm == "avg"}
    assert max_cells == d0_cells  # `small` with dropout 0 is `small` with max pooling
    assert not set(max_cells.values()) & set(avg_cells.values())
    assert len(set(max_cells.values())) == len(max_cells)  # each seed its own cell


def test_a_row_says_which_design_and_standard_decided_it() -> None:
    from cnnlab.report.index.seed_claims import _design

    three = {"claims": [{}, {}, {}]}
    assert _design({}, three) == "fixed, Holm at α = 0.05 within the report"
    standing = {"status": "futile", "look": 2, "seeds": 8}
    assert _design({"sequential": standing}, three) == (
        "sequential (α = 0.05/3 per claim), stopped for futility at look 2"
    )
    undecided = {"status": "final", "look": 4, "seeds": 20}
    assert _design({"sequential": undecided}, {"claims": [{}]}) == (
        "sequential (α = 0.05), undecided at the last look (4)"
    )


@pytest.mark.parametrize(
    ("verdicts", "reading"),
    [
        (["supported", "supported"], "it holds in every context tested (intersection–union"),
        (["supported", "equivalent"], "it depends on the context, supported in some rows"),
        (["refuted", "refuted"], "contradicted in every context tested"),
        (["refuted", "inconclusive"], "contradicted where it was decided and open elsewhere"),
        (["inconclusive", "inconclusive"], "open in every context tested (never evidence of no"),
    ],
)
def test_a_seed_claims_reading_across_contexts_never_turns_open_rows_into_evidence(
    verdicts: list[str], reading: str
) -> None:
    seed = SEED_CLAIMS[0]
    rows = [_row_of(seed, v, {str(i)}) for i, v in enumerate(verdicts)]
    assert f"Across the contexts tested: {reading}" in _confirmations(seed, rows)


def test_a_report_with_conditions_gives_a_row_per_condition_with_its_budget_and_replication(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "budget"
    folder.mkdir()
    statement = "dropout 0.5 beats no dropout"

    def claim(verdict: str, mean: float) -> dict[str, object]:
        numbers = {"statement": statement, "verdict": verdict, "n": 8, "mean": mean,
                   "ci": [mean - 0.001, mean + 0.001], "ci_level": 0.98}  # fmt: skip
        return {"metric": "test_accuracy", "numbers": numbers, "better": "d50", "worse": "max",
                "sequential": {"status": "decided", "look": 2, "seeds": 8}}  # fmt: skip

    verdicts = {
        "replications": [{"statement": statement, "verdict": "depends on the condition"}],
        "conditions": {
            "e3": {"claims": [claim("equivalent", 0.0001)]},
            "e9": {"claims": [claim("supported", 0.003)]},
        },
    }
    (folder / "verdicts.json").write_text(json.dumps(verdicts))
    committed = Provenance.read(REPORTS / "dropout" / "provenance.json")
    provenance = dataclasses.replace(committed, sweep="budget", sweep_source="budget")
    (folder / "provenance.json").write_text(provenance.to_json())
    evidence = tuple(
        Evidence(sweep="budget", statement=statement, condition=c) for c in ("e3", "e9", "e20")
    )
    seeds = (SeedClaim(number=6, text="Dropout helps", evidence=evidence[:2]),)
    monkeypatch.setattr("cnnlab.report.index.seed_claims.SEED_CLAIMS", seeds)
    lines = seed_claims_table(tmp_path).splitlines()
    e3, e9 = (next(x for x in lines if f"condition `{c}`" in x) for c in ("e3", "e9"))
    assert "`small`, 3 epochs, mnist" in e3 and "`small`, 9 epochs, mnist" in e9
    assert "| **Practically equivalent** | contradicts | depends on the condition |" in e3
    assert "| **Supported** | supports | depends on the condition |" in e9
    # The two conditions train different cells (other budgets): no cell is shared.
    assert e3.split("|")[-3].strip() == "none"
    assert "Across the contexts tested: it depends on the context" in "\n".join(lines)
    # A condition the report does not have is refused with the ones it has.
    seeds = (SeedClaim(number=6, text="Dropout helps", evidence=evidence[2:]),)
    monkeypatch.setattr("cnnlab.report.index.seed_claims.SEED_CLAIMS", seeds)
    with pytest.raises(ReportError, match=r"has no condition 'e20' \(it has \['e3', 'e9'\]\)"):
        seed_claims_table(tmp_path)
