"""The exceptions cnnlab raises for problems a user can fix.

Every `CnnlabError` carries a message written for a person: what was expected, what was
found, and what to do. The command line prints that message and exits non-zero without a
traceback; anything that is not a `CnnlabError` is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
import sys
import traceback
from collections.abc import Iterable
from typing import Any


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """` Did you mean 'max'?` for a near miss among `choices`, else an empty string."""
    close = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


class CnnlabError(Exception):
    """A problem with the user's input or environment, explained in the message."""

    exit_code = 2


class Interrupted(Exception):
    """A stop signal (SIGTERM) ended the command. Like Ctrl-C: exit status 130 and no
    traceback; what was running has already said what it kept and how to resume."""

    exit_code = 130


class Terminated(KeyboardInterrupt):
    """SIGTERM outside training (start-up, judging, writing the report): handled everywhere as
    Ctrl-C is, and, like it, not caught by `except Exception`, so no cleanup can swallow it."""


class SpecError(CnnlabError, ValueError):
    """A spec field has a value that is not allowed, or the architecture does not fit its input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class DataError(CnnlabError):
    """A dataset is missing, truncated, corrupted, or not the dataset it claims to be."""


class TrainingFailed(CnnlabError):
    """Training stopped without a usable result (for example, the loss became NaN)."""

    exit_code = 3

    def __init__(self, reason: str, message: str, *, epoch: int, batch: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.epoch = epoch
        self.batch = batch

    def to_dict(self) -> dict[str, object]:
        return {
            "status": "failed",
            "reason": self.reason,
            "epoch": self.epoch,
            "batch": self.batch,
            "message": str(self),
        }


def quiet_h5py_cleanup() -> None:
    """Drop the errors h5py's objects raise while being freed after a failed write (a full
    disk: a traceback and "Exception ignored in: 'h5py._objects.ObjectID.__dealloc__'", twice
    per file; Cython prints the first through `sys.excepthook`, the second through
    `sys.unraisablehook`). The write's own exception already carries the cause to a clear
    message; every other exception still reaches Python's default hooks."""

    def from_h5py_cleanup(error: BaseException | None, where: object = None) -> bool:
        if not isinstance(error, OSError | RuntimeError):
            return False
        frames = traceback.extract_tb(error.__traceback__)
        return "h5py" in repr(where) or any("h5py/_objects" in f.filename for f in frames)

    def unraisable_hook(unraisable: sys.UnraisableHookArgs) -> None:
        if not from_h5py_cleanup(unraisable.exc_value, unraisable.object):
            sys.__unraisablehook__(unraisable)

    def except_hook(kind: type[BaseException], error: BaseException, tb: Any) -> None:
        if not from_h5py_cleanup(error):
            sys.__excepthook__(kind, error, tb)

    sys.unraisablehook = unraisable_hook
    sys.excepthook = except_hook
