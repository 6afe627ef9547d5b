"""Provenance: every committed provenance.json reads back and writes out byte for byte, and a
key the record does not know (or a missing or mistyped one) is refused by name."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from cnnlab.report.build import ReportError
from cnnlab.report.provenance import ABSENT, Provenance
from cnnlab.spec.sequential import SequentialPlan

REPORTS = Path(__file__).resolve().parents[2] / "reports"
COMMITTED = sorted(REPORTS.glob("*/provenance.json"))
# The keys of provenance.json: stored, so spelled here once more, never derived from the code.
KEYS = {
    "batch_size",
    "claims_hash_at_start",
    "config_hash",
    "data_sha256",
    "data_source",
    "dataset",
    "epochs",
    "finished",
    "git_commit",
    "machine",
    "n_backgrounds",
    "plan_hash_at_start",
    "rule_at_start",
    "data_facts",
    "quick",
    "report",
    "seeds",
    "sequential_plan",
    "study",
    "sweep",
    "sweep_source",
    "sweep_wall_seconds",
    "threads",
    "train_images",
    "trial_wall_seconds",
    "versions",
    "workers",
}
# absent from older files
LATER = {"plan_hash_at_start", "sequential_plan", "workers", "rule_at_start", "data_facts"}


def _committed(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((REPORTS / name / "provenance.json").read_text())
    return loaded


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.parent.name)
def test_a_committed_provenance_round_trips_byte_identical(path: Path) -> None:
    text = path.read_text()
    assert Provenance.from_json(text).to_json() == text
    assert Provenance.read(path).to_json() == text
    assert Provenance.from_json(json.loads(text)).to_json() == text


def test_every_committed_file_has_the_keys_of_its_time() -> None:
    for path in COMMITTED:
        keys = set(_committed(path.parent.name))
        assert KEYS - LATER <= keys <= KEYS, path


@pytest.mark.parametrize("dropped", [(), ("workers",), ("workers", "sequential_plan"), LATER])
@pytest.mark.parametrize("plan", [None, {"looks": [3, 6], "alpha": 0.1}])
def test_any_mix_of_absent_null_and_present_round_trips(
    dropped: tuple[str, ...], plan: dict[str, object] | None
) -> None:
    # The committed files have some of these shapes (22, 24 and 25 keys; a null plan); a file
    # written as the sweep writes it must read back to the same bytes in every one of them.
    record = {**_committed("pooling"), "plan_hash_at_start": None}
    if plan is not None:
        record["sequential_plan"] = {**record["sequential_plan"], **plan}  # type: ignore[dict-item]
    else:
        record["sequential_plan"] = None
    for key in dropped:
        record.pop(key, None)
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    assert Provenance.from_json(text).to_json() == text


def test_the_record_has_a_field_for_each_key_and_no_other() -> None:
    assert {field.name for field in dataclasses.fields(Provenance)} == KEYS
    full = Provenance.from_json(_committed("pooling"))
    # pooling was rerun under the recorded rule: its file has every key but the data's facts,
    # which runs since 2026-12-06 record
    assert set(json.loads(full.to_json())) == KEYS - {"data_facts"}


def test_an_absent_key_stays_absent_and_a_null_stays_null() -> None:
    old = Provenance.from_json(_committed("pooling-quick"))
    assert old.workers is ABSENT and old.sequential_plan is ABSENT
    assert old.plan_hash_at_start is ABSENT
    written = old.to_json()
    assert "null" not in written and not LATER & set(json.loads(written))
    # A field made absent on a full record is left out too, not written as null.
    full = Provenance.from_json(_committed("pooling"))
    without = dataclasses.replace(full, workers=ABSENT)
    assert "workers" not in json.loads(without.to_json()) and "null" not in without.to_json()
    # A recorded null (a fixed run's plan) is kept as null.
    fixed = Provenance.from_json(_committed("pooling_x_kernel"))
    assert fixed.sequential_plan is None
    assert '"sequential_plan": null' in fixed.to_json()


def test_the_plan_reads_as_the_specs_plan() -> None:
    plan = Provenance.from_json(_committed("pooling")).sequential_plan
    assert plan == SequentialPlan(looks=(5, 8, 12, 20))


def test_an_unknown_key_is_refused_naming_the_file_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / "pooling" / "provenance.json"
    path.parent.mkdir()
    path.write_text(json.dumps({**_committed("pooling"), "claims_hash_at_strat": "x"}))
    with pytest.raises(
        ReportError,
        match=r"pooling/provenance.json: unknown key\(s\) `claims_hash_at_strat`\. "
        r"Did you mean 'claims_hash_at_start'\?",
    ):
        Provenance.read(path)


def test_an_unknown_key_of_the_plan_is_refused() -> None:
    record = _committed("pooling")
    plan = {**record["sequential_plan"], "alhpa": 0.05}  # type: ignore[dict-item]
    with pytest.raises(ReportError, match=r"`sequential_plan`.*unknown plan field\(s\) alhpa"):
        Provenance.from_json({**record, "sequential_plan": plan})


def test_a_missing_key_is_refused_by_name() -> None:
    record = _committed("pooling")
    del record["git_commit"]
    with pytest.raises(ReportError, match=r"x.json: key\(s\) `git_commit` missing"):
        Provenance.from_json(record, origin="x.json")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("seeds", [0, "1"]),
        ("quick", 1),
        ("train_images", 55000.0),
        ("dataset", "my data"),
        ("dataset", 3),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_by_key(key: str, value: object) -> None:
    with pytest.raises(ReportError, match=rf"key `{key}` holds"):
        Provenance.from_json({**_committed("pooling"), key: value})


def test_invalid_json_and_a_non_object_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "provenance.json"
    path.write_text("{")
    with pytest.raises(ReportError, match=r"provenance\.json: not valid JSON"):
        Provenance.read(path)
    with pytest.raises(ReportError, match="not a JSON object"):
        Provenance.from_json("[]")
