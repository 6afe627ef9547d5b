"""Helpers shared by the command-line entry points (`cnnlab`, `python -m cnnlab.sweep`, ...).

The entry points are the only code that reads environment variables (CNNLAB_DATA_DIR,
KERAS_HOME); everything below them takes values.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from cnnlab.errors import CnnlabError, Interrupted, Terminated, quiet_h5py_cleanup


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
    """Run an entry point: a CnnlabError becomes a message and its exit status, no traceback.

    SIGTERM ends the command as Ctrl-C does, in every phase (start-up, launching workers,
    judging, writing the report; training installs its own handler that also marks the
    running trial): exit 130 and one line. What is written is written whole or not at all
    (reports are staged, `cnnlab.report.build.written_whole`), so the same command resumes.
    """
    quiet_h5py_cleanup()  # a full disk while saving weights: one message, not tracebacks
    previous = signal.getsignal(signal.SIGTERM)
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread:  # Python delivers signals to the main thread only
        signal.signal(signal.SIGTERM, _terminated)
    try:
        return command()
    except CnnlabError as error:
        sys.stderr.write(f"cnnlab: error: {error}\n")
        return error.exit_code
    except KeyboardInterrupt as stop:
        why = " (terminated (SIGTERM))" if isinstance(stop, Terminated) else ""
        sys.stderr.write(f"\ncnnlab: interrupted{why}\n")
        return 130
    except Interrupted as stop:  # SIGTERM: the same end as Ctrl-C
        sys.stderr.write(f"cnnlab: interrupted ({stop})\n")
        return stop.exit_code
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated
