"""Running sweeps in-process on tiny synthetic data, with a real Optuna study and MLflow store."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

import cnnlab.sweep.runner
import cnnlab.sweep.stores.opening
import cnnlab.sweep.stores.studies
import cnnlab.sweep.stores.tracking
import cnnlab.sweep.trials.execution
import cnnlab.sweep.trials.workers
from cnnlab.data import synthetic_dataset
from cnnlab.spec.design import Claim, Factor, Sweep
from cnnlab.spec.presets import small
from cnnlab.spec.sequential import SequentialPlan
from cnnlab.spec.specs import DataSpec, TrainSpec, TrialSpec
from cnnlab.sweep.options import SweepOptions
from cnnlab.sweep.runner import run_sweep
from cnnlab.sweep.sources import EnumeratedCells
from cnnlab.sweep.stores.keys import Key
from cnnlab.sweep.stores.results import trials_table
from cnnlab.sweep.stores.studies import (
    StudyMismatchError,
    default_storage_url,
    open_storage,
    owner_record,
    reap_dead_trials,
)
from cnnlab.sweep.stores.tracking import default_tracking_uri
from cnnlab.sweep.trials.execution import WorkersDied
from cnnlab.version import __version__

pytestmark = pytest.mark.integration

DATA = synthetic_dataset(n_train=500, n_test=200, seed=3)
BASE = TrialSpec(
    arch=small,
    train=TrainSpec(epochs=2, batch_size=64),
    data=DataSpec(dataset="mnist", validation_size=100),
)
SWEEP = Sweep(
    name="t",
    base=BASE,
    factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
    seeds=2,
    description="test sweep",
)


def _run(runs: Path, sweep: Sweep = SWEEP, **options: object):  # type: ignore[no-untyped-def]
    """Run in this process (`workers=1`) unless a test asks for workers."""
    chosen = {"workers": 1, **options}
    return run_sweep(sweep, SweepOptions(runs_dir=runs, **chosen), dataset=DATA)  # type: ignore[arg-type]


def _study(runs: Path, name: str = "t") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(default_storage_url(runs)))


def _claimed(runs: Path, name: str = "t") -> list[optuna.trial.FrozenTrial]:
    """The trials some process claimed: a run queues its whole look, and what it did not get
    to stays WAITING for the next run."""
    return [t for t in _study(runs, name).get_trials() if t.state != TrialState.WAITING]


def _client(runs: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=default_tracking_uri(runs))


def _runs(runs: Path, experiment: str = "t") -> list:  # type: ignore[type-arg]
    client = _client(runs)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    return list(client.search_runs([experiment_id], max_results=1000))


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    outcome = _run(runs)
    assert outcome is not None and outcome.finished == 4 and not outcome.failed
    return runs


def test_one_complete_trial_per_cell(finished: Path) -> None:
    trials = _study(finished).get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    cells = sorted(t.user_attrs["cnnlab.cell"] for t in trials)
    assert cells == ["avg/seed=00", "avg/seed=01", "max/seed=00", "max/seed=01"]
    assert {t.params["arch.pooling"] for t in trials} == {"max", "avg"}
    assert {t.params["seed"] for t in trials} == {0, 1}


def test_mlflow_has_one_parent_with_a_nested_child_per_trial(finished: Path) -> None:
    runs = _runs(finished)
    parents = [r for r in runs if r.data.tags.get("cnnlab.role") == "parent"]
    children = [r for r in runs if r.data.tags.get("cnnlab.role") == "trial"]
    assert len(parents) == 1 and len(children) == 4
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.info.run_name == "t"
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert sorted(c.info.run_name for c in children) == [
        "t/avg/seed=00", "t/avg/seed=01", "t/max/seed=00", "t/max/seed=01",
    ]  # fmt: skip
    client = _client(finished)
    for child in children:
        assert child.info.status == "FINISHED"
        params, tags = child.data.params, child.data.tags
        assert params["arch.pooling"] == tags["cnnlab.arm"]
        assert params["train.epochs"] == "2" and params["arch.blocks.0.filters"] == "32"
        assert params["data.validation_size"] == "100" and params["seed"] == tags["cnnlab.seed"]
        for key in (
            "cnnlab.git_commit",
            "cnnlab.versions",
            "cnnlab.threads",
            "cnnlab.trial_number",
        ):
            assert tags[key], key
        assert tags["cnnlab.state"] == "COMPLETE"
        assert tags["cnnlab.host"] == socket.gethostname()  # which machine ran it
        history = client.get_metric_history(child.info.run_id, "val_accuracy")
        assert sorted(m.step for m in history) == [1, 2]
        assert child.data.metrics["params"] == 113_386
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"model_summary.txt", "learning_curve.png", "weights"} <= artifacts
        weights = {a.path for a in client.list_artifacts(child.info.run_id, "weights")}
        assert weights == {"weights/final.weights.h5"}


def test_pairing_is_physical(finished: Path) -> None:
    results, epochs = trials_table(_study(finished))
    assert len(results) == 4 and len(epochs) == 8
    for column in ("split_hash", "data_order_hash", "init_hash"):
        per_seed = results.groupby("seed")[column].nunique()
        assert list(per_seed) == [1, 1], column  # equal across arms within a seed
        assert results[column].nunique() == 2, column  # different across seeds


def test_rerun_skips_finished_and_more_seeds_run_only_the_new_ones(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(finished, runs)
    _run(runs)
    assert len(_study(runs).get_trials()) == 4
    _run(runs, seeds=3)
    trials = _study(runs).get_trials()
    assert len(trials) == 6 and all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.user_attrs["cnnlab.cell"] for t in trials}) == 6
    # Back to 2 seeds: the summary counts the design's 4 replicates, not the study's 6.
    capsys.readouterr()
    outcome = _run(runs)
    assert outcome is not None and (outcome.finished, outcome.total) == (4, 4)
    assert "4 of 4 cells finished" in capsys.readouterr().out


def test_a_changed_definition_is_refused_until_new_study(finished: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(finished, runs)
    with pytest.raises(StudyMismatchError, match="--new-study"):
        _run(runs, epochs=1)
    outcome = _run(runs, epochs=1, new_study=True)
    assert outcome is not None and outcome.study_name == "t-v2"
    assert len(_study(runs, "t-v2").get_trials()) == 4


def test_a_diverging_trial_fails_and_is_not_finished(tmp_path: Path) -> None:
    sweep = dataclasses.replace(
        SWEEP,
        factors=(Factor(path="train.learning_rate", levels=(1e-3, 1e4), labels=("ok", "huge")),),
        seeds=1,
    )
    outcome = _run(tmp_path, sweep)
    assert outcome is not None and outcome.failed == ["t/huge/seed=00"]
    states = {t.user_attrs["cnnlab.cell"]: t.state for t in _study(tmp_path).get_trials()}
    assert states == {"ok/seed=00": TrialState.COMPLETE, "huge/seed=00": TrialState.FAIL}
    by_name = {r.info.run_name: r for r in _runs(tmp_path)}
    assert by_name["t/huge/seed=00"].info.status == "FAILED"
    assert by_name["t/huge/seed=00"].data.tags["cnnlab.reason"] == "nan_loss"
    assert by_name["t"].info.status == "KILLED"  # the parent of an incomplete study


def test_a_cell_another_process_finished_meanwhile_is_not_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two sweeps on one study: what the other finished after we looked must not run twice.
    real = EnumeratedCells.remaining
    looked: list[int] = []

    def then_another_process_finishes_one(self, study, design_cells):  # type: ignore[no-untyped-def]
        remaining = real(self, study, design_cells)
        looked.append(remaining.count)
        if len(looked) > 1:  # the sweep looks again once its cells are run: once is enough
            return remaining
        taken = optuna.trial.create_trial(
            value=0.9,
            distributions={},
            params={},
            user_attrs={"cnnlab.cell": "avg/seed=01"},
        )
        study.add_trial(taken)
        return remaining

    monkeypatch.setattr(EnumeratedCells, "remaining", then_another_process_finishes_one)
    _run(tmp_path)
    keys = [t.user_attrs.get("cnnlab.cell") for t in _study(tmp_path).get_trials()]
    assert sorted(keys) == ["avg/seed=00", "avg/seed=01", "max/seed=00", "max/seed=01"]


def test_an_unexpected_error_fails_the_trial_and_stops_the_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise MemoryError("no room for the activations")

    monkeypatch.setattr(cnnlab.sweep.trials.execution, "train_cell", broken)
    with pytest.raises(MemoryError):
        _run(tmp_path)
    # The claimed trial failed (not left RUNNING); the rest of the queued look waits for the
    # next run.
    (failed,) = _claimed(tmp_path)
    assert failed.state == TrialState.FAIL
    assert failed.user_attrs["cnnlab.failure"]["message"].startswith("MemoryError: no room")
    statuses = {r.info.run_name: r.info.status for r in _runs(tmp_path)}
    assert statuses[f"t/{failed.user_attrs['cnnlab.cell']}"] == "FAILED"
    assert statuses["t"] == "FAILED"


def test_an_interrupt_while_ending_the_run_never_leaves_complete_beside_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C lands as the finished trial's MLflow run is ended. Before: Optuna was told
    # COMPLETE first, and the run stayed RUNNING.
    real_end = cnnlab.sweep.stores.tracking.Tracker.end
    calls = {"n": 0}

    def end_interrupted_once(self, run_id, status):  # type: ignore[no-untyped-def]
        if status == "FINISHED" and calls["n"] == 0:
            calls["n"] += 1
            raise KeyboardInterrupt
        real_end(self, run_id, status)

    monkeypatch.setattr(cnnlab.sweep.stores.tracking.Tracker, "end", end_interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, dataclasses.replace(SWEEP, seeds=1))
    [trial] = _claimed(tmp_path)
    assert trial.state == TrialState.FAIL and trial.user_attrs["cnnlab.state"] == "INTERRUPTED"
    child = next(r for r in _runs(tmp_path) if r.data.tags.get("cnnlab.role") == "trial")
    assert child.info.status == "KILLED" and child.data.tags["cnnlab.state"] == "INTERRUPTED"


def test_a_ctrl_c_swallowed_by_a_garbage_collector_callback_still_stops_the_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python drops an exception raised in a weakref callback ("Exception ignored in ..."):
    # a Ctrl-C arriving there was lost and the sweep ran to the end.
    real = cnnlab.sweep.trials.execution.train_cell

    def interrupted_in_a_callback(*args, **kwargs):  # type: ignore[no-untyped-def]
        with contextlib.suppress(KeyboardInterrupt):  # what the garbage collector does
            signal.raise_signal(signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(cnnlab.sweep.trials.execution, "train_cell", interrupted_in_a_callback)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path)
    [trial] = _claimed(tmp_path)
    assert trial.state == TrialState.FAIL and trial.user_attrs["cnnlab.state"] == "INTERRUPTED"
    statuses = {r.info.run_name: r.info.status for r in _runs(tmp_path)}
    assert statuses == {"t": "KILLED", "t/max/seed=00": "KILLED"}


def test_the_heartbeat_goes_on_while_a_trial_trains_and_stops_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One beat per epoch let a long epoch look dead to another host.
    monkeypatch.setattr(cnnlab.sweep.stores.studies, "HEARTBEAT_EVERY_S", 0.05)
    real = cnnlab.sweep.trials.execution.train_cell
    beats: list[float] = []

    def slow_first_epoch(*args, **kwargs):  # type: ignore[no-untyped-def]
        for _ in range(2):
            time.sleep(0.5)  # no epoch has ended yet
            [running] = _study(tmp_path).get_trials(states=(TrialState.RUNNING,))
            beats.append(running.user_attrs["cnnlab.heartbeat"])
        return real(*args, **kwargs)

    monkeypatch.setattr(cnnlab.sweep.trials.execution, "train_cell", slow_first_epoch)
    outcome = _run(tmp_path, dataclasses.replace(SWEEP, seeds=1))
    assert outcome is not None and outcome.finished == 2
    assert beats[1] > beats[0] and beats[3] > beats[2]
    assert not [t for t in threading.enumerate() if t.name.startswith("cnnlab-heartbeat")]


def test_when_every_worker_is_killed_the_sweep_stops_and_says_how_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_submit = cnnlab.sweep.trials.workers.WorkerPool.submit

    def submit_then_kill_every_worker(self, job_id, cell):  # type: ignore[no-untyped-def]
        real_submit(self, job_id, cell)
        for process in self.processes:
            process.kill()

    monkeypatch.setattr(
        cnnlab.sweep.trials.workers.WorkerPool, "submit", submit_then_kill_every_worker
    )
    with pytest.raises(WorkersDied, match=r"All 2 worker processes died.*same command"):
        _run(tmp_path, workers=2)
    trials = _claimed(tmp_path)
    assert trials and {t.state for t in trials} == {TrialState.FAIL}
    statuses = {r.info.run_name: r.info.status for r in _runs(tmp_path)}
    assert statuses.pop("t") == "FAILED" and set(statuses.values()) == {"KILLED"}


def _interrupt_the_third_cell(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Ctrl-C while the third cell trains; returns the real `train_cell`, to put back."""
    real = cnnlab.sweep.trials.execution.train_cell
    calls = {"n": 0}

    def interrupted_third(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(cnnlab.sweep.trials.execution, "train_cell", interrupted_third)
    return real


def test_interrupt_marks_the_running_trial_and_resume_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = _interrupt_the_third_cell(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path)
    trials = _claimed(tmp_path)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2 + [TrialState.FAIL]
    statuses = {r.info.run_name: r.info.status for r in _runs(tmp_path)}
    assert "RUNNING" not in statuses.values()
    assert statuses["t/max/seed=01"] == "KILLED" and statuses["t"] == "KILLED"
    finished_before = {t.number for t in trials if t.state == TrialState.COMPLETE}

    monkeypatch.setattr(cnnlab.sweep.trials.execution, "train_cell", real)
    outcome = _run(tmp_path)
    assert outcome is not None and not outcome.missing
    trials = _study(tmp_path).get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 4 and len({t.user_attrs["cnnlab.cell"] for t in complete}) == 4
    assert finished_before <= {t.number for t in complete}  # finished ones were not repeated
    assert {r.info.run_name: r.info.status for r in _runs(tmp_path)}["t"] == "FINISHED"


def test_a_run_left_running_while_the_tracking_server_was_away_is_ended_on_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = _interrupt_the_third_cell(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path)
    [failed] = _study(tmp_path).get_trials(states=(TrialState.FAIL,))
    run_id = failed.user_attrs["cnnlab.mlflow_run_id"]
    # As if the tracking server had been away when the trial failed: its run still RUNNING.
    _client(tmp_path).update_run(run_id, status="RUNNING")
    monkeypatch.setattr(cnnlab.sweep.trials.execution, "train_cell", real)
    capsys.readouterr()
    _run(tmp_path)
    assert "Ended 1 MLflow run(s) left RUNNING" in capsys.readouterr().err
    run = _client(tmp_path).get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags["cnnlab.state"] != "RUNNING"
    assert "RUNNING" not in {r.info.status for r in _runs(tmp_path)}


def test_reaping_takes_dead_owners_only(tmp_path: Path) -> None:
    storage = open_storage(default_storage_url(tmp_path))
    study = optuna.create_study(study_name="r", storage=storage)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    owners = {"dead": {**owner_record(), "pid": int(dead.stdout)}, "live": owner_record()}
    for label, owner in owners.items():
        trial = study.ask()
        trial.set_user_attr(Key.OWNER, owner)
        trial.set_user_attr("cnnlab.cell", label)
    reaped = reap_dead_trials(study, storage)
    assert [r.cell for r in reaped] == ["dead"]
    states = {t.user_attrs["cnnlab.cell"]: t.state for t in study.get_trials()}
    assert states == {"dead": TrialState.FAIL, "live": TrialState.RUNNING}


def test_search_design_samples_and_reports_validation_accuracy(tmp_path: Path) -> None:
    sweep = Sweep(
        name="s",
        design="search",
        base=BASE,
        factors=(
            Factor(path="arch.pooling", levels=("max", "avg")),
            Factor(path="arch.dropout", levels=(0.0, 0.5), labels=("d0", "d50")),
        ),
        seeds=1,
        n_trials=3,
        description="search test",
    )
    outcome = _run(tmp_path, sweep)
    assert outcome is not None and outcome.total == 3
    trials = _study(tmp_path, "s").get_trials()
    assert len(trials) == 3
    for trial in trials:
        assert trial.state in (TrialState.COMPLETE, TrialState.PRUNED)
        assert set(trial.params) >= {"arch.pooling", "arch.dropout"}
        assert sorted(trial.intermediate_values) == [1, 2]
        if trial.state == TrialState.COMPLETE:
            result = trial.user_attrs["cnnlab.result"]
            assert trial.value == result["history"][-1]["val_accuracy"]


def _count_calls(monkeypatch: pytest.MonkeyPatch, module: str, name: str) -> list[int]:
    """Count calls of `module.name` wherever cnnlab imported it by name."""
    original = getattr(sys.modules[module], name)
    calls: list[int] = []

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(*args, **kwargs)

    for loaded in list(sys.modules.values()):
        if getattr(loaded, "__name__", "").startswith("cnnlab") and (
            getattr(loaded, name, None) is original
        ):
            monkeypatch.setattr(loaded, name, counted)
    return calls


def test_the_end_builds_the_results_table_once_and_judges_the_claims_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import cnnlab.report.build
    import cnnlab.stats.claims  # noqa: F401

    sweep = dataclasses.replace(
        SWEEP, claims=(Claim(statement="max beats avg", better="max", worse="avg"),)
    )
    tables = _count_calls(monkeypatch, "cnnlab.sweep.stores.results", "trials_table")
    judged = _count_calls(monkeypatch, "cnnlab.stats.claims", "judge")
    outcome = _run(tmp_path, sweep, reports_dir=tmp_path / "reports")
    assert outcome is not None and outcome.finished == 4
    # A fixed design judges nothing while it trains: every call is the end's.
    assert (len(tables), len(judged)) == (1, 1)
    printed = capsys.readouterr().out
    assert "max beats avg" in printed and (tmp_path / "reports" / "t" / "index.html").is_file()


def test_max_time_keeps_finished_cells_and_reports_the_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A budget of one second, and cells that take longer: the first starts at once (after
    # the study is read, in milliseconds; a 1-ms budget was spent by that read alone), the
    # second never. A kept compiled model can train a tiny cell in under a second, so each
    # cell is made to last 1.2 s.
    real = cnnlab.sweep.trials.execution.train_cell

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(1.2)
        return real(*args, **kwargs)

    monkeypatch.setattr(cnnlab.sweep.trials.execution, "train_cell", slow)
    outcome = _run(tmp_path, max_time=1.0)
    assert outcome is not None
    assert outcome.finished == 1 and len(outcome.missing) == 3
    assert {r.info.run_name: r.info.status for r in _runs(tmp_path)}["t"] == "KILLED"
    monkeypatch.setattr(cnnlab.sweep.trials.execution, "train_cell", real)
    outcome = _run(tmp_path)
    assert outcome is not None and outcome.finished == 4 and not outcome.missing


def test_studies_command_lists_and_deletes(finished: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from cnnlab.cli import main

    runs = tmp_path / "runs"
    shutil.copytree(finished, runs)
    assert main(["studies", "--runs-dir", str(runs)]) == 0
    listed = capsys.readouterr().out
    assert "t " in listed and "sweep t" in listed and "4 complete" in listed
    assert main(["studies", "--runs-dir", str(runs), "--delete", "nope"]) == 2
    assert "no study called 'nope'" in capsys.readouterr().err
    assert main(["studies", "--runs-dir", str(runs), "--delete", "t"]) == 0
    assert main(["studies", "--runs-dir", str(runs)]) == 0
    assert "No studies." in capsys.readouterr().out


def test_two_workers_run_every_cell_once_and_log_like_one(tmp_path: Path) -> None:
    outcome = _run(tmp_path, workers=2)
    assert outcome is not None and outcome.finished == 4 and not outcome.failed
    trials = _study(tmp_path).get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert len({t.user_attrs["cnnlab.cell"] for t in trials}) == 4
    children = [r for r in _runs(tmp_path) if r.data.tags.get("cnnlab.role") == "trial"]
    assert len(children) == 4 and {c.info.status for c in children} == {"FINISHED"}
    client = _client(tmp_path)
    for child in children:
        history = client.get_metric_history(child.info.run_id, "val_accuracy")
        assert sorted(m.step for m in history) == [1, 2]
        threads = json.loads(child.data.tags["cnnlab.threads"])["intra_op"]
        assert threads == max(1, (os.cpu_count() or 1) // 2)  # the cores shared, not oversubscribed
    parent = next(r for r in _runs(tmp_path) if r.data.tags.get("cnnlab.role") == "parent")
    assert json.loads(parent.data.tags["cnnlab.threads"])["intra_op"] == threads
    # Pairing survives the move to worker processes: same seed, same data and initial weights.
    results, _ = trials_table(_study(tmp_path))
    assert list(results.groupby("seed")["init_hash"].nunique()) == [1, 1]
    assert not (tmp_path / ".work").exists() or not any((tmp_path / ".work").rglob("*.h5"))


def test_a_journal_file_storage_works_like_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Optuna's journal file: the storage for several processes on one host.
    journal = tmp_path / "optuna.journal"
    sweep = dataclasses.replace(SWEEP, seeds=1)
    outcome = _run(tmp_path, sweep, storage=str(journal))
    assert outcome is not None and outcome.finished == 2
    # A store other processes can share: the run says when they may join.
    assert "Study t is open: workers on other machines may join now" in capsys.readouterr().err
    study = optuna.load_study(study_name="t", storage=open_storage(str(journal)))
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE] * 2
    assert not (tmp_path / "optuna.db").exists()


def test_translation_probe_results_reach_the_table_and_mlflow(tmp_path: Path) -> None:
    sweep = dataclasses.replace(SWEEP, seeds=1, probes=("translation",))
    outcome = _run(tmp_path, sweep)
    assert outcome is not None and outcome.finished == 2
    results, _ = trials_table(_study(tmp_path))
    for column in ("shift1_drop", "shift3_accuracy", "rotm10_drop"):
        assert results[column].notna().all(), column
    np_drop = results["unshifted_accuracy"] - results["shift2_accuracy"]
    assert (abs(np_drop - results["shift2_drop"]) < 1e-12).all()
    # One name per quantity: MLflow's metric names are results.csv's columns, and the final
    # test accuracy is the last point of the per-epoch `test_accuracy` series.
    child = next(r for r in _runs(tmp_path) if r.data.tags.get("cnnlab.role") == "trial")
    row = results.set_index("mlflow_run_id").loc[child.info.run_id]
    assert child.data.metrics["shift2_drop"] == pytest.approx(row["shift2_drop"])
    assert child.data.metrics["test_accuracy"] == pytest.approx(row["test_accuracy"])
    assert child.data.metrics["seconds_per_epoch"] == pytest.approx(row["seconds_per_epoch"])


# --- a sequential plan ---------------------------------------------------------------------

SEQUENTIAL = Sweep(
    name="seq",
    base=BASE,
    factors=(
        Factor(
            path="train.learning_rate",
            levels=(1e-3, 1e-9, 2e-9),
            labels=("learn", "frozen", "frozen2"),
        ),
    ),
    seeds=SequentialPlan(looks=(3, 4)),
    claims=(
        # decided at the first look: an untrained network stays at chance
        Claim(statement="learning beats not learning", better="learn", worse="frozen"),
        # never decidable (equal parameter counts, no spread, ROPE 0): it stays open to the end
        Claim(
            statement="frozen2 is smaller",
            metric="params",
            better="frozen2",
            worse="frozen",
            rope=0.0,
        ),
    ),
)


def test_a_sequential_plan_trains_look_by_look_and_stops_decided_arms(tmp_path: Path) -> None:
    outcome = _run(tmp_path, SEQUENTIAL, reports_dir=tmp_path / "reports")
    assert outcome is not None and not outcome.failed
    cells = sorted(t.user_attrs["cnnlab.cell"] for t in _study(tmp_path, "seq").get_trials())
    # look 1: every arm at 3 seeds; look 2: only the open claim's arms get seed 3
    assert [c for c in cells if c.startswith("learn/")] == [f"learn/seed=0{s}" for s in range(3)]
    assert sum(c.startswith("frozen/") for c in cells) == 4
    assert sum(c.startswith("frozen2/") for c in cells) == 4
    assert outcome.finished == 11 and not outcome.missing
    verdicts = json.loads((tmp_path / "reports" / "seq" / "verdicts.json").read_text())
    first, second = verdicts["claims"]
    assert first["verdict"] == "supported" and first["sequential"]["look"] == 1
    assert first["sequential"]["status"] == "decided"
    assert second["sequential"]["status"] == "final" and second["sequential"]["look"] == 2
    assert verdicts["sequential_plan"]["looks"] == [3, 4]
    readme = (tmp_path / "reports" / "seq" / "README.md").read_text()
    assert "## Sequential plan" in readme and "Decided at look 1" in readme
    # a rerun finds every look done and trains nothing
    again = _run(tmp_path, SEQUENTIAL)
    assert again is not None and len(_study(tmp_path, "seq").get_trials()) == 11


def test_max_time_stops_inside_a_look_and_the_rerun_finishes_the_plan(tmp_path: Path) -> None:
    # Part of the first look exists (seed 0 of every arm, from a fixed run of the same study);
    # a run whose time budget is already spent trains nothing and does not judge the look.
    partial = _run(tmp_path, SEQUENTIAL.with_changes(seeds=1))
    assert partial is not None and partial.finished == 3
    stopped = _run(tmp_path, SEQUENTIAL, max_time=0.001, reports_dir=tmp_path / "reports")
    assert stopped is not None and stopped.missing
    assert len(_study(tmp_path, "seq").get_trials()) == 3
    verdicts = json.loads((tmp_path / "reports" / "seq" / "verdicts.json").read_text())
    assert not verdicts["judged"] and "first look" in verdicts["not_judged_because"][0]
    resumed = _run(tmp_path, SEQUENTIAL)
    assert resumed is not None and resumed.finished == 11 and not resumed.missing


def test_a_sequential_look_whose_cells_diverge_ends_instead_of_retrying_forever(
    tmp_path: Path,
) -> None:
    # A diverging cell fails again with the same seed: the look can never complete, and the
    # sweep must stop after one attempt at each cell, listing them as missing.
    sweep = Sweep(
        name="seqfail",
        base=BASE,
        factors=(Factor(path="train.learning_rate", levels=(1e-3, 1e4), labels=("ok", "huge")),),
        seeds=SequentialPlan(looks=(3, 4)),
        claims=(Claim(statement="ok beats huge", better="ok", worse="huge"),),
    )
    outcome = _run(tmp_path, sweep)
    assert outcome is not None
    assert sorted(outcome.failed) == [f"seqfail/huge/seed=0{s}" for s in range(3)]
    assert len(outcome.missing) == 3 and outcome.finished == 3
    assert len(_study(tmp_path, "seqfail").get_trials()) == 6  # each cell tried once


def test_a_silent_hosts_cell_is_reaped_on_time_while_this_process_trains_and_run_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Another host holds a cell and falls silent. Its cell is reaped once its heartbeat is
    # older than the study's grace, within two heartbeat intervals, by this process's reaper
    # thread while it is busy training its own cells (not only once it runs out of work),
    # then run here; the study is not closed while the cell is held.
    from cnnlab.spec.design import cells
    from cnnlab.sweep.stores.objective import cell_params

    real = cnnlab.sweep.trials.execution.train_cell

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(2.0)  # three own cells outlast the grace: the reap must come meanwhile
        return real(*args, **kwargs)

    monkeypatch.setattr(cnnlab.sweep.trials.execution, "train_cell", slow)
    assert _run(tmp_path, max_time=0) is not None  # the study and its parent run, no cells
    study = _study(tmp_path)
    held = next(c for c in cells(SWEEP) if c.key == "max/seed=01")
    study.enqueue_trial(cell_params(held), user_attrs={Key.CELL: held.key})
    trial = study.ask()
    # A host of this cnnlab version (another version's live host would be refused).
    owner = {"host": "another-host", "pid": 1, "start": None, "version": __version__}
    trial.set_user_attr(Key.OWNER, owner)
    silent_since = time.time()
    trial.set_user_attr(Key.HEARTBEAT, silent_since)

    # When this process's reaper thread starts: on a loaded machine the run's own start-up
    # (imports, opening the stores) can outlast the grace, and "on time" counts from the
    # later of the two.
    reaper_started: list[float] = []
    enter = cnnlab.sweep.stores.opening.Reaper.__enter__

    def timed_enter(self):  # type: ignore[no-untyped-def]
        reaper_started.append(time.time())
        return enter(self)

    monkeypatch.setattr(cnnlab.sweep.stores.opening.Reaper, "__enter__", timed_enter)
    grace = 3.0  # heartbeats (and reaper rounds) every 0.3 s
    outcome = _run(tmp_path, dead_after=grace)
    assert outcome is not None and outcome.finished == 4 and not outcome.missing
    err = capsys.readouterr().err
    assert f"Reaped trial {trial.number} (max/seed=01)" in err
    trials = _study(tmp_path).get_trials()
    reaped = trials[trial.number]
    assert reaped.state == TrialState.FAIL and reaped.user_attrs[Key.STATE] == "REAPED"
    assert reaped.datetime_complete is not None
    reaped_at = reaped.datetime_complete.timestamp()
    assert reaped_at - silent_since >= grace  # not before its grace
    due = max(silent_since + grace, reaper_started[-1])
    assert reaped_at - due <= 2 * 0.3 + 1.0, reaped_at - due  # on time (1 s for the store)
    own = sorted(
        t.datetime_complete.timestamp()
        for t in trials
        if t.state == TrialState.COMPLETE and t.user_attrs[Key.CELL] != held.key
    )
    assert reaped.datetime_complete.timestamp() < own[-1]  # while this process was training
    complete = [t.user_attrs[Key.CELL] for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(complete) == sorted(c.key for c in cells(SWEEP))


def test_a_sweep_with_conditions_judges_each_and_reports_the_replication(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep = dataclasses.replace(
        SWEEP,
        name="cond",
        seeds=2,
        conditions=Factor(path="train.epochs", levels=(1, 2), labels=("e1", "e2")),
        claims=(Claim(statement="max beats avg", better="max", worse="avg"),),
    )
    outcome = _run(tmp_path, sweep, reports_dir=tmp_path / "reports")
    assert outcome is not None and outcome.finished == 8
    cells = sorted(t.user_attrs[Key.CELL] for t in _study(tmp_path, "cond").get_trials())
    assert cells[:2] == ["e1/avg/seed=00", "e1/avg/seed=01"] and len(cells) == 8
    results = pd.read_csv(outcome.results_csv)
    assert sorted(set(results["train.epochs"])) == ["e1", "e2"]
    printed = capsys.readouterr().out
    assert "Condition e1:" in printed and "Condition e2:" in printed
    assert "Replication across conditions:" in printed
    report = (tmp_path / "reports" / "cond" / "README.md").read_text()
    assert report.index("## Replication across conditions") < report.index("## Condition e1")
    assert "## Condition e2: train.epochs = 2" in report
    assert (tmp_path / "reports" / "cond" / "figures" / "forest_1.png").is_file()
    assert (tmp_path / "reports" / "cond" / "figures" / "e2" / "paired_differences.png").is_file()
    # Each condition's rows, and only its, are in its part of the report.
    e2 = report[report.index("## Condition e2") :]
    assert "2 epoch(s)" in e2 or "epochs 2" in e2 or "train.epochs = 2" in e2
