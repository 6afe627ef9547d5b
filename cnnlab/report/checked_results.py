"""A results.csv read and checked before a report trusts a number of it.

A sweep writes results.csv from its study, but a report is also rebuilt from a copied or
edited one (`python -m cnnlab.report NAME`), and a wrong table must never become a confident
report, nor replace a good one: every check here fails before anything is written, naming the
file, the row (its line in the file), the column, the value and the fix. Checked: the file
parses and has rows; the columns the report and the claims need; numbers where numbers
belong, inside their ranges; each row's test accuracy against its own per-example correctness
bits (`test_correct`, 1e-6); no cell twice with different results; and that the table is this
sweep's (its arms), not another's.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from cnnlab.report import ReportError
from cnnlab.spec.design import Sweep
from cnnlab.spec.metrics import CORRECTNESS
from cnnlab.stats.table import REQUIRED_COLUMNS
from cnnlab.stats.testnoise import unpack_correct

# column -> (lowest, highest) allowed; None: unbounded on that side
RANGES: dict[str, tuple[float | None, float | None]] = {
    "test_accuracy": (0.0, 1.0),
    "val_accuracy": (0.0, 1.0),
    "train_accuracy": (0.0, 1.0),
    "test_loss": (0.0, None),
    "val_loss": (0.0, None),
    "train_loss": (0.0, None),
    "seed": (0, None),
    "epochs": (1, None),
    "params": (0, None),
    "flops": (0, None),
    "seconds_per_epoch": (0.0, None),
    "wall_seconds": (0.0, None),
}
TOLERANCE = 1e-6  # test_accuracy against the mean of its correctness bits
# What an edited or damaged table can be fixed with.
FIX = (
    "rewrite it from the study by running the sweep command again (it resumes and rewrites "
    "results.csv), or restore the file from version control"
)


def read_checked_results(path: Path, sweep: Sweep) -> pd.DataFrame:
    """results.csv at `path`, every check passed; a ReportError names the first that fails."""
    if not path.is_file():
        raise ReportError(
            f"{path}: no results table. A sweep writes it when it ends; run the sweep (or copy "
            "its runs/results/<study>/results.csv here)."
        )
    try:
        # Arm and cell labels stay text even when they look like numbers (a filters sweep's "32").
        table = pd.read_csv(path, dtype={"arm": str, "cell": str})
    except pd.errors.EmptyDataError:
        raise ReportError(f"{path} is empty (not even a header row): {FIX}.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        reason = str(error).strip().splitlines()[0]
        raise ReportError(f"{path} is not a results table ({reason}): {FIX}.") from None
    if table.empty:
        raise ReportError(f"{path}: the results table has no rows; no trial has finished yet.")
    needed = list(REQUIRED_COLUMNS) + sorted({c.metric for c in sweep.claims})
    missing = [column for column in needed if column not in table.columns]
    if missing:
        raise ReportError(
            f"{path}: column(s) {', '.join(missing)} missing from the results table. It was "
            "not written by this version of cnnlab's sweep (or was edited); rerun the sweep "
            "command to rewrite it from the study."
        )
    _check_values(path, table)
    _check_duplicates(path, table)
    _check_accuracy_bits(path, table)
    _check_sweep(path, table, sweep)
    return table


def _line(index: object) -> int:
    """The file's line of a row (the header is line 1; pandas numbers rows from 0)."""
    return int(str(index)) + 2


def _where(path: Path, table: pd.DataFrame, index: object) -> str:
    cell = table.at[index, "cell"] if "cell" in table else None
    named = f" (cell {cell})" if isinstance(cell, str) and cell else ""
    return f"{path}, line {_line(index)}{named}"


def _check_values(path: Path, table: pd.DataFrame) -> None:
    """Numbers present, numeric and in range: a row cut short has its last columns empty."""
    for column, (low, high) in RANGES.items():
        if column not in table:
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        for index in table.index[values.isna()]:
            raw = table.at[index, column]
            shown = "empty" if pd.isna(raw) else f"{raw!r}, not a number"
            raise ReportError(
                f"{_where(path, table, index)}: `{column}` is {shown} (a row cut short or "
                f"edited?): {FIX}."
            )
        for index, value in values.items():
            if (low is not None and value < low) or (high is not None and value > high):
                bounds = f"from {low:g}" + (f" to {high:g}" if high is not None else " up")
                raise ReportError(
                    f"{_where(path, table, index)}: `{column}` is {value:g}, outside its range "
                    f"({bounds}): {FIX}."
                )
    for column in ("cell", "arm"):
        for index in table.index[table[column].isna()]:
            raise ReportError(f"{_where(path, table, index)}: `{column}` is empty: {FIX}.")


def unchecked_accuracies(path: Path, table: pd.DataFrame) -> str | None:
    """A note when some rows' test accuracy could not be checked against their correctness
    bits (a table written before cnnlab recorded them): the check is skipped, not passed."""
    if CORRECTNESS not in table:
        return (
            f"note: {path} has no `{CORRECTNESS}` column (written before cnnlab recorded "
            "per-example correctness): its test accuracies were not checked against it."
        )
    texts = table[CORRECTNESS]
    missing = int(sum(1 for text in texts if not isinstance(text, str) or not text))
    if missing:
        return (
            f"note: {path}: {missing:,} of {len(table):,} rows have no `{CORRECTNESS}`: their "
            "test accuracies were not checked against it."
        )
    return None


def _check_accuracy_bits(path: Path, table: pd.DataFrame) -> None:
    """Each row's test accuracy is the share of its test images its correctness bits mark."""
    if CORRECTNESS not in table:
        return  # written before cnnlab recorded them: nothing to check against (the report says)
    for index, text in table[CORRECTNESS].items():
        if not isinstance(text, str) or not text:
            continue  # a row recorded without it (older versions): nothing to check against
        if ":" not in text:
            raise ReportError(
                f"{_where(path, table, index)}: `{CORRECTNESS}` is {text[:20]!r}, not the "
                f"packed per-example correctness (a row cut short or edited?): {FIX}."
            )
        try:
            bits = unpack_correct(text)
            count = int(text.partition(":")[0])
        except (ValueError, TypeError) as error:
            raise ReportError(
                f"{_where(path, table, index)}: `{CORRECTNESS}` cannot be unpacked ({error}): "
                f"{FIX}."
            ) from None
        if len(bits) != count or count == 0:
            raise ReportError(
                f"{_where(path, table, index)}: `{CORRECTNESS}` holds {len(bits):,} of the "
                f"{count:,} test images it names (cut short?): {FIX}."
            )
        stated = float(table.at[index, "test_accuracy"])
        measured = float(np.mean(bits))
        if not math.isclose(stated, measured, rel_tol=0.0, abs_tol=TOLERANCE):
            raise ReportError(
                f"{_where(path, table, index)}: `test_accuracy` is {stated:.6g}, but the row's "
                f"own `{CORRECTNESS}` marks {measured:.4%} of its {count:,} test images "
                f"correct (tolerance {TOLERANCE:g}): the row was edited or mixed up: {FIX}."
            )


def _check_duplicates(path: Path, table: pd.DataFrame) -> None:
    """A cell finished twice (two processes raced on it) must have the same result twice;
    different results mean rows of different runs were mixed, and neither can be chosen."""
    for cell, rows in table.groupby("cell", sort=False):
        if len(rows) < 2:
            continue
        accuracies = rows["test_accuracy"].astype(float)
        if accuracies.nunique() > 1:
            lines = ", ".join(str(_line(i)) for i in rows.index)
            shown = ", ".join(f"{a:.4%}" for a in accuracies)
            raise ReportError(
                f"{path}: cell {cell} appears on lines {lines} with different test accuracies "
                f"({shown}): rows of different runs were mixed, and a report cannot choose "
                f"one: {FIX}."
            )


def _check_sweep(path: Path, table: pd.DataFrame, sweep: Sweep) -> None:
    """The table's arms are this sweep's: another sweep's table is refused, not reported as
    NOT JUDGED over a good report."""
    if sweep.design == "search":
        return  # a search's arms are its samples
    arms = set(sweep.arm_labels())
    foreign = sorted(set(table["arm"].astype(str)) - arms)
    if foreign:
        index = table.index[table["arm"].astype(str) == foreign[0]][0]
        raise ReportError(
            f"{_where(path, table, index)}: arm {foreign[0]!r} is not an arm of sweep "
            f"{sweep.name!r} ({', '.join(sorted(arms))}); the table holds arm(s) "
            f"{', '.join(foreign)} too: it is another sweep's results (or the sweep file "
            "changed). Give the report its own sweep's results.csv."
        )
