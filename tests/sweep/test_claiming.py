"""Claiming cells on a real Optuna study (SQLite) that another process shares: a cell is set
RUNNING from the queue by exactly one process, the queue is filled once, and no claim makes a
trial it throws away. The same on PostgreSQL with 8 processes: `tests/end_to_end/test_claims`."""

from __future__ import annotations

import multiprocessing
import random
import threading
from pathlib import Path

import optuna
import pytest
from filelock import FileLock
from optuna.trial import TrialState

import cnnlab.sweep.stores.claiming
from cnnlab.spec.design import Factor, Sweep, cells
from cnnlab.spec.presets import small
from cnnlab.spec.specs import TrialSpec
from cnnlab.sweep.stores.claiming import (
    Claimer,
    advisory_key,
    enqueue_missing,
    lock_file,
    requeue,
)
from cnnlab.sweep.stores.keys import Key, State
from cnnlab.sweep.stores.objective import cell_params
from cnnlab.sweep.stores.studies import default_storage_url, open_storage

SWEEP = Sweep(
    name="c",
    base=TrialSpec(arch=small),
    factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
    seeds=6,
)
CELLS = cells(SWEEP)  # 12 cells: max/avg × seeds 0-5
BY_KEY = {cell.key: cell for cell in CELLS}

pytestmark = pytest.mark.integration


def _studies(tmp_path: Path) -> tuple[optuna.Study, optuna.Study]:
    """This process's view of a study, and another process's view of the same one."""
    url = default_storage_url(tmp_path)
    optuna.create_study(study_name="c", storage=open_storage(url))
    mine, theirs = (optuna.load_study(study_name="c", storage=open_storage(url)) for _ in "ab")
    return mine, theirs


def _no_ask(study: optuna.Study, monkeypatch: pytest.MonkeyPatch) -> None:
    def ask() -> optuna.Trial:
        raise AssertionError("an enumerated design never asks Optuna for a fresh trial")

    monkeypatch.setattr(study, "ask", ask)


def _by_cell(study: optuna.Study) -> dict[str, list[optuna.trial.FrozenTrial]]:
    found: dict[str, list[optuna.trial.FrozenTrial]] = {}
    for trial in study.get_trials():
        found.setdefault(str(trial.user_attrs.get(Key.CELL)), []).append(trial)
    return found


def test_a_claimed_trial_has_its_owner_before_anything_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Killed right after its claim, a trial without an owner could only be reaped by its age.
    mine, _ = _studies(tmp_path)
    _no_ask(mine, monkeypatch)
    found = Claimer().next_trial(mine, CELLS, BY_KEY, set())
    assert found is not None
    trial, cell = found
    assert trial.user_attrs[Key.CELL] == cell.key and trial.user_attrs[Key.OWNER]["pid"] > 0
    frozen = mine.get_trials()
    assert len(frozen) == len(CELLS)  # the look was queued once, whole
    assert [t.state for t in frozen].count(TrialState.RUNNING) == 1


def test_a_process_alone_claims_the_cells_in_the_designs_order(tmp_path: Path) -> None:
    # Lowest seed first, arm by arm: a run stopped by --max-time leaves whole pairs.
    mine, _ = _studies(tmp_path)
    claimer, tried = Claimer(), set[str]()
    order = []
    while (found := claimer.next_trial(mine, CELLS, BY_KEY, tried)) is not None:
        order.append(found[1].key)
        mine.tell(found[0], 1.0)
    assert order == [c.key for c in CELLS] and not claimer.crowded


def test_the_queue_is_filled_once_however_many_processes_fill_it(tmp_path: Path) -> None:
    mine, theirs = _studies(tmp_path)
    assert enqueue_missing(mine, CELLS[:4], set()) == 4
    assert enqueue_missing(theirs, CELLS, set()) == len(CELLS) - 4  # only what was missing
    assert enqueue_missing(mine, CELLS, set()) == 0
    assert all(len(trials) == 1 for trials in _by_cell(mine).values())
    assert set(_by_cell(mine)) == set(BY_KEY)


def test_a_cell_another_process_claims_between_our_look_and_our_claim_is_not_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Between our read of the queue and our claim, another process claims the very trial we
    # were about to take (on SQLite only a process that ignores the file lock can; on
    # PostgreSQL the row lock decides). The database hands it to one of us: we go on to
    # another cell, and no trial is made or closed for nothing (the old scheme closed one as
    # DUPLICATE).
    mine, theirs = _studies(tmp_path)
    enqueue_missing(mine, CELLS, set())
    storage = mine._storage
    real = storage.set_trial_state_values
    stolen: list[str] = []

    def theirs_first(trial_id: int, state: TrialState, values: object = None) -> bool:
        if not stolen:
            monkeypatch.setattr(storage, "set_trial_state_values", real)
            assert theirs._storage.set_trial_state_values(trial_id, state=TrialState.RUNNING)
            stolen.append(theirs._storage.get_trial(trial_id).user_attrs[Key.CELL])
        return real(trial_id, state=state)

    monkeypatch.setattr(storage, "set_trial_state_values", theirs_first)
    claimer = Claimer(rng=random.Random(0))
    found = claimer.next_trial(mine, CELLS, BY_KEY, set())
    assert found is not None and stolen and found[1].key != stolen[0]
    assert claimer.crowded  # from now on it spreads its claims over the lowest cells
    trials = mine.get_trials()
    assert len(trials) == len(CELLS)
    assert sorted(t.state for t in trials).count(TrialState.RUNNING) == 2
    assert not [t for t in trials if t.state == TrialState.FAIL]


def _claim_all(url: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """One claiming process: claims and completes cells until none is left."""
    study = optuna.load_study(study_name="c", storage=open_storage(url))
    tried: set[str] = set()
    got = []
    try:
        while (found := Claimer().next_trial(study, CELLS, BY_KEY, tried)) is not None:
            got.append(found[1].key)
            study.tell(found[0], 1.0)
    except Exception as error:  # e.g. telling a trial another process finished
        got.append(f"error: {type(error).__name__}: {error}")
    out.put(got)


def test_processes_racing_for_one_queue_each_get_distinct_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Six processes claim everything at once, all going for the lowest waiting row (a window
    # of 1: the most contention). Every cell is claimed exactly once and no trial is wasted.
    # Without the file lock SQLite hands one trial to two processes (measured: the second
    # finds it finished when it writes its owner), as Optuna's own `ask` did.
    monkeypatch.setattr(cnnlab.sweep.stores.claiming, "CLAIM_WINDOW", 1)
    url = default_storage_url(tmp_path)
    optuna.create_study(study_name="c", storage=open_storage(url))
    context = multiprocessing.get_context("fork")  # the children keep the patched window
    out = context.Queue()
    processes = [context.Process(target=_claim_all, args=(url, out)) for _ in range(6)]
    for process in processes:
        process.start()
    claimed = [key for _ in processes for key in out.get(timeout=120)]
    for process in processes:
        process.join(timeout=30)
    assert sorted(claimed) == sorted(BY_KEY)  # each cell once, none missing, no error
    trials = optuna.load_study(study_name="c", storage=open_storage(url)).get_trials()
    assert len(trials) == len(CELLS) and all(t.state == TrialState.COMPLETE for t in trials)


def test_on_sqlite_a_claim_waits_for_the_queue_lock(tmp_path: Path) -> None:
    mine, _ = _studies(tmp_path)
    enqueue_missing(mine, CELLS, set())
    path = lock_file(mine._storage)
    assert path is not None
    claimed: list[str] = []
    with FileLock(path):  # another process is claiming
        worker = threading.Thread(
            target=lambda: claimed.append(str(Claimer().claim_waiting(mine, CELLS, set())))
        )
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive() and not claimed  # it waits for the lock, claims nothing
    worker.join(timeout=30)
    assert len(claimed) == 1


def test_a_cell_that_failed_here_is_not_retried_in_the_same_run(tmp_path: Path) -> None:
    mine, _ = _studies(tmp_path)
    two = CELLS[:2]
    tried: set[str] = set()
    seen = []
    for _ in two:
        found = Claimer().next_trial(mine, two, BY_KEY, tried)
        assert found is not None
        seen.append(found[1].key)
        mine.tell(found[0], state=TrialState.FAIL)  # e.g. a diverging loss
    assert sorted(seen) == sorted(c.key for c in two)
    assert Claimer().next_trial(mine, two, BY_KEY, tried) is None
    # Another process (its own `tried`) queues the failed cells again and may retry them.
    again = Claimer().next_trial(mine, two, BY_KEY, set())
    assert again is not None and again[1].key in seen


def test_a_reaped_cell_is_queued_again_once(tmp_path: Path) -> None:
    mine, theirs = _studies(tmp_path)
    found = Claimer().next_trial(mine, CELLS[:1], BY_KEY, set())
    assert found is not None
    mine._storage.set_trial_state_values(found[0]._trial_id, state=TrialState.FAIL)  # reaped
    frozen = mine.get_trials()[0]
    assert requeue(mine, frozen) is True
    assert requeue(theirs, frozen) is False  # the other process's reaper: already queued
    waiting = [t for t in mine.get_trials() if t.state == TrialState.WAITING]
    assert [t.user_attrs[Key.CELL] for t in waiting] == [CELLS[0].key]
    assert waiting[0].system_attrs["fixed_params"] == cell_params(CELLS[0])
    rerun = Claimer().next_trial(theirs, CELLS[:1], BY_KEY, set())
    assert rerun is not None and rerun[1].key == CELLS[0].key  # a new trial, counted apart


def test_a_search_trial_is_not_queued_again_by_its_reaper(tmp_path: Path) -> None:
    mine, _ = _studies(tmp_path)
    trial = mine.ask()  # a search's sampled trial: no queued parameters
    trial.set_user_attr(Key.CELL, "max/seed=00")
    mine.tell(trial, state=TrialState.FAIL)
    assert requeue(mine, mine.get_trials()[0]) is False


def test_an_older_studys_cell_queued_twice_runs_once(tmp_path: Path) -> None:
    # Earlier versions enqueued per claim and could leave one cell waiting twice; such a
    # study resumes, runs the cell once, and closes the spare as UNUSED.
    mine, _ = _studies(tmp_path)
    for _ in range(2):
        mine.enqueue_trial(cell_params(CELLS[0]), user_attrs={Key.CELL: CELLS[0].key})
    one = CELLS[:1]
    found = Claimer().next_trial(mine, one, BY_KEY, set())
    assert found is not None and found[1].key == CELLS[0].key
    enqueue_missing(mine, one, set())  # the next fill of the queue closes the spare
    states = sorted(t.state.name for t in mine.get_trials())
    assert states == ["FAIL", "RUNNING"]
    spare = next(t for t in mine.get_trials() if t.state == TrialState.FAIL)
    assert spare.user_attrs[Key.STATE] == State.UNUSED
    assert Claimer().next_trial(mine, one, BY_KEY, set()) is None


def test_sqlite_serializes_claims_with_a_file_lock_beside_the_database(tmp_path: Path) -> None:
    mine, _ = _studies(tmp_path)
    assert lock_file(mine._storage) == tmp_path / "optuna.db.queue.lock"
    in_memory = optuna.create_study(storage=open_storage("sqlite://"))
    assert lock_file(in_memory._storage) is None  # one process: a thread lock


def test_the_advisory_lock_key_is_one_per_study_and_a_signed_64_bit_integer() -> None:
    keys = {advisory_key(name) for name in ("pooling", "pooling-v2", "dropout")}
    assert len(keys) == 3 and all(-(2**63) <= k < 2**63 for k in keys)
    assert advisory_key("pooling") == advisory_key("pooling")
