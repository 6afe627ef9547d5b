"""A sweep spread over processes through real servers: PostgreSQL for Optuna, `mlflow server`.

The sweep's own process (the coordinator) and two `cnnlab worker` processes share one study
on a real PostgreSQL cluster and one parent run on a real MLflow tracking server, all on
127.0.0.1 (tests/end_to_end/servers.py). Each process has its own runs folder, as separate
hosts would.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

from cnnlab.sweep.stores.keys import Key
from cnnlab.sweep.stores.studies import open_storage
from tests.end_to_end.servers import (
    DB_PASSWORD,
    MlflowServer,
    Postgres,
    running_mlflow_server,
    running_postgres,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SEEDS = 6  # 12 cells: enough that workers starting ~20 s after the coordinator get some


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    with running_mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as server:
        yield server


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """`python -m cnnlab ARGS`, stdout and stderr into `log`."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, "-m", "cnnlab", *args],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )


def _wait_for_parent_run(
    url: str, coordinator: subprocess.Popen[bytes], log: Path, timeout: float = 180
) -> optuna.Study:
    """The study once the coordinator has opened it and its MLflow parent run."""
    storage = open_storage(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if coordinator.poll() is not None:
            raise AssertionError(f"the sweep's process ended: {log.read_text()[-3000:]}")
        for summary in storage.get_all_studies():
            study = optuna.load_study(study_name=summary.study_name, storage=storage)
            if Key.MLFLOW_PARENT_RUN_ID in study.user_attrs:
                return study
        time.sleep(0.5)
    raise AssertionError(f"no study with a parent run within {timeout} s")


def _finish(process: subprocess.Popen[bytes], log: Path, timeout: float = 900) -> str:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    text = log.read_text(errors="replace")
    assert process.returncode == 0, text[-3000:]
    return text


def _files_text(*folders: Path) -> Iterator[tuple[Path, bytes]]:
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                yield path, path.read_bytes()


def test_a_coordinator_and_two_workers_share_one_sweep_through_postgres_and_mlflow_server(
    tmp_path: Path, postgres: Postgres, mlflow_server: MlflowServer, mnist_dir: Path
) -> None:
    database = postgres.create_database("shared_sweep")
    common = [
        "max_vs_avg", "--quick", "--seeds", str(SEEDS), "--workers", "1",
        "--data-dir", str(mnist_dir), "--storage", database, "--tracking-uri", mlflow_server.url,
    ]  # fmt: skip
    logs = {name: tmp_path / f"{name}.log" for name in ("sweep", "worker1", "worker2")}
    reports = tmp_path / "reports"
    coordinator = _start(
        ["sweep", *common, "--runs-dir", str(tmp_path / "host0"), "--reports-dir", str(reports)],
        logs["sweep"],
    )
    study = _wait_for_parent_run(database, coordinator, logs["sweep"])
    workers = [
        _start(["worker", *common, "--runs-dir", str(tmp_path / f"host{n}")], logs[f"worker{n}"])
        for n in (1, 2)
    ]
    outputs = {
        name: _finish(p, logs[name]) for name, p in zip(logs, [coordinator, *workers], strict=True)
    }

    # Every cell finished exactly once, and each process trained some of them.
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    cells = collections.Counter(t.user_attrs[Key.CELL] for t in trials)
    assert len(cells) == 2 * SEEDS and set(cells.values()) == {1}, cells
    owners = collections.Counter(t.user_attrs[Key.OWNER]["pid"] for t in trials)
    assert set(owners) == {coordinator.pid, *(w.pid for w in workers)}, owners
    for name in ("worker1", "worker2"):
        assert "Worker on" in outputs[name] and "writes results.csv" in outputs[name]

    # One parent run on the tracking server, FINISHED, with every trial nested under it.
    client = MlflowClient(mlflow_server.url)
    parent_id = study.user_attrs[Key.MLFLOW_PARENT_RUN_ID]
    assert client.get_run(parent_id).info.status == "FINISHED"
    children = client.search_runs(
        [client.get_run(parent_id).info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'",
    )
    finished = [r for r in children if r.info.status == "FINISHED"]
    assert sorted(r.data.tags[Key.CELL] for r in finished) == sorted(cells)
    assert {r.info.run_id for r in finished} == {t.user_attrs[Key.MLFLOW_RUN_ID] for t in trials}
    # The artifacts went through the server, not into a host's runs folder.
    assert client.list_artifacts(finished[0].info.run_id)
    assert not any((tmp_path / f"host{n}" / "mlartifacts").exists() for n in (0, 1, 2))

    # Exactly one process wrote the results and the report: the coordinator.
    [results_csv] = (tmp_path / "host0" / "results").glob("*/results.csv")
    assert len(pd.read_csv(results_csv)) == 2 * SEEDS
    assert not list((tmp_path / "host1").glob("results/*/results.csv"))
    assert not list((tmp_path / "host2").glob("results/*/results.csv"))
    assert [p.name for p in reports.iterdir()] == [study.study_name]

    # The password in the storage URL is nowhere: output, runs folders, report, MLflow's
    # database and artifacts, the study's attributes.
    forms = {DB_PASSWORD, quote(DB_PASSWORD, safe=""), quote_plus(DB_PASSWORD), "s3cr"}
    places = [*outputs.values(), str(study.user_attrs)]
    places += [str(t.user_attrs) + str(t.params) for t in study.get_trials()]
    for _, data in _files_text(tmp_path, mlflow_server.folder):
        places.append(data.decode("latin-1"))
    leaks = [form for form in forms for text in places if form in text]
    assert not leaks, leaks
