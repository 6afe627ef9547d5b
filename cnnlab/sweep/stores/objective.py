"""From an Optuna trial to a cell and back: parameters, per-epoch reports and pruning.

Enumerated designs enqueue each cell's parameters (`cell_params`) so that Optuna's trial
*is* the cell; the search design lets the sampler choose factor levels (`suggest_cell`).
Either way the trial reports validation accuracy per epoch (`report_epoch`), and only a
search may prune: claims need every cell. This module computes and returns; it never
writes files or MLflow runs.
"""

from __future__ import annotations

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
    values: dict[str, Any] = {
        f.path: trial.suggest_categorical(f.path, list(f.labels)) for f in sweep.factors
    }
    values[SEED_PARAM] = trial.suggest_int(SEED_PARAM, *_SEED_RANGE)
    if sweep.design == "randomized":
        values[BACKGROUND_PARAM] = trial.suggest_int(BACKGROUND_PARAM, 0, 10_000)
    return values


def suggest_cell(trial: optuna.Trial, sweep: Sweep) -> Cell:
    """A search trial's cell: the sampler picks each factor's level; the seed is fixed."""
    labels = {f.path: trial.suggest_categorical(f.path, list(f.labels)) for f in sweep.factors}
    return make_cell(sweep, labels, sweep.seed_values[0], None)


def objective_metric(sweep: Sweep) -> str:
    """What a trial's value is: validation accuracy for a search (model selection never sees
    the test set), test accuracy for designs that test claims."""
    return "val_accuracy" if sweep.design == "search" else "test_accuracy"


def may_prune(sweep: Sweep) -> bool:
    """Only a search prunes: a claim needs every replicate of every arm to the last epoch."""
    return sweep.design == "search"


def sampler_for(sweep: Sweep) -> optuna.samplers.BaseSampler:
    """TPE for a search; for enumerated designs the cells are enqueued, never sampled."""
    if sweep.design == "search":
        return optuna.samplers.TPESampler(seed=0)
    return optuna.samplers.RandomSampler(seed=0)


def pruner_for(sweep: Sweep) -> optuna.pruners.BasePruner | None:
    """A search's median pruner (after 3 trials have reported); none for claim designs."""
    return optuna.pruners.MedianPruner(n_startup_trials=3) if may_prune(sweep) else None


def report_epoch(trial: optuna.Trial, record: EpochRecord, *, prune: bool) -> bool:
    """Report the epoch's validation accuracy; True when the trial should be pruned now."""
    trial.report(record.val_accuracy, step=record.epoch)
    return prune and trial.should_prune()
