"""Storage opening: several processes meeting a fresh database at once."""

from __future__ import annotations

import datetime
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import FrozenTrial, TrialState

from cnnlab.errors import CnnlabError
from cnnlab.sweep.options import DEAD_AFTER_S, StudyIdentity
from cnnlab.sweep.stores.keys import Key
from cnnlab.sweep.stores.studies import (
    Heartbeat,
    StudyMismatchError,
    default_storage_url,
    join_study,
    open_storage,
    open_study,
    owner_is_gone,
    owner_record,
    reap_dead_trials,
)
from cnnlab.version import __version__

pytestmark = pytest.mark.integration

OPEN_AND_CREATE = """
import sys
from cnnlab.sweep.stores.studies import open_storage
import optuna
storage = open_storage(sys.argv[1])
optuna.create_study(study_name="s" + sys.argv[2], storage=storage)
"""


def test_processes_creating_one_fresh_database_together_all_succeed(tmp_path: Path) -> None:
    # A sweep starting while `cnnlab studies` (or another sweep) opens the same new file:
    # the loser of the schema race must not fail (this failed CI once).
    url = default_storage_url(tmp_path)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AND_CREATE, url, str(i)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    errors = [p.communicate(timeout=120)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * 6, errors
    names = {s.study_name for s in optuna.get_all_study_summaries(open_storage(url))}
    assert names == {f"s{i}" for i in range(6)}


def test_a_trial_that_never_got_an_owner_is_reaped_once_stale(tmp_path: Path) -> None:
    # A sweep killed between Optuna's `ask` and writing the trial's owner leaves a RUNNING
    # trial nobody claims; it must not block its cell forever. With no host to check, only
    # the silence that proves another host's trial dead proves it dead: a slow store can
    # stall a live process between the two for minutes.
    study = optuna.create_study(storage=open_storage(default_storage_url(tmp_path)))
    number = study.ask().number
    trial = study.get_trials()[number]
    assert not owner_is_gone(trial)  # just started: perhaps its owner is about to write
    assert not owner_is_gone(trial, now=time.time() + DEAD_AFTER_S - 60)
    assert owner_is_gone(trial, now=time.time() + DEAD_AFTER_S + 60)


def test_reaping_takes_an_ownerless_trial_started_long_ago(tmp_path: Path) -> None:
    storage = open_storage(default_storage_url(tmp_path))
    study = optuna.create_study(storage=storage)
    long_ago = datetime.datetime.now() - datetime.timedelta(seconds=DEAD_AFTER_S + 60)
    for label, started in (("old", long_ago), ("new", datetime.datetime.now())):
        study.add_trial(
            FrozenTrial(
                number=0,
                trial_id=0,
                state=TrialState.RUNNING,
                value=None,
                datetime_start=started,
                datetime_complete=None,
                params={},
                distributions={},
                user_attrs={"cnnlab.cell": label},
                system_attrs={},
                intermediate_values={},
            )
        )
    assert [r.cell for r in reap_dead_trials(study, storage)] == ["old"]
    states = {t.user_attrs["cnnlab.cell"]: t.state for t in study.get_trials()}
    assert states == {"old": TrialState.FAIL, "new": TrialState.RUNNING}


def test_the_heartbeat_beats_between_epochs_and_stops_before_the_trial_is_told(
    tmp_path: Path,
) -> None:
    # Once per epoch was too rare: a long epoch looked dead to another host.
    url = default_storage_url(tmp_path)
    study = optuna.create_study(study_name="h", storage=open_storage(url))
    trial = study.ask()
    beating = Heartbeat(trial, every=0.05)

    def heartbeat() -> float | None:
        # Read through a second connection, as a process on another host would.
        other = optuna.load_study(study_name="h", storage=open_storage(url))
        value = other.get_trials()[0].user_attrs.get(Key.HEARTBEAT)
        return None if value is None else float(value)

    deadline = time.monotonic() + 30
    while heartbeat() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    first = heartbeat()
    assert first is not None
    while (heartbeat() or 0.0) <= first and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (heartbeat() or 0.0) > first  # it keeps beating with no epoch in between
    beating.stop()
    assert not any(t.name.startswith("cnnlab-heartbeat") for t in threading.enumerate())
    study.tell(trial, 0.5)  # no beat lands on (or fails against) the finished trial
    assert study.get_trials()[0].state == TrialState.COMPLETE


def test_a_changed_definition_is_refused_with_what_changed_and_the_fix_for_each_caller(
    tmp_path: Path,
) -> None:
    storage = open_storage(default_storage_url(tmp_path))
    kept = {"train": {"epochs": 3}}

    def identity(config_hash: str, definition: dict[str, Any]) -> StudyIdentity:
        return StudyIdentity("s", "s", False, config_hash, "c", "fixed", definition)

    def reopen(config_hash: str, definition: dict[str, Any]) -> optuna.Study:
        return open_study(storage, identity(config_hash, definition))

    reopen("aaa", kept)
    changed = {"train": {"epochs": 5}}
    with pytest.raises(StudyMismatchError) as resumed:
        reopen("bbb", changed)
    assert "definition changed since study 's'" in str(resumed.value)
    assert "train.epochs" in str(resumed.value) and "--new-study to start s-v2" in str(
        resumed.value
    )
    with pytest.raises(StudyMismatchError) as joined:
        join_study(storage, identity("bbb", changed), where="db")
    assert "Study 's' in 'db' was started from a different definition" in str(joined.value)
    assert "train.epochs" in str(joined.value) and "same sweep file" in str(joined.value)
    assert join_study(storage, identity("aaa", kept), where="db").study_name == "s"


def test_a_new_study_records_the_verdict_rule_it_was_created_under(tmp_path: Path) -> None:
    # A report of a study without it says its claims were judged after the data were seen.
    from cnnlab.stats.calibration import RULE

    storage = open_storage(default_storage_url(tmp_path))
    identity = StudyIdentity("s", "s", False, "aaa", "c", "fixed", {"train": {"epochs": 3}})
    study = open_study(storage, identity)
    assert study.user_attrs[Key.RULE] == RULE
    study.set_user_attr(Key.RULE, "older")  # reopening keeps what creation recorded
    assert open_study(storage, identity).user_attrs[Key.RULE] == "older"


def test_processes_of_another_cnnlab_version_do_not_share_a_study(tmp_path: Path) -> None:
    # Versions before 0.2.0 claimed cells by `ask()`: mixed with the queue they can run a
    # cell twice. A worker must match the sweep's own process; the sweep's process must match
    # every live process running a trial; a study whose processes have ended resumes.
    storage = open_storage(default_storage_url(tmp_path))
    identity = StudyIdentity("s", "s", False, "aaa", "c", "fixed", {"train": {"epochs": 3}})
    study = open_study(storage, identity)
    assert study.user_attrs[Key.VERSION] == __version__
    assert join_study(storage, identity, where="db").study_name == "s"

    study.set_user_attr(Key.VERSION, "0.1.0")  # the sweep's process runs another version
    with pytest.raises(CnnlabError) as joined:
        join_study(storage, identity, where="db")
    words = str(joined.value)
    assert "cnnlab 0.1.0 (the sweep's own process)" in words and f"cnnlab {__version__}" in words
    assert "same cnnlab version on every host" in words

    # An older process (no version in its owner record), alive: this very process.
    trial = study.ask()
    old_owner = {k: v for k, v in owner_record().items() if k != "version"}
    trial.set_user_attr(Key.OWNER, old_owner)
    with pytest.raises(CnnlabError, match=r"cnnlab 0\.1\.0 or earlier \(host .*trial 0\)"):
        open_study(storage, identity)
    # Once that process has died, its trial is reaped and the study resumes under this version.
    trial.set_user_attr(Key.OWNER, {**old_owner, "pid": 2**22 + 7})  # no such process
    assert open_study(storage, identity).user_attrs[Key.VERSION] == __version__
