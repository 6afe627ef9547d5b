"""Pruning with Optuna's ask/tell, no training: a search's pruner really prunes a poor trial,
and a design that tests claims never prunes, whatever its epochs look like."""

from __future__ import annotations

import optuna
import pytest

from cnnlab.spec.loading import load_sweep, shipped_names
from cnnlab.sweep.sources import cell_source
from cnnlab.sweep.stores.objective import report_epoch
from cnnlab.training.result import EpochRecord
from tests.conftest import epoch_record


def _epoch(epoch: int, val_accuracy: float) -> EpochRecord:
    return epoch_record(epoch, val_accuracy=val_accuracy)


def _study(sweep_name: str) -> tuple[optuna.Study, bool]:
    sampling = cell_source(load_sweep(sweep_name)).sampling
    study = optuna.create_study(
        direction="maximize", sampler=sampling.sampler, pruner=sampling.pruner
    )
    return study, sampling.prunes


def _run_good_trials(study: optuna.Study, prune: bool, count: int) -> None:
    for _ in range(count):
        trial = study.ask()
        for epoch in (1, 2, 3):
            assert not report_epoch(trial, _epoch(epoch, 0.95 + epoch / 100), prune=prune)
        study.tell(trial, 0.98)


def test_the_search_prunes_a_trial_far_below_the_median_after_its_startup_trials() -> None:
    study, prune = _study("search")
    assert prune
    _run_good_trials(study, prune, 3)  # MedianPruner's n_startup_trials
    poor = study.ask()
    assert report_epoch(poor, _epoch(1, 0.10), prune=prune)  # below every earlier epoch 1
    study.tell(poor, state=optuna.trial.TrialState.PRUNED)
    decent = study.ask()
    assert not report_epoch(decent, _epoch(1, 0.99), prune=prune)  # above the median: kept


def test_the_search_does_not_prune_before_its_startup_trials() -> None:
    study, prune = _study("search")
    _run_good_trials(study, prune, 2)
    poor = study.ask()
    assert not report_epoch(poor, _epoch(1, 0.10), prune=prune)


@pytest.mark.parametrize("name", [n for n in shipped_names() if n != "search"])
def test_designs_that_test_claims_never_prune(name: str) -> None:
    study, prune = _study(name)
    assert not prune and study.pruner is not None  # Optuna's NopPruner stands in for None
    _run_good_trials(study, prune, 3)
    poor = study.ask()
    for epoch in (1, 2, 3):  # far below every other trial at every epoch
        assert not report_epoch(poor, _epoch(epoch, 0.01), prune=prune)


def test_a_claim_design_never_prunes_even_under_a_pruner_that_would() -> None:
    # The study's pruner is not what keeps claim designs whole: `Sampling.prunes` is.
    sampling = cell_source(load_sweep("pooling")).sampling
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner(0))
    _run_good_trials(study, False, 1)
    poor = study.ask()
    assert not report_epoch(poor, _epoch(1, 0.01), prune=sampling.prunes)
    assert poor.should_prune()  # the pruner would have pruned it
