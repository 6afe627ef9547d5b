"""The `cnnlab` command line, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cnnlab.cli import main
from cnnlab.spec.loading import load_sweep, question, shipped_names
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("arch", "params", "flops"),
    [("small", "113,386", "2,827,008"), ("geron", "1,413,834", "178,932,992")],
)
def test_summary_prints_parameters_and_flops(arch: str, params: str, flops: str, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["summary", arch]) == 0
    out = capsys.readouterr().out
    assert f"Parameters:              {params}" in out
    assert f"Forward FLOPs per image: {flops}" in out
    assert "block1_conv1 (Conv2D)" in out


def test_summary_with_an_invalid_override_names_the_option(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["summary", "small", "--pooling", "mean"]) == 2
    err = capsys.readouterr().err
    # The option the user typed, not the spec field behind it (`arch.pooling`).
    assert "--pooling must be one of ['max', 'avg', 'none', 'strided'], but 'mean'" in err
    assert main(["summary", "lenet"]) == 2
    assert "presets are ['geron', 'small']" in capsys.readouterr().err


def test_summary_reports_geometry_that_does_not_fit(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["summary", "geron", "--padding", "valid"]) == 2
    assert "Layer `block3_conv2`" in capsys.readouterr().err


def test_installed_console_script_and_module_agree() -> None:
    done = run_cli("summary", "small")
    assert done.returncode == 0, done.stderr
    assert "113,386" in done.stdout
    assert done.stderr == ""  # TensorFlow's start-up chatter is silenced


def test_divergent_training_is_a_failure_with_reason(mnist_dir: Path) -> None:
    done = run_cli(
        "train",
        "--arch",
        "small",
        "--epochs",
        "1",
        "--lr",
        "1e4",
        "--train-subset",
        "2000",
        "--data-dir",
        str(mnist_dir),
    )
    assert done.returncode == 3, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "failed" and result["reason"] == "nan_loss"
    assert "test_accuracy" not in result
    assert "Traceback" not in done.stderr and "diverged" in done.stderr


def test_bad_arguments_are_refused_before_any_training(mnist_dir: Path) -> None:
    done = run_cli("train", "--epochs", "0", "--data-dir", str(mnist_dir))
    assert done.returncode == 2
    assert "--epochs must be between 1 and 10000, but 0 was passed" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_cli("train", "--dataset", "cifar10")
    assert done.returncode == 2 and "--dataset must be one of" in done.stderr


def test_list_shows_a_sequential_plans_range_of_trials(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line and line[0] != " "}
    # max_vs_avg: 2 arms, looks at 5 … 20 seeds; a fixed design shows one number
    assert "10–40 trials" in rows["max_vs_avg"] and " – " in rows["max_vs_avg"]
    assert (
        "40 trials" in rows["pooling_x_kernel"]
        and "–" not in rows["pooling_x_kernel"].split("~")[0]
    )


def test_list_prints_every_question_whole_within_100_columns(capsys) -> None:  # type: ignore[no-untyped-def]
    # It cut questions at 90 characters, and "Question:" parsing stopped at a wrapped line
    # starting "seed:" (first_kernel lost the advice it asks about).
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100
    flowing = " ".join(line.strip() for line in out.splitlines())
    assert '(Géron\'s advice, quoted in the second seed: "5×5 or 7×7 for the first layer")?' in (
        flowing
    )
    assert "…" not in out
    for name in shipped_names():
        assert question(load_sweep(name)) in flowing


def test_the_command_starts_from_the_folder_that_holds_a_clone_named_cnnlab(
    tmp_path: Path,
) -> None:
    # From there Python takes the clone's folder for a namespace package `cnnlab` and skips
    # the package's __init__.py; the command must not depend on it.
    (tmp_path / "cnnlab").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "cnnlab", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.strip().startswith("cnnlab ")
