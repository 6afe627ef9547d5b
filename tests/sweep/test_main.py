"""`python -m cnnlab.sweep` (cnnlab/sweep/__main__.py) in-process: options into SweepOptions,
refusals before any work; the real runs are in tests/end_to_end/test_sweep_cli.py."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cnnlab.sweep.__main__ import build_parser, main, parse_duration


def test_durations_read_as_users_write_them() -> None:
    assert [parse_duration(t) for t in ("90", "90s", "20m", "1.5h")] == [90, 90, 1200, 5400]
    assert [parse_duration(t) for t in ("1h45m", "1h 30m", "2m30s", " 20 min ")] == [
        6300,
        5400,
        150,
        1200,
    ]


@pytest.mark.parametrize("text", ["soon", "", "1h30", "20x", "h", "1h-5m", "-5m", "1.2.3h"])
def test_a_duration_that_is_not_one_is_refused_with_the_forms_that_work(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"20m.*1h45m"):
        parse_duration(text)


def test_a_misspelt_sweep_is_refused_by_name_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["poolng", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "Did you mean 'pooling'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # nothing created


def test_a_worker_has_no_options_that_only_the_sweeps_own_process_takes() -> None:
    own = build_parser().parse_args(["pooling", "--new-study", "--dry-run"])
    assert own.new_study and own.dry_run
    with pytest.raises(SystemExit):
        build_parser(worker=True).parse_args(["pooling", "--new-study"])
