"""TLS to both shared stores, as the README sets it up: an `mlflow server` over HTTPS and a
PostgreSQL that refuses unencrypted connections, each with a certificate from a private CA.

Clients trust that CA through the documented knobs only: MLflow's
`MLFLOW_TRACKING_SERVER_CERT_PATH` and libpq's `sslmode=verify-full&sslrootcert=` in the
storage URL. A sweep runs to its end through both; a client that does not trust the CA, or
reaches the server by a name its certificate does not carry, or tries without TLS, is refused
at the start in one line naming the knob to set, with nothing written.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

from cnnlab.sweep.stores.keys import Key
from cnnlab.sweep.stores.studies import open_storage
from tests.end_to_end.servers import (
    DB_PASSWORD,
    Certificates,
    MlflowServer,
    Postgres,
    make_certificates,
    running_mlflow_server,
    running_postgres,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SEEDS = 2


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def postgres(certificates: Certificates) -> Iterator[Postgres]:
    with running_postgres(tls=certificates) as server:
        yield server


@pytest.fixture(scope="module")
def mlflow_server(
    tmp_path_factory: pytest.TempPathFactory, certificates: Certificates
) -> Iterator[MlflowServer]:
    with running_mlflow_server(tmp_path_factory.mktemp("mlflow"), tls=certificates) as server:
        yield server


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING_", "PG"))}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3", "PGPASSWORD": DB_PASSWORD, **extra}


def _storage(postgres: Postgres, database: str, query: str) -> str:
    return f"{postgres.url(database, password=False)}?{query}"


def _sweep(
    tmp_path: Path, mnist_dir: Path, storage: str, tracking_uri: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cnnlab", "sweep", "max_vs_avg", "--quick",
         "--seeds", str(SEEDS), "--workers", "1", "--data-dir", str(mnist_dir),
         "--storage", storage, "--tracking-uri", tracking_uri,
         "--runs-dir", str(tmp_path / "runs"), "--reports-dir", str(tmp_path / "reports")],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip


def _refused(done: subprocess.CompletedProcess[str], tmp_path: Path) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "runs").exists() and not (tmp_path / "reports").exists()
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_sweep_runs_over_tls_to_postgres_and_the_tracking_server(
    tmp_path: Path,
    postgres: Postgres,
    mlflow_server: MlflowServer,
    certificates: Certificates,
    mnist_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    postgres.create_database("tls_sweep")
    verified = f"sslmode=verify-full&sslrootcert={certificates.ca}"
    storage = _storage(postgres, "tls_sweep", verified)
    trusted = _env(MLFLOW_TRACKING_SERVER_CERT_PATH=str(certificates.ca))
    assert mlflow_server.url.startswith("https://")

    done = _sweep(tmp_path, mnist_dir, storage, mlflow_server.url, trusted)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr

    storage_here = f"{postgres.url('tls_sweep')}?{verified}"  # no PGPASSWORD in this process
    (summary,) = open_storage(storage_here).get_all_studies()
    study = optuna.load_study(study_name=summary.study_name, storage=open_storage(storage_here))
    finished = study.get_trials(states=(TrialState.COMPLETE,))
    cells = collections.Counter(t.user_attrs[Key.CELL] for t in finished)
    assert len(cells) == 2 * SEEDS and set(cells.values()) == {1}, cells

    # The runs and their artifacts reached the server through HTTPS, trusting the CA alone.
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(certificates.ca))
    client = MlflowClient(mlflow_server.url)
    parent = client.get_run(study.user_attrs[Key.MLFLOW_PARENT_RUN_ID])
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert len(children) == 2 * SEEDS
    assert {r.info.status for r in children} == {"FINISHED"}
    assert client.list_artifacts(children[0].info.run_id)


def test_clients_that_do_not_verify_or_do_not_encrypt_are_refused_at_the_start(
    tmp_path: Path,
    postgres: Postgres,
    mlflow_server: MlflowServer,
    certificates: Certificates,
    mnist_dir: Path,
) -> None:
    postgres.create_database("tls_refusals")
    verified = _storage(
        postgres, "tls_refusals", f"sslmode=verify-full&sslrootcert={certificates.ca}"
    )
    trusted = _env(MLFLOW_TRACKING_SERVER_CERT_PATH=str(certificates.ca))
    stranger = make_certificates(tmp_path / "another-ca")

    # The tracking server: the CA not given, another CA given, a name the certificate lacks.
    line = _refused(_sweep(tmp_path, mnist_dir, verified, mlflow_server.url, _env()), tmp_path)
    assert "not signed by a CA this machine trusts" in line, line
    assert "Set MLFLOW_TRACKING_SERVER_CERT_PATH" in line, line
    other = _env(MLFLOW_TRACKING_SERVER_CERT_PATH=str(stranger.ca))
    line = _refused(_sweep(tmp_path, mnist_dir, verified, mlflow_server.url, other), tmp_path)
    assert f"MLFLOW_TRACKING_SERVER_CERT_PATH={stranger.ca}" in line, line
    by_name = mlflow_server.url.replace("127.0.0.1", "localhost")
    line = _refused(_sweep(tmp_path, mnist_dir, verified, by_name, trusted), tmp_path)
    assert "certificate for another name" in line and "localhost" in line, line
    plain = mlflow_server.url.replace("https://", "http://")
    line = _refused(_sweep(tmp_path, mnist_dir, verified, plain, trusted), tmp_path)
    assert f"write '{mlflow_server.url}'" in line, line

    # PostgreSQL: without TLS, against another CA, and by a name the certificate lacks.
    for query, words in (
        ("sslmode=disable", "no encryption"),
        (f"sslmode=verify-full&sslrootcert={stranger.ca}", "sslrootcert"),
        (f"sslmode=verify-full&sslrootcert={tmp_path / 'absent.crt'}", "absent.crt"),
    ):
        storage = _storage(postgres, "tls_refusals", query)
        line = _refused(_sweep(tmp_path, mnist_dir, storage, mlflow_server.url, trusted), tmp_path)
        assert "(--storage)" in line and words in line, (query, line)
        assert DB_PASSWORD not in line
    by_name = verified.replace("@127.0.0.1:", "@localhost:")
    line = _refused(_sweep(tmp_path, mnist_dir, by_name, mlflow_server.url, trusted), tmp_path)
    assert "localhost" in line and "(--storage)" in line, line


def test_tensorflow_in_the_process_does_not_break_a_tls_connection_to_postgres(
    postgres: Postgres, certificates: Certificates
) -> None:
    """A sweep that trains in its own process imports TensorFlow and then connects again (a
    new look, a reconnect). With TensorFlow imported first, libpq aborts the process (SIGABRT,
    `free(): invalid pointer`) on its first TLS connection; the sweep's import order keeps
    libpq's own TLS library."""
    postgres.create_database("tls_after_tensorflow")
    url = (
        f"{postgres.url('tls_after_tensorflow')}?sslmode=verify-full&sslrootcert={certificates.ca}"
    )
    code = (
        "from cnnlab.sweep.launch import import_tensorflow_after_drivers\n"
        "import_tensorflow_after_drivers()\n"
        "import psycopg\n"
        f"with psycopg.connect({url!r}) as connection:\n"
        "    query = 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'\n"
        "    print(connection.execute(query).fetchone()[0])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=300
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert done.stdout.strip() == "True"
