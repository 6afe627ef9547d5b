"""`python -m cnnlab.ui` serves the MLflow UI on 127.0.0.1 and prints the runs-table address."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cnnlab.sweep.tracking import Tracker, default_tracking_uri

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ui_serves_the_store_and_prints_the_runs_table(tmp_path: Path) -> None:
    tracker = Tracker(default_tracking_uri(tmp_path), artifact_root=tmp_path / "mlartifacts")
    experiment_id = tracker.experiment_id("pooling")
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cnnlab.ui", "--runs-dir", str(tmp_path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        header = "".join(process.stdout.readline() for _ in range(3))
        expected = f"http://127.0.0.1:{port}/#/experiments/{experiment_id}/runs"
        assert expected in header and re.search(r"pooling\s+runs table", header)
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
                    status = reply.status
                    page = reply.read().decode()
            except OSError:
                time.sleep(1)
        assert status == 200 and "<html" in page.lower()
        api = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name?experiment_name=pooling"
        with urllib.request.urlopen(api, timeout=10) as reply:
            assert f'"experiment_id": "{experiment_id}"' in reply.read().decode().replace(
                '":"', '": "'
            )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_ui_without_a_store_says_what_to_do(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cnnlab.ui", "--runs-dir", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "python -m cnnlab.sweep pooling --quick" in done.stderr


def _descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_sigterm_to_cnnlab_ui_alone_stops_its_mlflow_server_and_all_its_workers(
    tmp_path: Path,
) -> None:
    # Not the terminal's Ctrl-C, which reaches the whole process group: one SIGTERM to the
    # cnnlab process, as a service manager or `kill` sends it. Before, the MLflow server and
    # its 8 job workers kept serving.
    Tracker(default_tracking_uri(tmp_path), artifact_root=None).experiment_id("pooling")
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cnnlab.ui", "--runs-dir", str(tmp_path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                break
        except OSError:
            time.sleep(1)
    server = _descendants(process.pid)
    assert len(server) >= 2, server  # the server and its workers
    os.kill(process.pid, signal.SIGTERM)
    process.wait(timeout=60)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(pid) for pid in server):
        time.sleep(0.5)
    assert not [pid for pid in server if _alive(pid)]
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing serves the port
