"""Every committed report rebuilds byte for byte from its own results.csv with today's code."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import pytest

from cnnlab.report.build import rebuild

REPORTS = Path(__file__).resolve().parents[2] / "reports"
COMMITTED = sorted(p.parent.name for p in REPORTS.glob("*/provenance.json"))


@pytest.mark.slow
@pytest.mark.parametrize("name", COMMITTED)
def test_a_committed_report_rebuilds_byte_identical(name: str, tmp_path: Path) -> None:
    # A report whose code moved on (a row added, a figure restyled) must be rebuilt and
    # committed with the change: what readers see is what `python -m cnnlab.report` writes.
    shutil.copytree(REPORTS / name, tmp_path / name)
    rebuild(name, quick=False, reports_dir=tmp_path)
    written = sorted(p.relative_to(tmp_path / name) for p in (tmp_path / name).rglob("*"))
    committed = sorted(p.relative_to(REPORTS / name) for p in (REPORTS / name).rglob("*"))
    assert written == committed
    files = [str(p) for p in committed if (REPORTS / name / p).is_file()]
    _, differ, errors = filecmp.cmpfiles(REPORTS / name, tmp_path / name, files, shallow=False)
    assert (differ, errors) == ([], []), f"rebuild with: python -m cnnlab.report {name}"


def test_the_reports_folder_holds_reports() -> None:
    assert {"pooling", "pooling-quick", "max_vs_avg"} <= set(COMMITTED)
