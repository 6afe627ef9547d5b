"""`python -m cnnlab.sweep` as a user runs it, on the real MNIST: the quick smoke run, every
shipped sweep's dry run, and interruption by Ctrl-C and by kill -9 followed by a resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

from cnnlab.errors import CnnlabError
from cnnlab.spec.loading import load_sweep, shipped_names
from cnnlab.spec.specs import OwnData
from cnnlab.sweep.options import SweepOptions
from cnnlab.sweep.parallelism import AUTO, resolve
from cnnlab.sweep.runner import run_sweep
from cnnlab.sweep.stores.studies import default_storage_url, open_storage
from tests.conftest import QuickSweep, open_report_in_browser

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SMALL_SWEEP = '''"""Interruption test sweep.
Question: does a sweep survive being stopped?
"""
from cnnlab.spec.design import Factor, Sweep
from cnnlab.spec.presets import small
from cnnlab.spec.specs import DataSpec, TrainSpec, TrialSpec

SWEEP = Sweep(
    name="stopme",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=2, batch_size=64),
                   data=DataSpec(train_subset=2000, validation_size=1000)),
    factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
    seeds=5,  # 10 short trials: the stop must land mid-sweep even on a loaded machine
)
'''


def _sweep_process(args: list[str], mnist_dir: Path, cwd: Path) -> subprocess.Popen[str]:
    """`python -m cnnlab.sweep ARGS`, in one process (`--workers 1`) unless ARGS say otherwise."""
    env = {**os.environ, "CNNLAB_DATA_DIR": str(mnist_dir)}
    workers = [] if "--workers" in args else ["--workers", "1"]
    return subprocess.Popen(
        [sys.executable, "-m", "cnnlab.sweep", *args, *workers],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )


def _trials(runs: Path, name: str) -> list[optuna.trial.FrozenTrial]:
    try:
        # While the sweep creates its store, a reader may see it half-made: try again later.
        storage = open_storage(default_storage_url(runs))
        return optuna.load_study(study_name=name, storage=storage).get_trials()
    except (KeyError, CnnlabError):
        return []


def _mlflow_runs(runs: Path, experiment: str) -> list:  # type: ignore[type-arg]
    client = MlflowClient(tracking_uri=f"sqlite:///{runs / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    return list(client.search_runs([exp.experiment_id], max_results=1000))


def _wait_for_the_first_finished_replicate(process: subprocess.Popen[str]) -> str:
    """Read the sweep's progress (stderr, one line per finished replicate) up to the first.

    Watching the progress instead of polling the store: on a loaded machine a poll can take
    longer than the rest of the sweep, and the stop would come too late.
    """
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if line.startswith("[1/"):
            return "".join(seen)
    raise AssertionError(f"the sweep ended early ({process.wait()}): {''.join(seen)}")


def test_quick_pooling_sweep_end_to_end(quick_sweep: QuickSweep, browser) -> None:  # type: ignore[no-untyped-def]
    # The default --workers auto, as a user runs it: one 1-thread worker process per core.
    out, err = quick_sweep.out, quick_sweep.err
    assert quick_sweep.returncode == 0, err
    assert "4 arms × 3 paired seeds = 12 trials" in err  # the plan, before it starts
    parallel = resolve(AUTO)
    assert parallel.describe() in err
    # progress: every cell finishes once; with two workers the last to finish may be any arm
    assert "[12/12] pooling/" in err and "pooling/strided/seed=02  test" in err
    assert "Study pooling-quick: 12 of 12 cells finished" in out  # the summary
    for arm in ("max", "avg", "none", "strided"):
        assert f"\n{arm} " in out  # a summary row per arm
    assert "#/experiments/" in out and "/runs" in out
    runs = quick_sweep.runs
    assert (runs / "results" / "pooling-quick" / "results.csv").is_file()
    mlflow_runs = _mlflow_runs(runs, "pooling")
    parents = [r for r in mlflow_runs if r.data.tags.get("cnnlab.role") == "parent"]
    children = [r for r in mlflow_runs if r.data.tags.get("cnnlab.role") == "trial"]
    assert len(parents) == 1 and len(children) == 12
    assert all(c.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for c in children)
    client = MlflowClient(tracking_uri=f"sqlite:///{runs / 'mlflow.db'}")
    for child in children:
        assert child.info.status == "FINISHED"
        threads = json.loads(child.data.tags["cnnlab.threads"])  # what the worker ran with
        assert threads["intra_op"] == parallel.threads, threads
        steps = [m.step for m in client.get_metric_history(child.info.run_id, "test_accuracy")]
        assert steps == [1, 2]  # one value per epoch
    # The parent run and the report's provenance say what the trials ran with, not what the
    # sweep process itself (TensorFlow's default threads) would have.
    assert json.loads(parents[0].data.tags["cnnlab.threads"])["intra_op"] == parallel.threads
    provenance = json.loads(
        (quick_sweep.folder / "reports/pooling-quick/provenance.json").read_text()
    )
    assert provenance["threads"]["intra_op"] == parallel.threads
    assert provenance["workers"] == parallel.describe()
    _check_the_quick_report(quick_sweep.folder, out, client, parents[0].info.run_id, browser)


def _check_the_quick_report(tmp_path: Path, out: str, client, parent_id: str, browser) -> None:  # type: ignore[no-untyped-def]
    """The sweep's report: on disk, in MLflow, in a browser, and rebuilt byte for byte."""
    folder = tmp_path / "reports" / "pooling-quick"
    assert "Report:  reports/pooling-quick/index.html" in out
    verdicts = json.loads((folder / "verdicts.json").read_text())
    assert verdicts["smoke_run"] is True and len(verdicts["claims"]) == 3
    parent = client.get_run(parent_id)
    for i, claim in enumerate(verdicts["claims"], start=1):
        assert parent.data.tags[f"cnnlab.verdict.{i}"] == claim["verdict"]
    logged = {a.path for a in client.list_artifacts(parent_id, "report")}
    assert {"report/index.html", "report/verdicts.json", "report/results.csv"} <= logged
    seen = open_report_in_browser(browser, folder / "index.html")
    assert seen["verdict_table_visible"] and seen["verdict_rows"] == 3
    figures = list((folder / "figures").glob("*.png"))
    assert len(figures) >= 5 and len(seen["images"]) == len(figures)
    assert all(complete and width > 0 and height > 0 for complete, width, height in seen["images"])
    assert [u for u in seen["requests"] if not u.startswith(("file:", "data:"))] == []
    before = (folder / "verdicts.json").read_bytes()
    rebuilt = subprocess.run(
        [sys.executable, "-m", "cnnlab.report", "pooling", "--quick"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert (folder / "verdicts.json").read_bytes() == before


def test_every_shipped_sweep_passes_dry_run(mnist, mnist_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ran = []
    for name in shipped_names():
        options = SweepOptions(
            dry_run=True, data_dir=mnist_dir, only_data_dir=True, runs_dir=tmp_path / "runs"
        )
        sweep = load_sweep(name)
        own = sweep.base.data.dataset
        if isinstance(own, OwnData) and not Path(own.path).expanduser().exists():
            # cifar10_pooling: Keras' CIFAR-10 cache is not on this machine (no internet); its
            # loader and a quick run are tested on a synthetic cache (test_own_data.py).
            continue
        # The session's MNIST, verified once, rather than loaded and verified per sweep; a
        # sweep on data of its own (digits_pooling) loads its own.
        assert (
            run_sweep(sweep, options, dataset=None if isinstance(own, OwnData) else mnist) is None
        )
        ran.append(name)
    assert "digits_pooling" in ran and "pooling" in ran
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_a_stopped_sweep_resumes_without_repeating_finished_replicates(
    mnist_dir: Path, tmp_path: Path, stop: signal.Signals
) -> None:
    sweep_file = tmp_path / "stopme.py"
    sweep_file.write_text(SMALL_SWEEP)
    runs = tmp_path / "runs"
    args = [str(sweep_file), "--runs-dir", str(runs)]
    process = _sweep_process(args, mnist_dir, tmp_path)
    before = _wait_for_the_first_finished_replicate(process)
    time.sleep(1.0)  # the second replicate is training now: the stop lands mid-trial
    process.send_signal(stop)
    _, rest = process.communicate(timeout=120)
    err = before + rest
    if stop == signal.SIGINT:
        assert process.returncode == 130, err
        assert "Run the same command to resume" in err
        assert "Traceback" not in err
        assert TrialState.RUNNING not in [t.state for t in _trials(runs, "stopme")]
        assert "RUNNING" not in {r.info.status for r in _mlflow_runs(runs, "stopme")}
    else:
        assert process.returncode == -signal.SIGKILL
    finished = {t.number: t.user_attrs["cnnlab.cell"] for t in _trials(runs, "stopme")
                if t.state == TrialState.COMPLETE}  # fmt: skip
    assert finished

    again = _sweep_process(args, mnist_dir, tmp_path)
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    if stop == signal.SIGKILL:
        assert "Reaped trial" in err
    trials = _trials(runs, "stopme")
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(t.user_attrs["cnnlab.cell"] for t in complete) == sorted(
        f"{arm}/seed={seed:02d}" for arm in ("max", "avg") for seed in range(5)
    )
    for number, cell in finished.items():  # finished replicates kept, not rerun
        assert [t.number for t in complete if t.user_attrs["cnnlab.cell"] == cell] == [number]
    assert TrialState.RUNNING not in [t.state for t in trials]
    statuses = [r.info.status for r in _mlflow_runs(runs, "stopme")]
    assert "RUNNING" not in statuses
    assert statuses.count("FINISHED") == 10 + 1  # ten trials and the parent


def test_a_sigterm_during_the_first_trial_ends_like_ctrl_c(mnist_dir: Path, tmp_path: Path) -> None:
    # As a service manager or `kill` stops a sweep: the sentence, exit status 130 (as the
    # README says), no traceback, nothing left RUNNING.
    sweep_file = tmp_path / "stopme.py"
    sweep_file.write_text(SMALL_SWEEP)
    runs = tmp_path / "runs"
    process = _sweep_process([str(sweep_file), "--runs-dir", str(runs)], mnist_dir, tmp_path)
    assert process.stderr is not None
    seen = []
    for line in process.stderr:  # the plan, then the first trial's progress
        seen.append(line)
        if "stopme/max/seed=00" in line:
            break
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=120)
    err = "".join(seen) + rest
    assert process.returncode == 130, err
    assert "Traceback" not in err and "Run the same command to resume" in err
    assert "cnnlab: interrupted (terminated (SIGTERM))" in err
    assert TrialState.RUNNING not in [t.state for t in _trials(runs, "stopme")]


# Two sweep commands released at the same instant, once both have imported everything: the
# race on a new runs folder is the stores' creation (MLflow's schema, the experiment, the
# study, the parent run), not start-up.
_AT_ONCE = """
import sys, time, pathlib
import cnnlab.sweep.runner  # the heavy imports, before the barrier
from cnnlab.sweep.__main__ import main
ready, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.01)
sys.exit(main(sys.argv[3:]))
"""


def test_two_sweeps_started_at_once_on_a_new_runs_folder_share_it(
    mnist_dir: Path, tmp_path: Path
) -> None:
    sweep_file = tmp_path / "stopme.py"
    sweep_file.write_text(SMALL_SWEEP.replace("seeds=5", "seeds=2"))
    runs, go = tmp_path / "runs", tmp_path / "go"
    argv = [str(sweep_file), "--runs-dir", str(runs), "--workers", "1", "--no-report"]
    env = {**os.environ, "CNNLAB_DATA_DIR": str(mnist_dir)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _AT_ONCE, str(tmp_path / f"ready{i}"), str(go), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=env,
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in processes)
        time.sleep(0.05)
    go.touch()
    errs = [p.communicate(timeout=300)[1] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], errs
    assert not any("Traceback" in err for err in errs), errs
    [study] = optuna.get_all_study_summaries(open_storage(default_storage_url(runs)))
    complete = [t for t in _trials(runs, study.study_name) if t.state == TrialState.COMPLETE]
    assert sorted(t.user_attrs["cnnlab.cell"] for t in complete) == [
        "avg/seed=00", "avg/seed=01", "max/seed=00", "max/seed=01"
    ]  # fmt: skip
    parents = [
        r for r in _mlflow_runs(runs, "stopme") if r.data.tags.get("cnnlab.role") == "parent"
    ]
    assert len(parents) == 1
