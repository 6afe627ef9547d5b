"""The repository's promises to a new user: CI runs exactly the README's test command."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO


def _readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"```bash\n(python3 -m venv .*?)\n```", text)


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    commands = _readme_commands()
    test_command = [c for c in commands if c.endswith("python -m pytest")]
    assert len(test_command) == 1, commands
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert test_command[0] in ci_lines


def test_readme_main_job_uses_the_same_install_as_the_tests() -> None:
    commands = _readme_commands()
    installs = {c.rsplit(" && ", 1)[0] for c in commands}
    assert len(commands) == 2 and len(installs) == 1


@pytest.mark.slow
def test_the_wheel_ships_the_experiments(tmp_path: Path) -> None:
    # A regular (non-editable) install must find the shipped sweeps too.
    code = f"from setuptools import build_meta; print(build_meta.build_wheel({str(tmp_path)!r}))"
    build = tmp_path / "build"
    shutil.copytree(REPO, build, ignore=shutil.ignore_patterns(".venv", ".nox", "runs", ".git"))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=build, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    names = zipfile.ZipFile(tmp_path / done.stdout.strip().splitlines()[-1]).namelist()
    assert "cnnlab/experiments/pooling.py" in names
    assert "cnnlab/experiments/__init__.py" in names
    assert "cnnlab/data/load.py" in names and "cnnlab/report/curves.py" in names
