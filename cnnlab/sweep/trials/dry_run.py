"""`--dry-run`: build every arm's model and train it on one batch, through the real training
code (the spec's optimizer, precision and initialisation). Writes nothing, opens no store."""

from __future__ import annotations

import sys

import optuna

from cnnlab.data import LoadedDataset
from cnnlab.spec.design import Cell, Sweep
from cnnlab.spec.specs import TrialSpec
from cnnlab.sweep.stores.objective import suggest_cell
from cnnlab.training.train import train_one_batch


def dry_run(sweep: Sweep, design_cells: list[Cell], dataset: LoadedDataset) -> None:
    """One batch per distinct arm (and background draw); a line per arm on stderr."""
    seen: dict[str, TrialSpec] = {}
    for cell in design_cells or [first_search_cell(sweep)]:
        seen.setdefault(cell.arm + (f"/bg={cell.background}" if cell.background else ""), cell.spec)
    for label, spec in seen.items():
        loss, params = train_one_batch(spec, dataset)
        sys.stderr.write(
            f"  ok  {sweep.name}/{label}: {params:,} parameters, "
            f"one batch of {spec.train.batch_size} trained with {spec.train.optimizer} "
            f"(loss {loss:.3f})\n"
        )


def first_search_cell(sweep: Sweep) -> Cell:
    """For a search's dry run: the first level of every factor."""
    trial = optuna.trial.FixedTrial({f.path: f.labels[0] for f in sweep.factors})
    return suggest_cell(trial, sweep)  # type: ignore[arg-type]
