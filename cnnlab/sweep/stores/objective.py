"""From an Optuna trial to a cell and back: parameters, per-epoch reports and pruning.

Enumerated designs enqueue each cell's parameters (`cell_params`) so that Optuna's trial
*is* the cell; the search design lets the sampler choose factor levels (`suggest_cell`).
Either way the trial reports validation accuracy per epoch (`report_epoch`), and only a
search may prune: claims need every cell. This module computes and returns; it never
writes files or MLflow runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna

from cnnlab.spec.design import Cell, Sweep, make_cell
from cnnlab.training.result import EpochRecord

SEED_PARAM = "seed"
BACKGROUND_PARAM = "background"
_SEED_RANGE = (0, 2**31 - 1)


def cell_params(cell: Cell) -> dict[str, Any]:
    """The Optuna parameters that identify a cell: factor labels, seed (and background)."""
    params: dict[str, Any] = dict(cell.labels)
    params[SEED_PARAM] = cell.seed
    if cell.background is not None:
        params[BACKGROUND_PARAM] = cell.background
    return params


def register_distributions(trial: optuna.Trial, sweep: Sweep) -> dict[str, Any]:
    """Declare every parameter's distribution on the trial; returns the trial's values."""
    factors = (*sweep.factors, *((sweep.conditions,) if sweep.conditions is not None else ()))
    values: dict[str, Any] = {
        f.path: trial.suggest_categorical(f.path, list(f.labels)) for f in factors
    }
    values[SEED_PARAM] = trial.suggest_int(SEED_PARAM, *_SEED_RANGE)
    if sweep.design == "randomized":
        values[BACKGROUND_PARAM] = trial.suggest_int(BACKGROUND_PARAM, 0, 10_000)
    return values


def suggest_cell(trial: optuna.Trial, sweep: Sweep) -> Cell:
    """A search trial's cell: the sampler picks each factor's level; the seed is fixed."""
    labels = {f.path: trial.suggest_categorical(f.path, list(f.labels)) for f in sweep.factors}
    return make_cell(sweep, labels, sweep.seed_values[0], None)


@dataclass(frozen=True)
class Sampling:
    """How Optuna treats a run's trials; the run's cell source (cnnlab.sweep.sources) picks
    one of the two below once, from the design."""

    sampler: optuna.samplers.BaseSampler
    pruner: optuna.pruners.BasePruner | None
    # What a trial's value is: validation accuracy for a search (model selection never sees
    # the test set), test accuracy for designs that test claims.
    objective_metric: str
    # Only a search prunes: a claim needs every replicate of every arm to the last epoch.
    prunes: bool


def enumerated_sampling() -> Sampling:
    """Designs that test claims: cells are enqueued, never sampled (the sampler only fills in
    what an enqueued trial already fixes), and nothing is pruned."""
    return Sampling(optuna.samplers.RandomSampler(seed=0), None, "test_accuracy", prunes=False)


def search_sampling() -> Sampling:
    """A search: TPE picks levels; the median pruner stops poor trials after 3 have reported."""
    return Sampling(
        optuna.samplers.TPESampler(seed=0),
        optuna.pruners.MedianPruner(n_startup_trials=3),
        "val_accuracy",
        prunes=True,
    )


def report_epoch(trial: optuna.Trial, record: EpochRecord, *, prune: bool) -> bool:
    """Report the epoch's validation accuracy; True when the trial should be pruned now."""
    trial.report(record.val_accuracy, step=record.epoch)
    return prune and trial.should_prune()
