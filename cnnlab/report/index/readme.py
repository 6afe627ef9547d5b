"""`reports/README.md`'s generated blocks: the seed claims' table and the table of runs.

`write_index` rewrites each block between its markers and leaves every other line as written,
so the README's prose (the plain-words answers, remarks on the runs) stays hand-made while
every number in the tables comes from committed files.
"""

from __future__ import annotations

from pathlib import Path

from cnnlab.report.build import ReportError
from cnnlab.report.index.runs import RUNS_END, RUNS_START, runs_table
from cnnlab.report.index.seed_claims import END, START, seed_claims_table


def _replace(text: str, start: str, end: str, block: str) -> str:
    if start in text and end in text:
        head, rest = text.split(start, 1)
        return head + block + rest.split(end, 1)[1]
    return text + ("\n" if text and not text.endswith("\n") else "") + "\n" + block + "\n"


def write_index(reports_dir: Path) -> Path:
    """Rewrite the generated blocks of `reports_dir/README.md` (a missing block is appended)."""
    if not reports_dir.is_dir():
        raise ReportError(
            f"{reports_dir} is not a folder of reports; give --reports-dir the folder that holds "
            "the reports (default: reports/)."
        )
    readme = reports_dir / "README.md"
    text = readme.read_text() if readme.is_file() else ""
    text = _replace(text, START, END, seed_claims_table(reports_dir))
    text = _replace(text, RUNS_START, RUNS_END, runs_table(reports_dir))
    readme.write_text(text)
    return readme
