"""Injected faults on a sweep spread over processes and hosts, each bounded in time.

Every fault is triggered by observed progress (an epoch logged to MLflow, a trial finished),
never by a fixed sleep, and touches only loopback, the test's own namespaces or its own
files. The figures (detection time, stall bounds) are printed for the closing notes and
asserted against the bounds the code states.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient
from optuna.trial import FrozenTrial, TrialState

from cnnlab.sweep.stores.keys import Key, State
from tests.end_to_end.servers import (
    fill,
    running_mlflow_server,
    running_postgres,
    second_host,
    small_filesystem,
)
from tests.end_to_end.test_distributed import _wait_for_parent_run

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
    from cnnlab.sweep.stores.studies import open_storage

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
            # (cnnlab.sweep.stores.tracking: ~15 s for a refused connection); later calls fail
            # at once.
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


# The sweep process, with a pause in the middle of a trial's bookkeeping (its result recorded
# in Optuna and MLflow, its artifacts not yet uploaded, Optuna not yet told), announced by a
# marker file: the kill lands there, not by chance.
_PAUSING_SWEEP = """
import sys, time, pathlib
import cnnlab.sweep.stores.tracking as tracking
upload = tracking.Tracker.log_artifacts
def pausing(self, run_id, paths, subdir=None):
    marker = pathlib.Path(sys.argv[1])
    if not marker.exists():
        marker.touch()
        time.sleep(30)
    return upload(self, run_id, paths, subdir)
tracking.Tracker.log_artifacts = pausing
from cnnlab.sweep.__main__ import main
sys.exit(main(sys.argv[2:]))
"""


def _query(path: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Rows of `sql` on a SQLite file as the next sweep would find it, or [] before its schema.

    Read-write on purpose: a sweep killed mid-write leaves a hot journal, which a read-only
    connection cannot roll back (it fails with "attempt to write a readonly database"); a
    read-write one rolls it back first, as the resuming sweep does. Only a missing table (the
    schema is being created) reads as nothing: any other error fails the test.
    """
    import sqlite3

    if not path.exists():
        return []
    # mode=rw: never create the file (a sweep killed before it made one has none)
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=30)) as db:
        try:
            return db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return []
            raise


def _finished(runs: Path) -> collections.Counter[str]:
    """COMPLETE trials per cell, read from the study's SQLite file."""
    rows = _query(
        runs / "optuna.db",
        "SELECT a.value_json FROM trials t JOIN trial_user_attributes a "
        "ON a.trial_id = t.trial_id WHERE t.state = 'COMPLETE' AND a.key = 'cnnlab.cell'",
    )
    return collections.Counter(json.loads(value) for (value,) in rows)


def _epochs_since(runs: Path, since_ms: int, epochs: int) -> int:
    """Mid-trial epochs (not a trial's last) logged since `since_ms` by runs still RUNNING."""
    rows = _query(
        runs / "mlflow.db",
        "SELECT COUNT(*) FROM metrics m JOIN runs r ON r.run_uuid = m.run_uuid "
        "WHERE m.key = 'val_accuracy' AND r.status = 'RUNNING' AND m.step < ? "
        "AND m.timestamp >= ?",
        epochs,
        since_ms,
    )
    return int(rows[0][0]) if rows else 0


def test_five_random_kills_of_the_whole_sweep_lose_nothing_and_resume_to_the_design_size(
    tmp_path: Path, mnist_dir: Path
) -> None:
    epochs, cells = 3, 8
    runs = tmp_path / "runs"
    argv = [
        "max_vs_avg", "--quick", "--seeds", str(cells // 2), "--epochs", str(epochs),
        "--data-dir", str(mnist_dir), "--no-report", "--runs-dir", str(runs),
    ]  # fmt: skip
    rng = random.Random(20261204)
    kinds = ["mid-trial"] * 4 + ["bookkeeping"]
    rng.shuffle(kinds)
    # Half the mid-trial kills wait for a trial to finish first, so that the runs make progress
    # between kills and the count has something to lose.
    mid_trial = [n for n, kind in enumerate(kinds) if kind == "mid-trial"]
    after_a_finish = set(rng.sample(mid_trial, 2))
    counts = [0]
    for number, kind in enumerate(kinds):
        log, marker = tmp_path / f"run{number}.log", tmp_path / f"bookkeeping{number}"
        since_ms = int(time.time() * 1000)
        before = _finished(runs)
        wait_for = rng.choice([1, 2])  # mid-trial epochs to see before the kill
        if kind == "bookkeeping":
            command = [sys.executable, "-c", _PAUSING_SWEEP, str(marker), *argv]
        else:
            command = [sys.executable, "-m", "cnnlab.sweep", *argv]
        sweep = subprocess.Popen(
            command, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )  # fmt: skip
        deadline, finish_seen = time.monotonic() + 300, number not in after_a_finish
        while time.monotonic() < deadline and sweep.poll() is None:
            if kind == "bookkeeping" and marker.exists():
                break
            if not finish_seen and _finished(runs) != before:
                finish_seen, since_ms = True, int(time.time() * 1000)
            seen = finish_seen and kind == "mid-trial"
            if seen and _epochs_since(runs, since_ms, epochs) >= wait_for:
                break
            time.sleep(0.2)
        assert sweep.poll() is None, f"run {number} ended early: {log.read_text()[-2000:]}"
        os.killpg(sweep.pid, signal.SIGKILL)
        sweep.wait(timeout=30)
        after = _finished(runs)
        # Nothing finished is lost, nothing half-recorded counts, no cell finishes twice.
        assert after - before == collections.Counter() or set((after - before).values()) == {1}
        assert all(after[cell] >= before[cell] for cell in before) and set(after.values()) <= {1}
        counts.append(sum(after.values()))
        when = f"{kind}, {'after a trial finished, ' if number in after_a_finish else ''}"
        print(f"kill {number + 1} ({when}{wait_for} epoch(s)): {counts[-1]} finished")

    log = tmp_path / "final.log"
    text = _wait(_start(argv := ["sweep", *argv], log), log)
    final = _finished(runs)
    counts.append(sum(final.values()))
    assert counts == sorted(counts), counts  # the finished count never went down
    assert len(final) == cells and set(final.values()) == {1}
    resumed = "".join((tmp_path / f"run{n}.log").read_text() for n in range(1, len(kinds)))
    assert resumed.count("Reaped trial") + text.count("Reaped trial") >= len(kinds)


SAVE_WEIGHTS_ON_A_FULL_DISK = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
from cnnlab.errors import quiet_h5py_cleanup
if sys.argv[2] == "quiet":
    quiet_h5py_cleanup()  # as every sweep process and worker does
import keras
model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(4096), keras.layers.Dense(10)])
try:
    model.save_weights(sys.argv[1])
except OSError as error:
    print("the save failed with errno", error.errno)
"""


def test_weights_saved_to_a_full_disk_fail_without_h5pys_cleanup_tracebacks(
    tmp_path: Path,
) -> None:
    # Before: a worker saving weights to a full disk printed two h5py tracebacks ("Exception
    # ignored in: 'h5py._objects.ObjectID.__dealloc__'") before the sweep's own message.
    printed = {}
    with small_filesystem(tmp_path / "disk", size="1m") as disk:
        for mode in ("loud", "quiet"):
            target = disk / f"{mode}.weights.h5"
            done = subprocess.run(
                [sys.executable, "-c", SAVE_WEIGHTS_ON_A_FULL_DISK, str(target), mode],
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert "the save failed with errno 28" in done.stdout, done.stderr
            printed[mode] = done.stderr
            target.unlink(missing_ok=True)
    assert "Traceback" in printed["loud"]  # the noise exists without the hooks
    assert "Traceback" not in printed["quiet"] and "Exception ignored" not in printed["quiet"]


def test_a_disk_that_fills_mid_sweep_is_a_clear_error_with_no_half_written_result(
    tmp_path: Path, mnist_dir: Path
) -> None:
    with small_filesystem(tmp_path / "disk") as disk:
        runs = disk / "runs"
        argv = [
            "sweep", "max_vs_avg", "--quick", "--workers", "1", "--data-dir", str(mnist_dir),
            "--no-report", "--runs-dir", str(runs),
        ]  # fmt: skip
        log = tmp_path / "full.log"
        sweep = _start(argv, log)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and sweep.poll() is None:
            if _finished(runs):
                break
            time.sleep(0.1)
        filler = fill(disk)  # after at least one COMPLETE trial
        at_fill = _finished(runs)
        error, seconds = _refused(sweep, log, timeout=300)
        print(f"\ndisk full after {sum(at_fill.values())} trial(s): error {seconds:.1f} s later")
        assert "No space left" in error and "--runs-dir" in error and "resumes" in error
        assert "Traceback" not in log.read_text() and "Exception ignored" not in log.read_text()
        # Only trials told COMPLETE before the disk filled count, each once; a results table,
        # if any was begun, is whole or absent.
        after = _finished(runs)
        assert set(after.values()) == {1} and sum(after.values()) >= sum(at_fill.values())
        for table in runs.glob("results/*/results.csv"):
            assert len(pd.read_csv(table)) == sum(after.values())
        assert not list(runs.glob("results/*/.*.partial"))

        filler.unlink()  # space again: the same command ends the sweep
        # The disk may fill between Optuna's `ask` and the trial's owner being written: that
        # trial is left RUNNING with no owner, and only the study's grace period (10 minutes by
        # default, beyond this test's timeout) proves it dead. A short --dead-after lets the
        # resumed run reap it whichever way that race went (seen in one run in three here).
        resume = [*argv, "--dead-after", "30s"]
        text = _wait(_start(resume, tmp_path / "resumed.log"), tmp_path / "resumed.log")
        final = _finished(runs)
        assert len(final) == 6 and set(final.values()) == {1}
        assert "6 of 6 cells finished" in text


def test_a_tracking_server_that_does_not_answer_at_the_start_is_one_line_within_ten_seconds(
    tmp_path: Path,
) -> None:
    silent = socket.socket()  # accepts connections (the kernel's backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    refused = socket.socket()  # a port with nothing listening
    refused.bind(("127.0.0.1", 0))
    try:
        for port in (refused.getsockname()[1], silent.getsockname()[1]):
            started = time.monotonic()
            result = subprocess.run(
                [sys.executable, "-m", "cnnlab", "sweep", "max_vs_avg", "--quick",
                 "--runs-dir", str(tmp_path / "runs"), "--tracking-uri", f"http://127.0.0.1:{port}"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            seconds = time.monotonic() - started
            print(f"\ntracking server on port {port}: refused after {seconds:.1f} s")
            assert result.returncode == 2 and seconds <= 10, result.stderr
            assert result.stderr.count("\n") == 1 and "--tracking-uri" in result.stderr
            assert not (tmp_path / "runs").exists()  # refused before anything was written
    finally:
        silent.close()
        refused.close()
