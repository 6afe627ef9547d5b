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


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (DataSpec(validation_size=300), "`data.validation_size` = 300 leaves no training images"),
        (DataSpec(validation_size=100, train_subset=10**7), "`data.train_subset` = 10,000,000"),
    ],
)
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_split_too_large_for_the_dataset_is_refused_before_any_cell(
    tmp_path: Path, data: DataSpec, words: str, dry_run: bool
) -> None:
    import dataclasses

    from cnnlab.errors import SpecError

    sweep = dataclasses.replace(SWEEP, base=dataclasses.replace(SWEEP.base, data=data))
    runs = tmp_path / "runs"
    options = SweepOptions(runs_dir=runs, workers=1, dry_run=dry_run)
    with pytest.raises(SpecError, match="Sweep 't': " + words) as refused:
        run_sweep(sweep, options, dataset=synthetic_dataset(300, 100, seed=3))
    assert refused.value.field.startswith("data.")
    assert not (runs / "optuna.db").exists()  # no study, no cell


def test_the_commit_is_the_code_trees_whatever_folder_the_command_runs_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    from cnnlab.sweep.provenance import git_commit

    tree = Path(__file__).resolve().parents[2]
    head = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    if not head:
        pytest.skip("not a git checkout")
    monkeypatch.chdir(tmp_path)  # a host started outside the clone
    assert git_commit().removesuffix("-dirty") == head


def test_a_claim_on_a_shift_the_probe_does_not_make_at_this_size_is_refused() -> None:
    import dataclasses

    import numpy as np

    from cnnlab.data import LoadedDataset
    from cnnlab.errors import SpecError
    from cnnlab.spec.design import Claim
    from cnnlab.sweep.launch import check_probe_claims

    def sweep(metric: str) -> Sweep:
        return Sweep(
            name="p",
            base=TrialSpec(arch=small),
            factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
            probes=("translation",),
            claims=(Claim(statement="max is steadier", metric=metric, better="max", worse="avg"),),
        )

    mnist_like = synthetic_dataset(20, 10)
    check_probe_claims(sweep("shift3_drop"), mnist_like)  # MNIST's names at 28 pixels
    wide = dataclasses.replace(mnist_like, x_train=np.zeros((20, 64, 64), np.uint8))
    assert isinstance(wide, LoadedDataset)
    check_probe_claims(sweep("shift5_drop"), wide)  # 64 pixels: shifts of 2, 5 and 7
    with pytest.raises(SpecError, match=r"shift3_drop.*64-pixel-wide.*2, 5, 7 pixel"):
        check_probe_claims(sweep("shift3_drop"), wide)
