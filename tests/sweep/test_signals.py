"""Ctrl-C (SIGINT) and SIGTERM in every phase of a sweep: start-up, launching workers, training,
judging, writing the report. Each ends the command with exit status 130 and one line, no
traceback, leaves no report half-written, and the same command then resumes to the end.

The signal is raised in this process (`signal.raise_signal`) from inside the phase's own code,
so it lands exactly there; the command runs as the command line runs it (`run_command`).
"""

from __future__ import annotations

import hashlib
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

import cnnlab.report.build
import cnnlab.sweep.launch
import cnnlab.sweep.runner
import cnnlab.sweep.trials.execution
from cnnlab.cliutil import run_command
from cnnlab.data import synthetic_dataset
from cnnlab.spec.design import Factor, Sweep
from cnnlab.spec.presets import small
from cnnlab.spec.specs import DataSpec, TrainSpec, TrialSpec
from cnnlab.sweep.options import SweepOptions
from cnnlab.sweep.runner import run_sweep
from cnnlab.sweep.stores.studies import default_storage_url, open_storage

pytestmark = pytest.mark.integration

DATA = synthetic_dataset(n_train=400, n_test=200, seed=5)
SWEEP = Sweep(
    name="sig",
    base=TrialSpec(
        arch=small,
        train=TrainSpec(epochs=1, batch_size=64),
        data=DataSpec(dataset="mnist", validation_size=100),
    ),
    factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
    seeds=2,
    description="signals",
)


@pytest.fixture(autouse=True)
def _ctrl_c_as_a_command_line_has_it() -> Iterator[None]:
    """Python's own SIGINT handler, as a command line starts with: an earlier test in this
    process may have left SIGINT ignored (as a worker process sets it)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _command(runs: Path, workers: int = 1) -> Callable[[], int]:
    options = SweepOptions(runs_dir=runs, reports_dir=runs / "reports", workers=workers)

    def command() -> int:
        run_sweep(SWEEP, options, dataset=DATA)
        return 0

    return command


def _signal_inside(
    monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, signum: int, *, after: bool = False
) -> None:
    """Raise `signum` once, as `owner.name` is called (or as it returns, `after`)."""
    real = getattr(owner, name)
    calls = {"n": 0}

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1 and not after:
            signal.raise_signal(signum)
        result = real(*args, **kwargs)
        if calls["n"] == 1 and after:
            signal.raise_signal(signum)
        return result

    monkeypatch.setattr(owner, name, wrapped)


def _finished(runs: Path) -> int:
    study = optuna.load_study(study_name="sig", storage=open_storage(default_storage_url(runs)))
    return sum(t.state == TrialState.COMPLETE for t in study.get_trials())


def _tree(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _stopped(capsys: pytest.CaptureFixture[str], command: Callable[[], int], signum: int) -> None:
    capsys.readouterr()
    assert run_command(command) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    expected = "cnnlab: interrupted" + (
        " (terminated (SIGTERM))" if signum == signal.SIGTERM else ""
    )
    assert last == expected, err


PHASES: list[tuple[str, Any, str, bool]] = [
    # phase, where the signal lands (module or class, function), after it returns?
    ("start-up", cnnlab.sweep.runner, "open_stores", False),
    ("training", cnnlab.sweep.trials.execution, "train_cell", False),
    ("judging", cnnlab.sweep.runner.SweepRun, "_analysis", False),
    ("writing the report", cnnlab.report.build, "to_html", True),
]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_in_each_phase_stops_cleanly_and_the_same_command_resumes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    signum: int,
) -> None:
    command = _command(tmp_path)
    report = tmp_path / "reports" / "sig"
    finished = []
    for phase, owner, name, after in PHASES:
        with monkeypatch.context() as patch:
            _signal_inside(patch, owner, name, signum, after=after)
            _stopped(capsys, command, signum)
        assert not report.exists(), f"{phase}: a report appeared"
        assert not (tmp_path / "reports" / ".writing" / "sig").exists(), phase
        finished.append(_finished(tmp_path) if (tmp_path / "optuna.db").exists() else 0)
    # Nothing trained before training; the first cell is the one interrupted; judging and
    # writing come after every cell finished.
    assert finished == [0, 0, 4, 4]
    assert run_command(command) == 0  # the same command, resumed to the end
    written = _tree(report)
    assert {"README.md", "index.html", "verdicts.json", "results.csv"} <= set(written)

    # A second interrupted write leaves the first report exactly as it was.
    with monkeypatch.context() as patch:
        _signal_inside(patch, cnnlab.report.build, "to_html", signum, after=True)
        patch.setattr(cnnlab.report.build, "to_markdown", lambda blocks: "half-written\n")
        _stopped(capsys, command, signum)
    assert _tree(report) == written


def test_a_sigterm_while_workers_start_stops_cleanly_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    command = _command(tmp_path, workers=2)
    with monkeypatch.context() as patch:
        _signal_inside(patch, cnnlab.sweep.launch.Trainers, "start", signal.SIGTERM, after=True)
        _stopped(capsys, command, signal.SIGTERM)
    assert run_command(command) == 0
    assert _finished(tmp_path) == 4
