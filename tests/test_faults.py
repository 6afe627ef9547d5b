"""Injected faults on a sweep spread over processes and hosts, each bounded in time.

Every fault is triggered by observed progress (an epoch logged to MLflow, a trial finished),
never by a fixed sleep, and touches only loopback, the test's own namespaces or its own
files. The figures (detection time, stall bounds) are printed for the closing notes and
asserted against the bounds the code states.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient
from optuna.trial import FrozenTrial, TrialState

from cnnlab.sweep.keys import Key, State
from tests.servers import running_mlflow_server, running_postgres, second_host
from tests.test_distributed import _wait_for_parent_run

pytestmark = [pytest.mark.slow, pytest.mark.integration]

OUTCOME_COLUMNS = [  # what a cell's training produced: equal to the last bit, or not
    "test_accuracy", "test_loss", "val_accuracy", "val_loss", "train_accuracy", "train_loss",
    "epochs", "split_hash", "data_order_hash", "init_hash", "test_correct",
]  # fmt: skip


def _start(argv: list[str], log: Path, prefix: Callable[[list[str]], list[str]] | None = None):  # type: ignore[no-untyped-def]
    command = [sys.executable, "-m", "cnnlab", *argv]
    return subprocess.Popen(
        prefix(command) if prefix else command,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        start_new_session=True,  # killpg reaches everything it started
    )


def _wait(process: subprocess.Popen[bytes], log: Path, timeout: float = 900) -> str:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    text = log.read_text(errors="replace")
    assert process.returncode == 0, text[-3000:]
    return text


def _poll(find: Callable[[], FrozenTrial | None], timeout: float, what: str) -> FrozenTrial:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found is not None:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not seen within {timeout} s")


def test_a_worker_killed_on_another_host_is_found_by_its_silence_and_its_cell_rerun(
    tmp_path: Path, mnist_dir: Path
) -> None:
    grace = 20  # --dead-after: heartbeats every 2 s
    common = [
        "max_vs_avg", "--quick", "--seeds", "4", "--epochs", "3", "--workers", "1",
        "--data-dir", str(mnist_dir),
    ]  # fmt: skip
    with (
        second_host() as host2,
        running_postgres(host2.server_address) as postgres,
        running_mlflow_server(tmp_path / "mlflow", host2.server_address) as server,
    ):
        stores = ["--storage", postgres.create_database("faults"), "--tracking-uri", server.url]
        logs = {name: tmp_path / f"{name}.log" for name in ("sweep", "worker1", "worker2")}
        coordinator = _start(
            ["sweep", *common, *stores, "--dead-after", f"{grace}s", "--no-report",
             "--runs-dir", str(tmp_path / "host1")],
            logs["sweep"],
        )  # fmt: skip
        study = _wait_for_parent_run(stores[1], coordinator, logs["sweep"])
        worker1 = _start(
            ["worker", *common, *stores, "--runs-dir", str(tmp_path / "host1-worker")],
            logs["worker1"],
        )
        worker2 = _start(
            ["worker", *common, *stores, "--runs-dir", str(tmp_path / "host2")],
            logs["worker2"],
            prefix=host2.command,
        )
        client = MlflowClient(server.url)

        def host2_trial_past_an_epoch() -> FrozenTrial | None:
            for trial in study.get_trials(states=(TrialState.RUNNING,)):
                owner = trial.user_attrs.get(Key.OWNER) or {}
                run_id = trial.user_attrs.get(Key.MLFLOW_RUN_ID)
                on_host2 = owner.get("host") == host2.hostname and run_id
                if on_host2 and client.get_metric_history(run_id, "val_accuracy"):
                    return trial
            return None

        victim = _poll(host2_trial_past_an_epoch, 600, "a trial of host2 past its first epoch")
        os.killpg(worker2.pid, signal.SIGKILL)
        killed_at = time.time()
        worker2.wait(timeout=30)
        outputs = {"sweep": _wait(coordinator, logs["sweep"])}
        outputs["worker1"] = _wait(worker1, logs["worker1"])

        trials = study.get_trials()
        by_cell = collections.defaultdict(list)
        for trial in trials:
            if trial.user_attrs.get(Key.CELL) and trial.state != TrialState.WAITING:
                by_cell[trial.user_attrs[Key.CELL]].append(trial)
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        assert len(complete) == 8 and len({t.user_attrs[Key.CELL] for t in complete}) == 8
        killed = [t for t in trials if t.number == victim.number]
        assert killed[0].state == TrialState.FAIL
        assert killed[0].user_attrs[Key.STATE] == State.REAPED
        cell = victim.user_attrs[Key.CELL]
        assert [t.state for t in by_cell[cell]] == [TrialState.FAIL, TrialState.COMPLETE]
        run = client.get_run(victim.user_attrs[Key.MLFLOW_RUN_ID])
        assert run.info.status == "KILLED" and run.data.tags[Key.STATE] == State.REAPED
        detected = killed[0].datetime_complete.timestamp() - killed_at
        print(
            f"\nworker killed on {host2.hostname}: reaped {detected:.1f} s later (grace {grace} s)"
        )
        # Not before the grace (another host's pid proves nothing), and at most a heartbeat,
        # a poll and a trial another process was finishing after it.
        assert grace - 2.5 <= detected <= grace + 60, detected
        assert f"Reaped trial {victim.number}" in outputs["sweep"] + outputs["worker1"]

    # The same cells trained without faults, in one process at the same threads: the same
    # outcomes to the last bit, the rerun cell included.
    reference = tmp_path / "reference.log"
    _wait(
        _start(["sweep", *common, "--no-report", "--runs-dir", str(tmp_path / "ref")], reference),
        reference,
    )
    [faulted_csv] = (tmp_path / "host1" / "results").glob("*/results.csv")
    [reference_csv] = (tmp_path / "ref" / "results").glob("*/results.csv")
    faulted, expected = (
        pd.read_csv(path).set_index("cell").sort_index()[OUTCOME_COLUMNS]
        for path in (faulted_csv, reference_csv)
    )
    pd.testing.assert_frame_equal(faulted, expected, check_exact=True)


def _epoch_logged(  # type: ignore[no-untyped-def]
    client: MlflowClient, study_of: Callable[[], optuna.Study | None], after: int = -1
):
    """A finder for a RUNNING trial numbered above `after` whose MLflow run has logged an
    epoch (mid-trial)."""

    def find() -> FrozenTrial | None:
        study = study_of()
        if study is None:
            return None
        for trial in study.get_trials(states=(TrialState.RUNNING,)):
            if trial.number <= after:
                continue  # left RUNNING by an earlier run
            run_id = trial.user_attrs.get(Key.MLFLOW_RUN_ID)
            if run_id and client.get_metric_history(run_id, "val_accuracy"):
                return trial
        return None

    return find


def _study_in(url: str) -> Callable[[], optuna.Study | None]:
    from cnnlab.sweep.studies import open_storage

    storage = open_storage(url)

    def study() -> optuna.Study | None:
        summaries = storage.get_all_studies()
        if not summaries:
            return None
        return optuna.load_study(study_name=summaries[0].study_name, storage=storage)

    return study


def _refused(process: subprocess.Popen[bytes], log: Path, timeout: float) -> tuple[str, float]:
    """The error a run ended with, and how long after now it ended."""
    start = time.monotonic()
    process.wait(timeout=timeout)
    text = log.read_text(errors="replace")
    assert process.returncode == 2, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    [error] = [line for line in text.splitlines() if line.startswith("cnnlab: error:")]
    return error, time.monotonic() - start


def test_a_database_or_tracking_server_lost_mid_sweep_is_a_clear_error_and_the_sweep_resumes(
    tmp_path: Path, mnist_dir: Path
) -> None:
    common = [
        "max_vs_avg", "--quick", "--seeds", "2", "--epochs", "3", "--workers", "1",
        "--data-dir", str(mnist_dir), "--no-report", "--runs-dir", str(tmp_path / "runs"),
    ]  # fmt: skip
    with running_postgres() as postgres:
        url = postgres.create_database("lost")
        with running_mlflow_server(tmp_path / "mlflow") as server:
            stores = ["--storage", url, "--tracking-uri", server.url]
            client = MlflowClient(server.url)

            # PostgreSQL stopped after an observed epoch: the sweep ends with a clear error.
            log = tmp_path / "database.log"
            sweep = _start(["sweep", *common, *stores], log)
            _poll(_epoch_logged(client, _study_in(url)), 300, "an epoch of a running trial")
            postgres.stop()
            error, seconds = _refused(sweep, log, timeout=120)
            print(f"\nPostgreSQL stopped mid-trial: error {seconds:.1f} s later: {error}")
            assert "--storage" in error and "resumes" in error and "s3cr" not in error
            assert seconds <= 60  # the epoch in progress, then one connection refused

            # The MLflow server killed after an observed epoch of the next run.
            postgres.start()
            study_now = _study_in(url)
            last = max(t.number for t in study_now().get_trials())  # type: ignore[union-attr]
            log = tmp_path / "tracking.log"
            sweep = _start(["sweep", *common, *stores], log)
            _poll(_epoch_logged(client, study_now, after=last), 300, "an epoch of this run")
            os.killpg(server.process.pid, signal.SIGKILL)
            error, seconds = _refused(sweep, log, timeout=300)
            print(f"MLflow server killed mid-trial: error {seconds:.1f} s later: {error}")
            assert "--tracking-uri" in error and "resumes" in error
            # Bounded by the epoch in progress and one call's retries as cnnlab sets them
            # (cnnlab.sweep.tracking: ~15 s for a refused connection); later calls fail at once.
            assert seconds <= 40

        # Both back (the same database and MLflow store): the same command ends the sweep.
        with running_mlflow_server(tmp_path / "mlflow", port=server.port):
            log = tmp_path / "resumed.log"
            text = _wait(_start(["sweep", *common, *stores], log), log)
        study = _study_in(url)()
        assert study is not None
        complete = [
            t.user_attrs[Key.CELL] for t in study.get_trials() if t.state == TrialState.COMPLETE
        ]
        assert sorted(complete) == sorted(set(complete)) and len(complete) == 4
        assert not study.get_trials(states=(TrialState.RUNNING,))
        logs = (tmp_path / name for name in ("tracking.log", "resumed.log"))
        assert "Reaped trial" in "".join(path.read_text() for path in logs) + text
