"""A results.csv is checked before a report trusts it: each damaged or foreign table is refused
naming the file, the line, the column, the value and the fix, and a good report stays."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from cnnlab.report import ReportError
from cnnlab.report.build import rebuild
from cnnlab.report.checked_results import read_checked_results, unchecked_accuracies
from cnnlab.spec.loading import load_sweep

REPORTS = Path(__file__).resolve().parents[2] / "reports"
GOOD = REPORTS / "max_vs_avg" / "results.csv"  # a real run's table: 10 rows, max and avg


def _edited(tmp_path: Path, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    table = pd.read_csv(GOOD, dtype={"arm": str, "cell": str}, keep_default_na=False)
    path = tmp_path / "results.csv"
    edit(table).to_csv(path, index=False)
    return path


def _set(column: str, row: int, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(table: pd.DataFrame) -> pd.DataFrame:
        table[column] = table[column].astype(object)
        table.at[row, column] = value
        return table

    return edit


def test_the_committed_table_passes() -> None:
    assert len(read_checked_results(GOOD, load_sweep("max_vs_avg"))) == 10


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (_set("test_accuracy", 3, 1.7), ["line 5", "`test_accuracy` is 1.7", "outside its range"]),
        (_set("test_accuracy", 0, 0.5), ["line 2", "`test_accuracy` is 0.5", "own `test_correct`"]),
        (_set("val_loss", 7, -0.2), ["line 9", "`val_loss` is -0.2", "from 0 up"]),
        (_set("epochs", 2, "three"), ["line 4", "`epochs` is 'three', not a number"]),
        (_set("params", 1, ""), ["line 3", "`params` is empty", "cut short"]),
        (_set("test_correct", 4, "10000:AAAA"), ["line 6", "holds 24 of the 10,000"]),
        (_set("test_correct", 4, "garbage"), ["line 6", "`test_correct` is 'garbage'"]),
        (_set("arm", 5, "strided"), ["line 7", "arm 'strided' is not an arm of sweep"]),
        (
            lambda t: pd.concat([t, t.iloc[[0]].assign(test_accuracy=t.at[1, "test_accuracy"])]),
            ["appears on lines 2, 12 with different test accuracies"],
        ),
    ],
    ids=[
        "accuracy above 1",
        "accuracy against its own bits",
        "negative loss",
        "a word for a number",
        "an empty count",
        "correctness cut short",
        "correctness not packed",
        "an arm of another sweep",
        "a cell twice, two results",
    ],
)
def test_a_damaged_table_is_refused_by_file_line_column_and_value(
    tmp_path: Path, edit: Callable[[pd.DataFrame], pd.DataFrame], words: list[str]
) -> None:
    path = _edited(tmp_path, edit)
    with pytest.raises(ReportError) as refused:
        read_checked_results(path, load_sweep("max_vs_avg"))
    message = str(refused.value)
    assert str(path) in message and "Traceback" not in message
    for word in words:
        assert word in message, message


def test_accuracies_without_correctness_bits_pass_and_the_note_says_they_were_not_checked(
    tmp_path: Path,
) -> None:
    sweep = load_sweep("max_vs_avg")
    assert unchecked_accuracies(GOOD, read_checked_results(GOOD, sweep)) is None
    # An edited accuracy is caught through its row's bits within 1e-6, and not beyond.
    table = read_checked_results(GOOD, sweep)
    nudged = _edited(tmp_path, _set("test_accuracy", 0, table.at[0, "test_accuracy"] + 5e-7))
    read_checked_results(nudged, sweep)
    pushed = _edited(tmp_path, _set("test_accuracy", 0, table.at[0, "test_accuracy"] + 2e-6))
    with pytest.raises(ReportError, match="tolerance 1e-06"):
        read_checked_results(pushed, sweep)

    without = _edited(tmp_path, lambda t: t.drop(columns=["test_correct"]).assign(
        test_accuracy=lambda u: u["test_accuracy"].where(u.index != 0, 0.5)))  # fmt: skip
    note = unchecked_accuracies(without, read_checked_results(without, sweep))
    assert note is not None and "no `test_correct` column" in note and "not checked" in note
    partly = _edited(tmp_path, _set("test_correct", 2, ""))
    note = unchecked_accuracies(partly, read_checked_results(partly, sweep))
    assert note is not None and "1 of 10 rows have no `test_correct`" in note


def test_a_cell_finished_twice_with_the_same_result_is_kept(tmp_path: Path) -> None:
    # Two processes that raced on one cell trained the same bits: not a conflict.
    path = _edited(tmp_path, lambda t: pd.concat([t, t.iloc[[0]]]))
    assert len(read_checked_results(path, load_sweep("max_vs_avg"))) == 11


def test_a_row_cut_in_half_an_empty_file_and_another_sweeps_table_are_refused(
    tmp_path: Path,
) -> None:
    sweep = load_sweep("max_vs_avg")
    cut = tmp_path / "cut.csv"
    text = GOOD.read_text().rstrip("\n")
    last = text.rindex("\n") + 1
    cut.write_text(text[: last + 60])  # the last row stops 60 characters in
    with pytest.raises(ReportError, match=r"cut.csv, line 11 \(cell .*\): `\w+` is empty"):
        read_checked_results(cut, sweep)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ReportError, match=r"empty.csv is empty \(not even a header row\)"):
        read_checked_results(empty, sweep)
    with pytest.raises(ReportError, match=r"arm 'd0' is not an arm of sweep 'max_vs_avg'"):
        read_checked_results(REPORTS / "dropout" / "results.csv", sweep)


def test_a_bad_table_never_replaces_a_good_report(tmp_path: Path) -> None:
    shutil.copytree(REPORTS / "max_vs_avg", tmp_path / "max_vs_avg")
    before = {p: p.read_bytes() for p in (tmp_path / "max_vs_avg").rglob("*") if p.is_file()}
    table = tmp_path / "max_vs_avg" / "results.csv"
    shutil.copy(REPORTS / "dropout" / "results.csv", table)
    before[table] = table.read_bytes()
    with pytest.raises(ReportError, match="another sweep's results"):
        rebuild("max_vs_avg", quick=False, reports_dir=tmp_path)
    after = {p: p.read_bytes() for p in (tmp_path / "max_vs_avg").rglob("*") if p.is_file()}
    assert after == before
