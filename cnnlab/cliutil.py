"""Helpers shared by the command-line entry points (`cnnlab`, `python -m cnnlab.sweep`, ...).

The entry points are the only code that reads environment variables (CNNLAB_DATA_DIR,
KERAS_HOME); everything below them takes values.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from cnnlab.errors import CnnlabError, Interrupted


def data_location(data_dir: Path | None) -> tuple[Path | None, bool, Path]:
    """(data folder, only that folder?, Keras home) from `--data-dir` and the environment.

    An explicit `--data-dir` is the only place searched; CNNLAB_DATA_DIR is a default.
    """
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    if data_dir is not None:
        return data_dir, True, keras_home
    env_dir = os.environ.get("CNNLAB_DATA_DIR")
    return (Path(env_dir) if env_dir else None), False, keras_home


def run_command(command: Callable[[], int]) -> int:
    """Run an entry point: a CnnlabError becomes a message and its exit status, no traceback."""
    try:
        return command()
    except CnnlabError as error:
        sys.stderr.write(f"cnnlab: error: {error}\n")
        return error.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("\ncnnlab: interrupted\n")
        return 130
    except Interrupted as stop:  # SIGTERM: the same end as Ctrl-C
        sys.stderr.write(f"cnnlab: interrupted ({stop})\n")
        return stop.exit_code
