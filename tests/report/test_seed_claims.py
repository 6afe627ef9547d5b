"""reports/README.md's generated tables (seed claims, runs): written from committed reports only."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from cnnlab.report.build import ReportError
from cnnlab.report.index.readme import write_index
from cnnlab.report.index.runs import RUNS_END, RUNS_START, runs_table
from cnnlab.report.index.seed_claims import (
    END,
    SEED_CLAIMS,
    START,
    Evidence,
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
        "dropout 0.5 beats no dropout ([`dropout`](dropout/README.md); mnist)",
        "**Supported**",
        "+0.31 pp on test accuracy (99.4% t interval +0.05 pp to +0.56 pp)",
        "5",
        "look 1",
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


def test_a_randomized_rows_pairs_say_seeds_times_draws(tmp_path: Path) -> None:
    folder = tmp_path / "pooling_randomized"
    _report(folder, "max pooling beats average pooling", {"verdict": "supported", "n": 10,
            "mean": 0.0023, "ci": [0.0005, 0.0042], "ci_level": 0.9821})  # fmt: skip
    provenance = json.loads((folder / "provenance.json").read_text())
    (folder / "provenance.json").write_text(json.dumps({**provenance, "n_backgrounds": 2}))
    row = next(line for line in seed_claims_table(tmp_path).splitlines() if "randomized" in line)
    assert "| 10 (5 seeds × 2 draws) |" in row


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
