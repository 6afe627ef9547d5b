"""The repository's promises to a new user: CI runs exactly the README's test command."""

from __future__ import annotations

import re

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
