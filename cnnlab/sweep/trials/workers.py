"""Training processes for `--workers N`: the sweep process hands out cells, workers train them.

Workers never touch the Optuna study or the MLflow store: they receive a cell, train it, and
send back typed events (`cnnlab.sweep.trials.events`) on a queue; the sweep process does all
bookkeeping (`cnnlab.sweep.trials.book`). So SQLite stores see one writer however many workers run,
and a worker that dies loses only its current cell (a `Died` event, made up by the pool).
When every worker is dead, `all_dead` says so: nothing will ever answer.

Workers ignore Ctrl-C (the sweep process handles it and stops them) and exit on their own when
the sweep process disappears (kill -9), checking at every job and every epoch. A pruning
request from the sweep process reaches a worker as a file in the job's scratch folder, read
after each epoch; with the event in flight it takes effect one epoch late at most.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from cnnlab.data import LoadedDataset
from cnnlab.errors import CnnlabError
from cnnlab.spec.design import Cell
from cnnlab.sweep.trials.events import (
    Crashed,
    Died,
    Done,
    EpochDone,
    Event,
    Failed,
    Pruned,
    Ready,
    Started,
    UnknownEvent,
)

STARTUP_TIMEOUT_S = 300.0  # importing TensorFlow takes ~10 s; a swapping machine far longer


class _PruneRequested(Exception):
    pass


def _worker_main(
    jobs: Any,
    events: Any,
    dataset: LoadedDataset,
    scratch: Path,
    threads: int,
    parent_pid: int,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the sweep process handles Ctrl-C
    from cnnlab.errors import quiet_h5py_cleanup

    quiet_h5py_cleanup()  # a full disk: the sweep process says so once, without tracebacks
    from cnnlab.training.runtime import (
        decline_unused_imports,
        import_tensorflow_quietly,
        set_intra_op_threads,
    )

    decline_unused_imports()  # a worker only trains: ~4 s less start-up (runtime says which)
    import_tensorflow_quietly()
    from cnnlab.errors import TrainingFailed
    from cnnlab.sweep.trials.artifacts import write_trial_files
    from cnnlab.training.cell import train_cell

    set_intra_op_threads(threads)
    from cnnlab.training.runtime import thread_settings

    events.put(Ready(os.getpid(), thread_settings()))
    while True:
        try:
            job = jobs.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent_pid:
                return  # the sweep process is gone
            continue
        if job is None:
            return
        job_id, cell = job
        folder = scratch / job_id
        folder.mkdir(parents=True, exist_ok=True)
        events.put(Started(job_id, os.getpid()))

        def on_epoch(record: Any, job_id: str = job_id, folder: Path = folder) -> None:
            events.put(EpochDone(job_id, record))
            if os.getppid() != parent_pid:
                os._exit(1)
            if (folder / "prune").exists():
                raise _PruneRequested

        try:
            result = train_cell(cell, dataset, on_epoch=on_epoch)
            write_trial_files(result, cell, folder)
        except TrainingFailed as failure:
            events.put(Failed(job_id, failure.to_dict()))
        except _PruneRequested:
            events.put(Pruned(job_id, "pruned by the study's pruner"))
        except Exception as error:
            events.put(Crashed(job_id, f"{type(error).__name__}: {error}"))
        else:
            events.put(Done(job_id, folder))


class WorkersDidNotStart(CnnlabError):
    """A worker process exited, or never became ready, before taking any job."""


class WorkerPool:
    """N spawned training processes fed through a job queue, each on `threads` intra-op threads.

    The constructor starts the processes; `wait_ready` (called by the constructor unless
    `wait=False`) returns once every worker has imported TensorFlow and said what threads it
    runs with (`thread_settings`; `startup_seconds` is how long that took from the start), so a
    worker that cannot start is an error before any trial begins, not a silent wait. Starting
    without waiting lets the workers import TensorFlow while the sweep process opens its stores.
    """

    def __init__(
        self,
        workers: int,
        threads: int,
        dataset: LoadedDataset,
        scratch: Path,
        *,
        wait: bool = True,
    ) -> None:
        context = multiprocessing.get_context("spawn")  # no forked TensorFlow state
        self.scratch = scratch
        self.jobs = context.Queue()
        self.events = context.Queue()
        self._started = time.monotonic()
        self.processes = [
            context.Process(
                target=_worker_main,
                args=(self.jobs, self.events, dataset, scratch, threads, os.getpid()),
                daemon=True,
            )
            for _ in range(workers)
        ]
        for process in self.processes:
            process.start()
        self.running: dict[str, int] = {}  # job id -> worker pid
        self.thread_settings: dict[str, int] | None = None  # set by wait_ready
        self.startup_seconds: float | None = None
        if wait:
            self.wait_ready()

    def wait_ready(self) -> dict[str, int]:
        """Wait for every worker's Ready event (once); the thread settings they share (the
        first's, if they differ). Raises WorkersDidNotStart for one that exits or hangs."""
        if self.thread_settings is None:
            self.thread_settings = self._wait_ready()
            self.startup_seconds = time.monotonic() - self._started
        return self.thread_settings

    def _wait_ready(self) -> dict[str, int]:
        ready: dict[int, dict[str, int]] = {}
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while len(ready) < len(self.processes):
            try:
                event = self.events.get(timeout=1.0)
            except queue.Empty:
                dead = [p.exitcode for p in self.processes if p.exitcode not in (None, 0)]
                if dead or time.monotonic() > deadline:
                    self.terminate()
                    why = (
                        f"exited with code {dead[0]}"
                        if dead
                        else f"was not ready after {STARTUP_TIMEOUT_S:.0f} s"
                    )
                    raise WorkersDidNotStart(
                        f"A worker process {why} before taking any cell (it imports "
                        "TensorFlow and receives the dataset). Nothing was trained. Run with "
                        "--workers 1 to train in this process and see the error."
                    ) from None
                continue
            if not isinstance(event, Ready):
                raise UnknownEvent(f"a starting worker sent {event!r} before Ready")
            ready[event.pid] = event.threads
        return next(iter(ready.values()))

    def submit(self, job_id: str, cell: Cell) -> None:
        self.jobs.put((job_id, cell))

    def request_prune(self, job_id: str) -> None:
        (self.scratch / job_id / "prune").touch()

    def next_event(self, timeout: float) -> Event | None:
        try:
            event: object = self.events.get(timeout=timeout)
        except queue.Empty:
            return self._dead_worker_event()
        if isinstance(event, Started):
            self.running[event.job_id] = event.pid
        elif isinstance(event, Done | Failed | Pruned | Crashed | Died):
            self.running.pop(event.job_id, None)
        elif not isinstance(event, EpochDone):
            raise UnknownEvent(
                f"a worker sent {event!r}, which is not a cnnlab.sweep.trials.events event"
            )
        return event

    def _dead_worker_event(self) -> Event | None:
        for process in self.processes:
            if process.exitcode not in (None, 0):
                for job_id, pid in list(self.running.items()):
                    if pid == process.pid:
                        del self.running[job_id]
                        message = f"its worker process died (exit code {process.exitcode})"
                        return Died(job_id, message)
        return None

    @property
    def size(self) -> int:
        """How many worker processes there are (started, alive or not)."""
        return len(self.processes)

    def all_dead(self) -> bool:
        """True when no worker is left to take a job: waiting would wait forever."""
        return not any(process.is_alive() for process in self.processes)

    def exit_codes(self) -> list[int | None]:
        return [process.exitcode for process in self.processes]

    def cleanup(self, job_id: str) -> None:
        shutil.rmtree(self.scratch / job_id, ignore_errors=True)

    def close(self) -> None:
        for _ in self.processes:
            self.jobs.put(None)
        for process in self.processes:
            process.join(timeout=30)
        self.terminate()

    def terminate(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=10)
        shutil.rmtree(self.scratch, ignore_errors=True)
