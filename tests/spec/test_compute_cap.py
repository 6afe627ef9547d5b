"""A compute cap: declared with the shorter plan it forces, printed before the run with both
plans' cost and power, and accounted for in the report."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from cnnlab.errors import SpecError
from cnnlab.report.analysis import cap_account
from cnnlab.report.document import _cap_text
from cnnlab.spec import Claim, ComputeCap, Factor, SequentialPlan, Sweep, TrainSpec, TrialSpec
from cnnlab.spec.design import cells, seeds_hash
from cnnlab.spec.presets import small
from cnnlab.stats.sequential import power_at
from cnnlab.sweep.console.estimate import MachineSpeed
from cnnlab.sweep.launch import describe_cap
from cnnlab.sweep.parallelism import resolve

SHORT = SequentialPlan(looks=(5, 8, 12))
CAPPED = Sweep(
    name="capped",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=1, batch_size=128)),
    factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
    seeds=SHORT,
    claims=(Claim(statement="max beats avg", better="max", worse="avg"),),
    compute_cap=ComputeCap(hours=6, full_plan=SequentialPlan(looks=(5, 8, 12, 20))),
)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"seeds": 12}, "this sweep has a fixed seed count"),
        ({"seeds": SequentialPlan(looks=(5, 8, 12, 24))}, "or stop before it"),
        ({"seeds": SequentialPlan(looks=(5, 10, 20))}, "or stop before it"),
        ({"compute_cap": 6}, "must be a ComputeCap"),
    ],
)
def test_a_cap_needs_a_shorter_sequential_plan(change: dict, words: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(SpecError, match=words) as refused:
        dataclasses.replace(CAPPED, **change)
    assert refused.value.field == "compute_cap"


@pytest.mark.parametrize("hours", [0, -1, 1000, "6", True])
def test_a_cap_of_no_time_or_not_a_number_is_refused(hours: object) -> None:
    with pytest.raises(SpecError) as refused:
        ComputeCap(hours=hours)  # type: ignore[arg-type]
    assert refused.value.field == "compute_cap.hours"


def test_the_cap_is_part_of_the_pre_registered_plan_and_leaves_uncapped_hashes_alone() -> None:
    uncapped = dataclasses.replace(CAPPED, compute_cap=None)
    assert seeds_hash(uncapped) == seeds_hash(dataclasses.replace(uncapped))
    assert seeds_hash(CAPPED) != seeds_hash(uncapped)
    other = dataclasses.replace(CAPPED, compute_cap=ComputeCap(hours=5))
    assert seeds_hash(other) != seeds_hash(CAPPED)


def test_the_shorter_plan_has_less_power_than_the_full_one() -> None:
    short, full = power_at(SHORT, 1), power_at(SequentialPlan(looks=(5, 8, 12, 20)), 1)
    # Measured here (20,000 runs each): 0.51 and 0.84. A power that ignored the looks after
    # the first, or the plan's length, would not order them so.
    assert 0.4 < short < 0.6 and 0.78 < full < 0.9


def test_the_plan_line_states_both_plans_cost_and_power() -> None:
    text = describe_cap(CAPPED, resolve(2), MachineSpeed())
    assert "Compute cap: 6 h of training" in text
    assert "The full plan (looks at 5, 8, 12, 20) would take up to" in text
    assert "this sweep runs looks at 5, 8, 12" in text and "(within it)" in text
    assert "this plan 0.5" in text and "the full plan 0.8" in text
    tight = dataclasses.replace(
        CAPPED, compute_cap=ComputeCap(hours=0.001, full_plan=SequentialPlan())
    )
    assert "MORE than the cap" in describe_cap(tight, resolve(2), MachineSpeed())


def test_the_report_prices_the_full_plan_at_the_measured_seconds_per_cell() -> None:
    design = cells(CAPPED)[:10]  # a first look: 5 seeds × 2 arms
    rows = pd.DataFrame(
        {
            "cell": [c.key for c in design],
            "wall_seconds": [600.0] * 8 + [30.0, 30.0],
            "reused_from": [""] * 8 + ["other/1", "other/2"],  # copies: not this run's seconds
        }
    )
    account = cap_account(CAPPED, rows)
    assert account is not None
    assert (account.cells, account.full_cells, account.cell_seconds) == (10, 40, 600.0)
    text = _cap_text(account)
    assert "up to 40 cells" in text and "10 min 00 s per cell" in text
    assert "6 h 40 min of cell time" in text
    assert "looks at 5, 8, 12" in text and "not evidence of no difference" in text
    assert cap_account(dataclasses.replace(CAPPED, compute_cap=None), rows) is None


def test_a_full_plan_that_fits_its_cap_runs_as_declared_and_says_so() -> None:
    full = dataclasses.replace(CAPPED, seeds=SequentialPlan(looks=(5, 8, 12, 20)))
    text = describe_cap(full, resolve(2), MachineSpeed())
    assert "The full plan (looks at 5, 8, 12, 20) takes up to" in text
    assert "(within it), so this sweep runs it" in text and "this plan 0.8" in text
    assert "would take" not in text  # nothing was cut
    design = cells(full)[:10]
    rows = pd.DataFrame({"cell": [c.key for c in design], "wall_seconds": [600.0] * 10})
    account = cap_account(full, rows)
    assert account is not None and account.looks == account.full_looks
    report = _cap_text(account)
    assert "so this sweep ran it: up to 40 cells" in report and "6 h 40 min of cell time" in report
    assert "shorter plan" not in report
