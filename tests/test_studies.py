"""Storage opening: several processes meeting a fresh database at once."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from cnnlab.studies import OWNERLESS_GRACE_S, default_storage_url, open_storage, owner_is_gone

pytestmark = pytest.mark.integration

OPEN_AND_CREATE = """
import sys
from cnnlab.studies import open_storage
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


def test_a_trial_that_never_got_an_owner_is_reaped_after_a_grace(tmp_path: Path) -> None:
    # A sweep killed between Optuna's `ask` and writing the trial's owner leaves a RUNNING
    # trial nobody claims; it must not block its cell forever.
    study = optuna.create_study(storage=open_storage(default_storage_url(tmp_path)))
    number = study.ask().number
    trial = study.get_trials()[number]
    assert not owner_is_gone(trial)  # just started: perhaps its owner is about to write
    assert owner_is_gone(trial, now=time.time() + OWNERLESS_GRACE_S + 60)
