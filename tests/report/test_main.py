"""`python -m cnnlab.report` (cnnlab/report/__main__.py) in-process, on a copy of a committed
report: it rebuilds the folder and prints each claim's verdict."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cnnlab.report.__main__ import main
from tests.conftest import REPO


def test_rebuilding_a_copied_report_prints_its_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(REPO / "reports" / "pooling_gap", tmp_path / "pooling_gap")
    assert main(["pooling_gap", "--reports-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "REFUTED" in out and str(tmp_path / "pooling_gap" / "index.html") in out
    committed = (REPO / "reports" / "pooling_gap" / "verdicts.json").read_text()
    assert (tmp_path / "pooling_gap" / "verdicts.json").read_text() == committed


def test_neither_a_name_nor_the_index_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        main([])
    assert ended.value.code == 2 and "--index" in capsys.readouterr().err
