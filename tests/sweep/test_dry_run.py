"""`--dry-run` (cnnlab/sweep/trials/dry_run.py): one batch per arm through the real training
code, a line per arm; a search tries its first combination."""

from __future__ import annotations

import pytest

from cnnlab.data import synthetic_dataset
from cnnlab.spec.design import cells
from cnnlab.spec.loading import load_sweep
from cnnlab.sweep.trials.dry_run import dry_run, first_search_cell


def test_every_arm_trains_one_batch_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    sweep = load_sweep("max_vs_avg")
    dry_run(sweep, cells(sweep), synthetic_dataset(64, 16))
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[1] for line in lines] == ["max_vs_avg/max:", "max_vs_avg/avg:"]
    assert all("one batch of" in line and "loss" in line for line in lines)


def test_a_search_dry_runs_its_first_combination() -> None:
    sweep = load_sweep("search")
    cell = first_search_cell(sweep)
    assert cell.labels == {f.path: f.labels[0] for f in sweep.factors}
