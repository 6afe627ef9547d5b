"""A shared tracking server with a lock: MLflow's basic-auth app, a real PostgreSQL, a sweep
and a worker, set up as the README says. Credentials come from the environment only (MLflow's
MLFLOW_TRACKING_USERNAME/PASSWORD, libpq's PGPASSWORD), so no password is on a command line;
a missing login (401) and a missing permission (403) are one clear line each, naming the fix.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from optuna.trial import TrialState

from cnnlab.sweep.stores.keys import Key
from tests.end_to_end.servers import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    DB_PASSWORD,
    Postgres,
    running_mlflow_server,
    running_postgres,
)
from tests.end_to_end.test_distributed import _finish, _wait_for_parent_run

pytestmark = [pytest.mark.slow, pytest.mark.integration]

HOST_USER, HOST_PASSWORD = "host2", "host2 pw: 12+ chars"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with running_postgres() as server:
        yield server


def _env(user: str | None, password: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", PGPASSWORD=DB_PASSWORD)
    if user is not None and password is not None:
        env.update(MLFLOW_TRACKING_USERNAME=user, MLFLOW_TRACKING_PASSWORD=password)
    return env


def _cnnlab(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cnnlab", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cnnlab", *args],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )


def _refused(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr.strip().splitlines()[-1]


def test_a_sweep_and_a_worker_share_an_authenticated_tracking_server_and_postgres(
    tmp_path: Path, postgres: Postgres, mnist_dir: Path
) -> None:
    postgres.create_database("auth_sweep")
    storage = postgres.url("auth_sweep", password=False)  # the password comes from PGPASSWORD
    admin, host = _env(ADMIN_USER, ADMIN_PASSWORD), _env(HOST_USER, HOST_PASSWORD)
    with running_mlflow_server(tmp_path / "mlflow", auth=True) as server:
        common = [
            "max_vs_avg", "--quick", "--seeds", "6", "--workers", "1",
            "--data-dir", str(mnist_dir), "--storage", storage, "--tracking-uri", server.url,
        ]  # fmt: skip
        sweep = ["sweep", *common, "--runs-dir", str(tmp_path / "host0")]
        sweep += ["--reports-dir", str(tmp_path / "reports")]

        # No login: refused before any work, in one line that names the variables to set.
        line = _refused(_cnnlab(sweep, _env(None, None)))
        assert "asks for a login (HTTP 401)" in line and "MLFLOW_TRACKING_USERNAME" in line
        assert not (tmp_path / "reports").exists()

        log = tmp_path / "sweep.log"
        coordinator = _start(sweep, log, admin)
        study = _wait_for_parent_run(postgres.url("auth_sweep"), coordinator, log)

        # The host's user, created by the admin with the server's default permission (READ):
        # its worker is refused with the command that grants what it lacks.
        grant = ["grant", "--tracking-uri", server.url, "--experiment", "max_vs_avg"]
        created = _cnnlab(
            [*grant, "--user", HOST_USER, "--permission", "READ", "--create-user"],
            {**admin, "CNNLAB_NEW_USER_PASSWORD": HOST_PASSWORD},
        )
        assert created.returncode == 0, created.stderr
        worker = ["worker", *common, "--runs-dir", str(tmp_path / "host1")]
        line = _refused(_cnnlab(worker, host))
        assert "HTTP 403" in line and f"cnnlab grant --tracking-uri {server.url}" in line

        granted = _cnnlab([*grant, "--user", HOST_USER], admin)
        assert granted.returncode == 0 and "has EDIT" in granted.stdout, granted.stderr
        worker_log = tmp_path / "worker.log"
        joined = _start(worker, worker_log, host)
        outputs = [_finish(coordinator, log), _finish(joined, worker_log)]

    trials = study.get_trials(states=(TrialState.COMPLETE,))
    cells = collections.Counter(t.user_attrs[Key.CELL] for t in trials)
    assert len(cells) == 12 and set(cells.values()) == {1}, cells
    assert not [t for t in study.get_trials() if t.user_attrs.get(Key.STATE) == "DUPLICATE"]
    for secret in (ADMIN_PASSWORD, HOST_PASSWORD, DB_PASSWORD):
        assert not any(secret in text for text in outputs)
