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
from mlflow import MlflowClient

from cnnlab.sweep.stores.tracking import Tracker, default_tracking_uri
from tests.conftest import ARTIFACTS, QuickSweep

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ui_without_a_store_says_what_to_do(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cnnlab.ui", "--runs-dir", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "python -m cnnlab.sweep pooling --quick" in done.stderr


def _wait_until_served(port: int, timeout: float = 120) -> None:
    """Until the MLflow server on `port` answers its health check (it takes 5–30 s to start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"the MLflow server on port {port} did not answer in {timeout:.0f} s")


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


def test_ui_serves_the_store_prints_its_runs_table_and_a_sigterm_stops_all_of_it(
    tmp_path: Path,
) -> None:
    tracker = Tracker(default_tracking_uri(tmp_path), artifact_root=tmp_path / "mlartifacts")
    experiment_id = tracker.experiment_id("pooling")
    port = _free_port()
    log = tmp_path / "ui.log"
    with log.open("w") as out:  # a file, not a pipe: the server's own logging never blocks
        process = subprocess.Popen(
            [sys.executable, "-m", "cnnlab.ui", "--runs-dir", str(tmp_path), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    _wait_until_served(port)
    header = log.read_text()
    expected = f"http://127.0.0.1:{port}/#/experiments/{experiment_id}/runs"
    assert expected in header and re.search(r"pooling\s+runs table", header), header
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as reply:
        assert reply.status == 200 and "<html" in reply.read().decode().lower()
    api = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name?experiment_name=pooling"
    with urllib.request.urlopen(api, timeout=10) as reply:
        assert f'"experiment_id": "{experiment_id}"' in reply.read().decode().replace('":"', '": "')

    # Not the terminal's Ctrl-C, which reaches the whole process group: one SIGTERM to the
    # cnnlab process, as a service manager or `kill` sends it. Before, the MLflow server and
    # its 8 job workers kept serving.
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


# --- the UI in a browser, over the session's quick pooling sweep -----------------------------

RUN_NAME = '[col-id="attributes.`Run Name`"]'  # the runs table's name column (an AG Grid)
EXPAND = 'button[data-component-id$="runnamecellrenderer.tsx_46"]'  # a parent run's (+)
CHART_CARD = '[data-testid="experiment-view-compare-runs-card"]'
# What a Plotly chart drew: the data it was given, the vertices of its line, and its markers.
DRAWN = """plot => ({
    x: Array.from(plot.data[0].x), y: Array.from(plot.data[0].y),
    vertices: (plot.querySelector('.scatterlayer .trace path.js-line').getAttribute('d')
               .match(/[ML]/g) || []).length,
    markers: plot.querySelectorAll('.scatterlayer .trace .points path').length,
})"""


@pytest.mark.slow
def test_the_mlflow_ui_in_chromium_shows_the_parent_run_its_trials_their_curves_and_arms(
    quick_sweep: QuickSweep,
    browser,  # type: ignore[no-untyped-def]
) -> None:
    assert quick_sweep.returncode == 0, quick_sweep.err
    client = MlflowClient(tracking_uri=default_tracking_uri(quick_sweep.runs))
    experiment = client.get_experiment_by_name("pooling")
    assert experiment is not None
    trials = [
        r
        for r in client.search_runs([experiment.experiment_id])
        if r.data.tags.get("cnnlab.role") == "trial"
    ]
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cnnlab.ui",
            "--runs-dir",
            str(quick_sweep.runs),
            "--port",
            f"{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    shots = ARTIFACTS / "mlflow-ui"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        assert process.stdout is not None
        header = "".join(process.stdout.readline() for _ in range(3))
        runs_table = re.search(r"runs table: (\S+)", header)
        assert runs_table, header
        _wait_until_served(port)
        page = browser.new_page(viewport={"width": 1600, "height": 1400})

        # The parent run, expanded (+), lists its twelve trial runs.
        page.goto(runs_table.group(1), wait_until="load")
        page.locator(".ag-row").first.wait_for(timeout=90_000)
        names = page.locator(f".ag-row {RUN_NAME} a")
        assert names.all_inner_texts() == ["pooling-quick"]
        page.locator(".ag-row").first.locator(f"{RUN_NAME} {EXPAND}").click()
        page.wait_for_function("document.querySelectorAll('.ag-row').length >= 13")
        shown = names.all_inner_texts()
        assert shown[0] == "pooling-quick"
        assert sorted(shown[1:]) == sorted(r.info.run_name for r in trials)
        assert len(shown) == 13
        page.screenshot(path=shots / "1-parent-run-and-its-trials.png")

        # A trial's per-epoch chart draws every point of the metric's history in MLflow.
        trial = next(r for r in trials if r.info.run_name == "pooling/max/seed=00")
        history = client.get_metric_history(trial.info.run_id, "val_accuracy")
        assert [m.step for m in history] == [1, 2]
        page.goto(f"{runs_table.group(1)}/{trial.info.run_id}/model-metrics", wait_until="load")
        card = page.locator(CHART_CARD).filter(
            has=page.get_by_role("heading", name="val_accuracy", exact=True)
        )
        card.locator(".js-plotly-plot .scatterlayer .trace path.js-line").first.wait_for(
            timeout=60_000
        )
        drawn = card.locator(".js-plotly-plot").evaluate(DRAWN)
        assert drawn["x"] == [m.step for m in history]
        assert drawn["y"] == [m.value for m in history]
        assert drawn["vertices"] == drawn["markers"] == len(history)
        card.scroll_into_view_if_needed()
        page.screenshot(path=shots / "2-a-trials-metric-charts.png")
        card.screenshot(path=shots / "2-its-val-accuracy-by-epoch.png")

        # Grouped by arm: one group per arm, each with its trials (the parent stays apart).
        page.goto(runs_table.group(1), wait_until="load")
        page.locator(".ag-row").first.wait_for(timeout=90_000)
        page.get_by_role("button", name="Group by").click()
        page.get_by_role("menu").get_by_text("cnnlab.arm", exact=True).click()
        page.keyboard.press("Escape")
        labels = page.get_by_text(re.compile(r"^Group: "))
        labels.first.wait_for()
        groups = {}
        for label in labels.all():
            arm, count = label.locator("xpath=..").inner_text().split("\n")
            groups[arm.removeprefix("Group: ")] = int(count)
        expected: dict[str, int] = {}
        for r in trials:
            expected[r.data.tags["cnnlab.arm"]] = expected.get(r.data.tags["cnnlab.arm"], 0) + 1
        assert groups == expected == {"max": 3, "avg": 3, "none": 3, "strided": 3}
        page.screenshot(path=shots / "3-runs-grouped-by-arm.png")
        page.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_a_port_already_in_use_is_refused_before_any_address_is_printed(tmp_path: Path) -> None:
    Tracker(default_tracking_uri(tmp_path), artifact_root=None).experiment_id("pooling")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "cnnlab.ui", "--runs-dir", str(tmp_path), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2, done.stderr
    assert f"--port {port}: 127.0.0.1:{port} is already in use" in done.stderr
    assert "Choose a free port" in done.stderr and "Traceback" not in done.stderr
    assert "http://" not in done.stdout  # no address that would show another store
