"""The spellings cnnlab stores, pinned as literals: results.csv's columns, verdicts.json's keys,
and the Optuna and MLflow keys and state values. Identifiers may be renamed (`ResultRow.labels`
was `levels`, `Judgement.looks` was `levels`); what earlier runs wrote must read the same, so
none of these may change with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnnlab.report.analysis import Analysis, ClaimOutcome, verdicts_json
from cnnlab.spec.design import Claim, Factor, Sweep
from cnnlab.spec.presets import small
from cnnlab.spec.sequential import SequentialPlan
from cnnlab.spec.specs import TrialSpec
from cnnlab.stats.claims import Judgement
from cnnlab.stats.sequential import look_levels
from cnnlab.stats.table import ResultRow
from cnnlab.sweep.stores.keys import (
    Key,
    Role,
    State,
    claim_key,
    level_key,
    verdict_key,
    version_key,
)

REPORTS = Path(__file__).resolve().parents[2] / "reports"


def _header(report: str) -> list[str]:
    with (REPORTS / report / "results.csv").open() as table:
        return table.readline().rstrip("\n").split(",")


def _row(labels: dict[str, str], probes: dict[str, float], correct: str) -> ResultRow:
    return ResultRow(
        trial=0,
        cell="max/seed=00",
        arm="max",
        labels=labels,
        seed=0,
        background=None,
        test_accuracy=0.99,
        test_loss=0.03,
        val_accuracy=0.99,
        val_loss=0.03,
        train_accuracy=0.99,
        train_loss=0.02,
        epochs=3,
        params=1,
        flops=1,
        seconds_per_epoch=1.0,
        wall_seconds=3.0,
        split_hash="s",
        data_order_hash="o",
        init_hash="i",
        mlflow_run_id=None,
        probes=probes,
        test_correct=correct,
    )


FIXED_COLUMNS = [
    "seed",
    "background",
    "test_accuracy",
    "test_loss",
    "val_accuracy",
    "val_loss",
    "train_accuracy",
    "train_loss",
    "epochs",
    "params",
    "flops",
    "seconds_per_epoch",
    "wall_seconds",
    "split_hash",
    "data_order_hash",
    "init_hash",
    "mlflow_run_id",
]


ADDED_COLUMNS = ("reused_from",)  # the cell cache's: which earlier trial a cell was copied from


@pytest.mark.parametrize(
    ("report", "factors"),
    [
        ("pooling", ["arch.pooling"]),
        ("pooling_x_kernel", ["arch.pooling", "arch.blocks.0.kernel_size"]),
        ("augmentation", ["train.augmentation"]),
    ],
)
def test_results_csv_columns_are_the_committed_reports(report: str, factors: list[str]) -> None:
    header = _header(report)
    # The factors' own columns are their paths, never the field's name (`labels`).
    expected = ["trial", "cell", "arm", *factors, *FIXED_COLUMNS]
    assert header[: len(expected)] == expected
    assert header[-1] == "test_correct"
    probes = header[len(expected) : -1]  # the probes' columns, named by the probes
    written = _row(dict.fromkeys(factors, "x"), dict.fromkeys(probes, 0.0), "").to_record()
    # Columns added after these reports were written, which a reader takes as empty.
    assert [column for column in written if column not in ADDED_COLUMNS] == header
    assert list(written).index("reused_from") == list(written).index("mlflow_run_id") + 1


def test_verdicts_json_keys_are_the_committed_reports() -> None:
    committed = json.loads((REPORTS / "max_vs_avg" / "verdicts.json").read_text())
    top = {
        "baseline",
        "claims",
        "claims_edited_after_results",
        "claims_hash",
        "factorial",
        "judged",
        "not_judged_because",
        "omnibus",
        "plan_edited_after_start",
        "sequential_plan",
        "smoke_run",
        "sweep",
    }
    claim = {
        "better",
        "differences",
        "higher_is_better",
        "in_plain_words",
        "metric",
        "numbers",
        "rope",
        "sequential",
        "statement",
        "test_noise",
        "verdict",
        "worse",
    }
    plan = {
        "alpha",
        "futility",
        "futility_power",
        "gamma",
        "looks",
        "looks_levels",
        "plan_hash",
        "spending",
    }
    look = {"alpha", "alpha_eq", "look", "seeds"}
    assert set(committed) == top
    assert all(set(c) == claim for c in committed["claims"])
    assert set(committed["sequential_plan"]) == plan
    assert all(set(level) == look for level in committed["sequential_plan"]["looks_levels"])

    # What the code writes now, from a hand-made analysis (no results table needed).
    sweep_plan = SequentialPlan(looks=(5, 8))
    sweep = Sweep(
        name="names",
        base=TrialSpec(arch=small),
        factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
        seeds=sweep_plan,
        claims=(Claim(statement="max beats avg", better="max", worse="avg", rope=0.001),),
    )
    analysis = Analysis(
        sweep=sweep,
        quick=False,
        judgement=Judgement(judged=False, reasons=(), looks=look_levels(sweep_plan, 1)),
        claims=(ClaimOutcome(sweep.claims[0], None, (), 0, ""),),
        costs=(),
        control="",
        omnibus=None,
        omnibus_note="",
        factorial=None,
        factorial_note="",
        claims_edited=False,
        plan_edited=False,
    )
    written = json.loads(verdicts_json(analysis))
    assert set(written) == top
    assert set(written["claims"][0]) == claim
    assert set(written["sequential_plan"]) == plan
    assert [set(level) for level in written["sequential_plan"]["looks_levels"]] == [look, look]


def test_store_keys_and_state_values_never_change() -> None:
    assert {key.name: key.value for key in Key} == {
        "SWEEP": "cnnlab.sweep",
        "STUDY": "cnnlab.study",
        "CONFIG_HASH": "cnnlab.config_hash",
        "DEFINITION": "cnnlab.definition",
        "CLAIMS_HASH": "cnnlab.claims_hash",
        "PLAN_HASH": "cnnlab.plan_hash",
        "RULE": "cnnlab.rule",
        "QUICK": "cnnlab.quick",
        "CREATED": "cnnlab.created",
        "MLFLOW_PARENT_RUN_ID": "cnnlab.mlflow_parent_run_id",
        "DEAD_AFTER": "cnnlab.dead_after",
        "VERSION": "cnnlab.version",  # 2026-12-06: the version that claims from the queue
        "DESIGN": "cnnlab.design",
        "ROLE": "cnnlab.role",
        "CELL": "cnnlab.cell",
        "ARM": "cnnlab.arm",
        "LEVELS": "cnnlab.levels",
        "SEED": "cnnlab.seed",
        "BACKGROUND": "cnnlab.background",
        "TRIAL_NUMBER": "cnnlab.trial_number",
        "HOST": "cnnlab.host",
        "OWNER": "cnnlab.owner",
        "HEARTBEAT": "cnnlab.heartbeat",
        "STATE": "cnnlab.state",
        "REASON": "cnnlab.reason",
        "MESSAGE": "cnnlab.message",
        "RESULT": "cnnlab.result",
        "FINGERPRINT": "cnnlab.fingerprint",
        "REUSED_FROM": "cnnlab.reused_from",
        "REUSED_RUN": "cnnlab.reused_run",
        "RESTORED_FROM": "cnnlab.restored_from",
        "FAILURE": "cnnlab.failure",
        "MLFLOW_RUN_ID": "cnnlab.mlflow_run_id",
        "MISSING": "cnnlab.missing",
        "GIT_COMMIT": "cnnlab.git_commit",
        "VERSIONS": "cnnlab.versions",
        "THREADS": "cnnlab.threads",
        "DATA_SOURCE": "cnnlab.data_source",
        "DATA_SHA256": "cnnlab.data_sha256",
        "SPLIT_HASH": "cnnlab.split_hash",
        "DATA_ORDER_HASH": "cnnlab.data_order_hash",
        "INIT_HASH": "cnnlab.init_hash",
        "REPORT": "cnnlab.report",
    }
    assert version_key("tensorflow") == "cnnlab.version.tensorflow"
    assert level_key("arch.pooling") == "cnnlab.level.arch.pooling"
    assert claim_key(1) == "cnnlab.claim.1"
    assert verdict_key(2) == "cnnlab.verdict.2"
    assert {state.name: state.value for state in State} == {
        "RUNNING": "RUNNING",
        "COMPLETE": "COMPLETE",
        "FAIL": "FAIL",
        "PRUNED": "PRUNED",
        "INTERRUPTED": "INTERRUPTED",
        "REAPED": "REAPED",
        "UNUSED": "UNUSED",
        "OUTSIDE_DESIGN": "OUTSIDE_DESIGN",
        "DUPLICATE": "DUPLICATE",
        "INCOMPLETE": "INCOMPLETE",
        "ERROR": "ERROR",
    }
    assert {role.name: role.value for role in Role} == {"PARENT": "parent", "TRIAL": "trial"}
