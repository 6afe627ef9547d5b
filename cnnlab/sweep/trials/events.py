"""What a worker process tells the sweep process about a job: one typed event per happening.

Events cross a process boundary (a multiprocessing queue, so they are pickled): each is a
small frozen dataclass with the job's id. The pool adds `Died` itself when a worker process
disappears. The sweep process dispatches on the type; a value that is not one of these
raises (`UnknownEvent`) instead of being taken for a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab.training.result import EpochRecord


@dataclass(frozen=True)
class Ready:
    """A worker process has imported TensorFlow and set its threads; sent once, before any job.
    `threads` is what it really runs with (`cnnlab.training.runtime.thread_settings`)."""

    pid: int
    threads: dict[str, int]


@dataclass(frozen=True)
class Started:
    job_id: str
    pid: int


@dataclass(frozen=True)
class EpochDone:
    job_id: str
    record: EpochRecord


@dataclass(frozen=True)
class Done:
    """Trained; the trial's files (result.json, summary, weights) are in `folder`."""

    job_id: str
    folder: Path


@dataclass(frozen=True)
class Failed:
    """Training failed with a reason (e.g. a diverged loss): `TrainingFailed.to_dict()`."""

    job_id: str
    failure: dict[str, Any]


@dataclass(frozen=True)
class Pruned:
    job_id: str
    message: str


@dataclass(frozen=True)
class Crashed:
    """An unexpected error in the worker (a bug, or an exhausted machine)."""

    job_id: str
    message: str


@dataclass(frozen=True)
class Died:
    """The worker process running the job is gone (killed, or out of memory)."""

    job_id: str
    message: str


Event = Started | EpochDone | Done | Failed | Pruned | Crashed | Died
FINAL = (Done, Failed, Pruned, Crashed, Died)  # the events that end a job


class UnknownEvent(TypeError):
    """Something that is not an `Event` came off the queue: a bug, never a trial's outcome."""
