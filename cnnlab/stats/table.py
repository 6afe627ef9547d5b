"""The results table: its schema (one for the writer, the readers and test fixtures), pairing
by replicate, the design's own rows, and per-arm summaries.

A results table has one row per finished cell. A *replicate* is (seed, background): the unit
that pairs arms (the same seed, and the same background draw in a randomized design); a
*cell* is one arm × one replicate. The sweep writes the table (`cnnlab.sweep.stores.results`), the
report reads it back from results.csv (`cnnlab.report.build`), the statistics pair it here,
and test fixtures build rows with `ResultRow`, so all of them agree on the columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cnnlab.spec.design import Sweep, cells
from cnnlab.spec.metrics import CORRECTNESS

NO_BACKGROUND = -1  # the background of a replicate in a design without background draws
# What a report cannot do without (claims add their metric's column).
REQUIRED_COLUMNS = (
    "cell",
    "arm",
    "seed",
    "background",
    "test_accuracy",
    "params",
    "flops",
    "seconds_per_epoch",
)


@dataclass(frozen=True, kw_only=True)
class ResultRow:
    """One row of results.csv, in column order: identity, factor labels, replicate, metrics,
    cost, pairing fingerprints, probe metrics, then the packed per-example correctness.

    `labels` spreads into one column per factor, named by its path (`arch.pooling`); the field's
    own name is no column, so it is not a stored spelling (nor is the Optuna attribute it is
    read from, `Key.LEVELS`, spelled after it)."""

    trial: int
    cell: str | None
    arm: str | None
    labels: dict[str, str] = field(default_factory=dict)  # factor path -> label (own columns)
    seed: int
    background: int | None
    test_accuracy: float
    test_loss: float
    val_accuracy: float
    val_loss: float
    train_accuracy: float
    train_loss: float
    epochs: int
    params: int
    flops: int
    seconds_per_epoch: float
    wall_seconds: float
    split_hash: str
    data_order_hash: str
    init_hash: str
    mlflow_run_id: str | None
    # `<study>/<trial>` of the identical training this cell was copied from (the cell cache);
    # empty for a cell trained in its own study.
    reused_from: str = ""
    # A network you bring: the share of its parameters initialised from the reference arm's
    # (a column only then, so results of cnnlab's own networks read as they always did).
    init_paired: float | None = None
    probes: dict[str, float] = field(default_factory=dict)  # probe metric -> value (own columns)
    test_correct: str = ""  # per-example correctness, packed (cnnlab.spec.metrics.CORRECTNESS)

    def to_record(self) -> dict[str, Any]:
        """The row as a column -> value dict, factor labels and probes spread into columns."""
        record: dict[str, Any] = {"trial": self.trial, "cell": self.cell, "arm": self.arm}
        record.update(self.labels)
        for name in _ROW_FIELDS:
            record[name] = getattr(self, name)
        if self.init_paired is not None:
            record[INIT_PAIRED] = self.init_paired
        record.update(self.probes)
        record[CORRECTNESS] = self.test_correct  # last: a long opaque string
        return record


INIT_PAIRED = "init_paired"
_ROW_FIELDS = (
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
    "reused_from",
)


def results_frame(rows: list[ResultRow]) -> pd.DataFrame:
    """The table of `rows`, ordered by replicate and trial (as results.csv is written).

    With no rows it still has the required columns, so "nothing finished yet" pairs to nothing
    instead of failing on a missing column (a sequential plan judges before its first trial).
    """
    frame = pd.DataFrame([row.to_record() for row in rows])
    if frame.empty:
        frame = pd.DataFrame(columns=["trial", *REQUIRED_COLUMNS])
    else:
        frame = frame.sort_values(["seed", "background", "trial"], na_position="first")
    return frame.reset_index(drop=True)


# --- pairing -------------------------------------------------------------------------------


def background_codes(frame: pd.DataFrame) -> pd.Series:
    """The background of each row as an int, `NO_BACKGROUND` where there is none."""
    return frame["background"].fillna(NO_BACKGROUND).astype(int)


def with_replicate(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with a `replicate` column: the (seed, background) pair of each row."""
    keys = zip(frame["seed"].astype(int), background_codes(frame), strict=True)
    return frame.assign(replicate=list(keys))


def paired(
    frame: pd.DataFrame, column: str, better: str, worse: str, *, per: tuple[str, ...] = ()
) -> tuple[pd.Series, pd.Series]:
    """`column` of arm `better` and of arm `worse`, aligned on the replicates both have.

    Indexed by (seed, background[, *per]) in sorted order; `per` adds keys such as `epoch`
    for a table with several rows per cell.
    """
    keyed = frame.assign(bg=background_codes(frame))
    keys = ["seed", "bg", *per]
    a = keyed[keyed["arm"] == better].set_index(keys)[column]
    b = keyed[keyed["arm"] == worse].set_index(keys)[column]
    both = a.index.intersection(b.index).sort_values()
    return a.loc[both], b.loc[both]


# --- the design's own rows -----------------------------------------------------------------


def design_rows(sweep: Sweep, results: pd.DataFrame) -> pd.DataFrame:
    """The rows of the sweep's own cells, once each.

    A study can hold more than the current design (it was extended with --seeds, then rerun
    with fewer): those rows are left out so the verdicts are about the design the report
    states. Two processes racing on one study can finish a cell twice; the first kept.
    """
    keys = {cell.key for cell in cells(sweep)}
    if sweep.design == "search" or "cell" not in results or not keys:
        return results
    mine = results[results["cell"].isin(keys)]
    if "trial" in mine:
        mine = mine.sort_values("trial", kind="stable")
    return mine.drop_duplicates(subset="cell", keep="first")


def missing_cells(sweep: Sweep, results: pd.DataFrame) -> list[str]:
    """Declared cells (`arm/seed=NN[/bg=NN]`) that have no finished row in the table."""
    have = set(results["cell"]) if "cell" in results else set()
    return [cell.key for cell in cells(sweep) if cell.key not in have]


# --- per-arm summaries ---------------------------------------------------------------------


@dataclass(frozen=True)
class ArmSummary:
    """One arm's accuracy and cost; `differs_from_control`: its parameters or FLOPs differ
    from the first (control) arm's, so a difference may be capacity, not the factor."""

    arm: str
    n: int
    accuracy_mean: float
    accuracy_sd: float  # NaN with one row
    params: int
    flops: int
    seconds_per_epoch: float
    differs_from_control: bool


def arm_order(sweep: Sweep, results: pd.DataFrame) -> list[str]:
    """The arms present, in declared order (then any others, sorted)."""
    present = set(results["arm"]) if "arm" in results else set()
    declared = [arm for arm in sweep.arm_labels() if arm in present]
    return declared + sorted(present - set(declared))


def arm_summaries(sweep: Sweep, results: pd.DataFrame) -> tuple[ArmSummary, ...]:
    """Per arm, in `arm_order`: test accuracy (mean, SD), parameters, FLOPs, s/epoch."""
    parts = [(arm, results[results["arm"] == arm]) for arm in arm_order(sweep, results)]
    if not parts:
        return ()
    control = parts[0][1]
    control_cost = (int(control["params"].iloc[0]), int(control["flops"].iloc[0]))
    out = []
    for arm, part in parts:
        accuracy = part["test_accuracy"].to_numpy(dtype=float)
        params, flops = int(part["params"].iloc[0]), int(part["flops"].iloc[0])
        out.append(
            ArmSummary(
                arm=arm,
                n=len(part),
                accuracy_mean=float(accuracy.mean()),
                accuracy_sd=float(accuracy.std(ddof=1)) if len(accuracy) > 1 else math.nan,
                params=params,
                flops=flops,
                seconds_per_epoch=float(part["seconds_per_epoch"].mean()),
                differs_from_control=(params, flops) != control_cost,
            )
        )
    return tuple(out)
