"""Claiming the next cell on a study that other sweep processes may share at the same time.

Optuna hands out trials; cnnlab makes each trial *be* one cell of the design by enqueueing the
cell's parameters and reading the cell back from the trial it got. Everything here reads the
study afresh, because another process may have finished, started or claimed cells since.
"""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.trial import TrialState

from cnnlab.errors import CnnlabError
from cnnlab.spec.design import Cell
from cnnlab.sweep.stores.keys import Key, State
from cnnlab.sweep.stores.objective import cell_params
from cnnlab.sweep.stores.studies import claim_trial

_CLAIM_ATTEMPTS = 1000  # each attempt that gives up closes one trial; far beyond any backlog


def next_enumerated_trial(
    study: optuna.Study,
    pending: Sequence[Cell],
    by_key: dict[str, Cell],
    tried: set[str],
) -> tuple[optuna.Trial, Cell] | None:
    """Claim the next cell of `pending` that nobody has finished or is running; None if none.

    The study is read again for every claim, because another sweep process on the same study
    may have finished or started cells since this one looked. The first pending cell that is
    neither finished, running nor already tried here is enqueued (unless a trial left waiting
    by a killed run holds it) and asked for. Optuna hands out the oldest waiting trial first,
    and another process may take ours, so the cell is read back from the trial we got. Two
    processes that claimed one cell at once both see it after claiming; the later trial (the
    higher number) gives way. A trial given up is closed as FAIL, never run, with the reason
    in its `Key.STATE`. `tried` (cells this process has run) keeps a failed cell from being
    retried in the same run.
    """
    for _ in range(_CLAIM_ATTEMPTS):
        trials = study.get_trials(deepcopy=False, states=_OPEN_OR_DONE)
        taken = {_cell_of(t) for t in trials if t.state != TrialState.WAITING}
        cell = next((c for c in pending if c.key not in taken | tried), None)
        if cell is None:
            return None
        if cell.key not in {_cell_of(t) for t in trials if t.state == TrialState.WAITING}:
            study.enqueue_trial(cell_params(cell), user_attrs={Key.CELL: cell.key})
        trial = study.ask()
        claim_trial(trial)
        key = trial.user_attrs.get(Key.CELL)
        reason = _reason_to_give_up(study, trial.number, key, by_key)
        if reason is None and key is not None:
            tried.add(key)
            return trial, by_key[key]
        trial.set_user_attr(Key.STATE, reason)
        study.tell(trial, state=TrialState.FAIL)
    raise CnnlabError(
        f"Study {study.study_name}: {_CLAIM_ATTEMPTS} trials in a row could not be claimed for "
        "a cell of this sweep (each was a duplicate or held no cell). Something other than "
        "cnnlab may be changing the study; check it with `cnnlab studies`, or start afresh "
        "with --new-study."
    )


_OPEN_OR_DONE = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)


def _cell_of(trial: optuna.trial.FrozenTrial) -> str | None:
    key: str | None = trial.user_attrs.get(Key.CELL)
    return key


def _reason_to_give_up(
    study: optuna.Study, number: int, key: str | None, by_key: dict[str, Cell]
) -> State | None:
    """Why the trial just asked for must not run (its state), or None to run it."""
    if key is None:
        # No waiting trial was left: another process took the one we enqueued (and runs it),
        # so Optuna made a fresh trial that belongs to no cell.
        return State.UNUSED
    if key not in by_key:
        return State.OUTSIDE_DESIGN  # left waiting by a run with more seeds or backgrounds
    states = (TrialState.COMPLETE, TrialState.RUNNING)
    for other in study.get_trials(deepcopy=False, states=states):
        if _cell_of(other) != key or other.number == number:
            continue
        if other.state == TrialState.COMPLETE or other.number < number:
            return State.DUPLICATE
    return None
