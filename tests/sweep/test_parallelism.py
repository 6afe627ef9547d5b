"""`--workers`: what auto and N mean, and the estimates and calibration built on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnlab.errors import CnnlabError
from cnnlab.spec.loading import load_sweep
from cnnlab.sweep.console.calibration import machine_speed, record
from cnnlab.sweep.console.estimate import estimate_sweep, makespan, measured_speed
from cnnlab.sweep.options import SweepOptions, effective_sweep
from cnnlab.sweep.parallelism import _cgroup_cpu_limit, parse_workers, resolve


def test_auto_is_one_single_threaded_worker_per_core() -> None:
    assert (resolve("auto", cores=2).workers, resolve("auto", cores=2).threads) == (2, 1)
    assert resolve("auto", cores=1).in_process  # one core: no worker process to pay for
    assert resolve(1, cores=8).in_process and resolve(1, cores=8).threads == 0
    four = resolve(4, cores=8)
    assert (four.workers, four.threads, four.oversubscribed) == (4, 2, False)


def test_more_workers_than_cores_warns() -> None:
    assert resolve(2, cores=2).warning() is None
    warning = resolve(3, cores=2).warning()
    assert warning is not None and "--workers 3" in warning and "2 available cores" in warning


@pytest.mark.parametrize("text", ["0", "-1", "two", ""])
def test_a_bad_workers_value_names_the_option_and_the_fix(text: str) -> None:
    with pytest.raises(CnnlabError, match="--workers must be 'auto'"):
        parse_workers(text)
    assert parse_workers("AUTO") == "auto" and parse_workers("3") == 3


def test_a_cgroup_quota_caps_the_cores(tmp_path: Path) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")
    assert _cgroup_cpu_limit(cpu_max) == 1
    cpu_max.write_text("max 100000\n")
    assert _cgroup_cpu_limit(cpu_max) is None
    assert _cgroup_cpu_limit(tmp_path / "absent") is None


def test_makespan_schedules_in_order_on_the_first_free_worker() -> None:
    assert makespan([10, 10, 10, 10], 2) == 20
    assert makespan([30, 10, 10, 10], 2) == 30  # the long one on one worker, three on the other
    assert makespan([5, 5], 1) == 10


def test_two_workers_estimate_less_than_one_and_a_plan_gives_a_range() -> None:
    sweep = effective_sweep(load_sweep("pooling"), SweepOptions())
    one = estimate_sweep(sweep, resolve(1, cores=2))
    two = estimate_sweep(sweep, resolve("auto", cores=2))
    assert two.total < one.total
    assert two.first_look is not None and two.first_look < two.total
    fixed = estimate_sweep(
        effective_sweep(load_sweep("pooling"), SweepOptions(seeds=5)), resolve(2, cores=2)
    )
    assert fixed.first_look is None
    # five fixed seeds are exactly the plan's first look
    assert fixed.total == pytest.approx(two.first_look)


def test_the_runs_folders_measured_speed_scales_the_estimate(tmp_path: Path) -> None:
    parallelism = resolve("auto", cores=2)
    assert machine_speed(tmp_path, parallelism).trials == 0
    for measured in (120.0, 130.0, 150.0):
        record(tmp_path, parallelism, estimated=100.0, measured=measured)
    speed = machine_speed(tmp_path, parallelism)
    assert speed.trials == 3 and speed.factor == pytest.approx(1.3)
    assert machine_speed(tmp_path, resolve(1, cores=2)).trials == 0  # kept per parallelism
    sweep = effective_sweep(load_sweep("max_vs_avg"), SweepOptions(seeds=5))
    plain = estimate_sweep(sweep, parallelism)
    scaled = estimate_sweep(sweep, parallelism, speed)
    assert scaled.total > plain.total
    assert measured_speed([2.0, 2.0]).trials == 0  # too few to trust


def test_a_damaged_calibration_file_is_ignored_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "calibration.json").write_text("{not json")
    assert machine_speed(tmp_path, resolve("auto", cores=2)).trials == 0
    assert "calibration.json" in capsys.readouterr().err
