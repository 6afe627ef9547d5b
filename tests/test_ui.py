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
