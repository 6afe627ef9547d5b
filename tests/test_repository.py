"""The repository's promises to a new user: CI runs exactly the README's test command."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
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


IMPORT_FROM_WHEEL = """
import importlib, pathlib, sys
root = pathlib.Path(sys.argv[1]).resolve()
for name in sys.argv[2:]:
    module = importlib.import_module(name)
    where = pathlib.Path(module.__file__).resolve()
    assert root in where.parents, f"{name} came from {where}, not from the wheel"
print("imported", len(sys.argv) - 2)
"""


def _subpackages() -> list[str]:
    """Every package of the source tree (folders with an __init__.py), and the experiments."""
    found = [
        ".".join(path.parent.relative_to(REPO).parts)
        for path in sorted((REPO / "cnnlab").rglob("__init__.py"))
    ]
    return [*found, "cnnlab.experiments"]


@pytest.mark.slow
def test_the_wheel_ships_and_imports_every_subpackage(tmp_path: Path) -> None:
    # A regular (non-editable) install must find every stage and the shipped sweeps; an
    # editable install maps the whole source folder and hides a package pyproject.toml lacks.
    code = f"from setuptools import build_meta; print(build_meta.build_wheel({str(tmp_path)!r}))"
    build = tmp_path / "build"
    shutil.copytree(REPO, build, ignore=shutil.ignore_patterns(".venv", ".nox", "runs", ".git"))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=build, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    wheel = zipfile.ZipFile(tmp_path / done.stdout.strip().splitlines()[-1])
    names = wheel.namelist()
    assert "cnnlab/experiments/pooling.py" in names
    assert "cnnlab/experiments/__init__.py" in names
    assert "cnnlab/data/load.py" in names and "cnnlab/report/curves.py" in names
    assert "cnnlab/stats/calibrated_boundaries.json" in names  # data, not a module
    installed = tmp_path / "installed"
    wheel.extractall(installed)
    # -S: no site-packages processing, so the editable install's finder is not loaded; the
    # dependencies come from the venv's site-packages, cnnlab only from the wheel.
    paths = sysconfig.get_paths()
    env = {"PYTHONPATH": os.pathsep.join([str(installed), paths["purelib"], paths["platlib"]])}
    imported = subprocess.run(
        [sys.executable, "-S", "-c", IMPORT_FROM_WHEEL, str(installed), *_subpackages()],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
        cwd=tmp_path,
    )
    assert imported.returncode == 0, imported.stderr[-3000:]
    assert imported.stdout.strip() == f"imported {len(_subpackages())}"
