"""The cost-of-pooling report: exact counts from the trials and the layer plan, timing from
the benchmark's file, and nothing else."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from cnnlab.report.build import ReportError
from cnnlab.report.index.cost import activations, cost_markdown
from cnnlab.spec.presets import small

REPORTS = Path(__file__).resolve().parents[2] / "reports"


def test_activations_count_every_layer_output_but_the_flatten() -> None:
    # conv 26·26·32 + pool 13·13·32 + conv 11·11·32 + pool 5·5·32 + dense 128 + output 10
    assert activations(small) == 21_632 + 5_408 + 3_872 + 800 + 128 + 10
    # no pooling: the second convolution runs at 24·24, and nothing halves the maps
    assert activations(dataclasses.replace(small, pooling="none")) == 21_632 + 18_432 + 128 + 10


def _reports(tmp_path: Path, rows: list[tuple[str, int, int]], medians: dict[str, float]) -> Path:
    (tmp_path / "pooling").mkdir()
    table = pd.DataFrame(rows, columns=["arm", "params", "flops"])
    table.to_csv(tmp_path / "pooling" / "results.csv", index=False)
    (tmp_path / "cost").mkdir()
    timing = {
        "median_seconds": medians,
        "seconds": {arm: [median - 1.0, median, median + 2.5] for arm, median in medians.items()},
        "threads": 1,
        "repeats": 3,
        "train_images": 55_000,
        "batch_size": 128,
        "machine": {"cores": "2", "cpu": "AMD EPYC"},
        "measured": "2026-12-05 10:00 UTC",
        "git_commit": "abcdef0123",
        "command": "python benchmarks/pooling_cost.py",
    }
    (tmp_path / "cost" / "timing.json").write_text(json.dumps(timing))
    return tmp_path


def test_each_arm_reads_its_exact_counts_and_its_median_time_as_ratios_to_max(
    tmp_path: Path,
) -> None:
    rows = [("max", 113_386, 2_827_008)] * 2 + [("none", 2_370_282, 15_727_360)] * 2
    text = cost_markdown(_reports(tmp_path, rows, {"max": 10.0, "none": 31.0}))
    none = next(line for line in text.splitlines() if line.startswith("| none |"))
    assert (
        none == "| none | 2,370,282 | 15,727,360 | 40,202 | 31.00 (30.00–33.50) | "
        "×20.90, ×5.56, ×1.26, ×3.10 |"
    )
    assert "median of 3 trainings per arm" in text and "at commit abcdef0" in text
    assert "TensorFlow limited to 1 thread:" in text
    assert "slower on one repeat than on another" not in text  # spreads of ×1.39 at most


def test_a_machine_whose_speed_comes_in_modes_is_said_so_beside_the_times(
    tmp_path: Path,
) -> None:
    rows = [("max", 113_386, 2_827_008), ("none", 2_370_282, 15_727_360)]
    reports = _reports(tmp_path, rows, {"max": 10.0, "none": 31.0})
    timing_path = reports / "cost" / "timing.json"
    timing = json.loads(timing_path.read_text())
    timing["seconds"]["none"] = [23.7, 31.0, 41.0]  # one arm ×1.73 from its fastest
    timing_path.write_text(json.dumps(timing))
    assert "The same training ran up to ×1.7 slower on one repeat" in cost_markdown(reports)


def test_an_untimed_arm_has_no_time_ratio(tmp_path: Path) -> None:
    rows = [("max", 113_386, 2_827_008), ("none", 2_370_282, 15_727_360)]
    text = cost_markdown(_reports(tmp_path, rows, {"max": 10.0}))
    none = next(line for line in text.splitlines() if line.startswith("| none |"))
    assert none.endswith("| not measured yet | ×20.90, ×5.56, ×1.26, – |")


def test_an_arm_whose_trials_disagree_on_its_counts_is_refused(tmp_path: Path) -> None:
    rows = [("max", 113_386, 2_827_008), ("max", 113_387, 2_827_008)]
    with pytest.raises(ReportError, match="arm 'max' has several parameter/FLOP counts"):
        cost_markdown(_reports(tmp_path, rows, {}))


def test_the_committed_cost_report_is_what_the_committed_files_say() -> None:
    committed = (REPORTS / "cost" / "README.md").read_text()
    assert committed == cost_markdown(REPORTS), "run: python -m cnnlab.report --index"
