"""The start of a run (cnnlab/sweep/launch.py) and a dry run through `run_sweep`
(cnnlab/sweep/runner.py): the plan is printed, every arm trains one batch, nothing is written.
No store is opened, so this is a fast test; the runs with stores are in test_runner.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnlab.data import synthetic_dataset
from cnnlab.spec.design import Factor, Sweep
from cnnlab.spec.presets import small
from cnnlab.spec.specs import DataSpec, TrainSpec, TrialSpec
from cnnlab.sweep import SweepOptions, run_sweep

SWEEP = Sweep(
    name="t",
    base=TrialSpec(
        arch=small,
        train=TrainSpec(epochs=2, batch_size=64),
        data=DataSpec(dataset="mnist", validation_size=100),
    ),
    factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
    seeds=2,
    description="test sweep",
)


def test_a_dry_run_prints_the_plan_trains_one_batch_per_arm_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    options = SweepOptions(runs_dir=runs, workers=1, dry_run=True)
    assert run_sweep(SWEEP, options, dataset=synthetic_dataset(300, 100, seed=3)) is None
    err = capsys.readouterr().err
    assert "2 arms × 2 paired seeds = 4 trials" in err and "Dry run" in err
    assert err.count("one batch of 64") == 2
    assert not runs.exists()
