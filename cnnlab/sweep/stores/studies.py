"""Optuna storage for sweeps: opening versioned studies, refusing changed definitions, reaping.

One storage (default `sqlite:///<runs dir>/optuna.db`) holds every sweep's studies. A sweep's
study is named after the sweep (`pooling`, `pooling-quick`, and `pooling-v2`... after
`--new-study`); a rerun continues the newest version. The study keeps the hash of the sweep's
definition; resuming with a different definition is refused with a message naming `--new-study`.

Trials record their owner (host, pid, process start time) right after Optuna's `ask`
(`claim_trial`) and a heartbeat, refreshed by a `Heartbeat` thread while the trial trains. A
RUNNING trial is reaped (marked FAIL, to be rerun) only when its owner is provably gone: the
same host and the pid absent or reused, or a heartbeat older than the study's grace period
(`dead_after`, `--dead-after`, shipped `DEAD_AFTER_S`) for another host; or no owner at all and
nothing heard from it for that long since it started (its process died between `ask` and
writing the owner). A live worker's trial is never reaped. Every process on a study reads the
grace period from the study, so they agree on it, and beats `heartbeat_every(grace)`.

Storage URLs are printed only with their password masked (`cnnlab.sweep.stores.redact`).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from cnnlab.errors import CnnlabError
from cnnlab.spec.design import definition_changes
from cnnlab.stats.calibration import RULE
from cnnlab.sweep.options import DEAD_AFTER_S, StudyIdentity, SweepOptions
from cnnlab.sweep.stores.connection import CONNECT_TIMEOUT_S, cannot_open_storage, missing_driver
from cnnlab.sweep.stores.keys import Key, State
from cnnlab.sweep.stores.objective import Sampling
from cnnlab.sweep.stores.redact import redact
from cnnlab.version import __version__

HEARTBEAT_EVERY_S = 60.0  # the longest interval between beats; never over a tenth of the grace


def heartbeat_every(dead_after: float) -> float:
    """Seconds between heartbeats for a grace period: ten beats fit in it, so a few lost to a
    busy database never make a live trial look dead."""
    return min(HEARTBEAT_EVERY_S, dead_after / 10)


def dead_after(study: optuna.Study) -> float:
    """The study's grace period in seconds (set by the sweep's `--dead-after`)."""
    return float(study.user_attrs.get(Key.DEAD_AFTER, DEAD_AFTER_S))


class StudyMismatchError(CnnlabError):
    """The stored study was made from a different sweep definition."""


def default_storage_url(runs_dir: Path) -> str:
    return f"sqlite:///{(runs_dir / 'optuna.db').resolve()}"


def open_storage(url: str) -> BaseStorage:
    """An Optuna storage for `url`: an RDB URL, or a `.journal` / `.log` file path.

    A database that does not answer fails within `CONNECT_TIMEOUT_S`, and a missing driver
    (PostgreSQL's psycopg is the `postgres` extra) is named with the command that installs it.
    """
    if url.endswith((".journal", ".log")) and "://" not in url:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(url))
    for attempt in range(_OPEN_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))
        except ModuleNotFoundError as error:
            raise CnnlabError(missing_driver(url, error.name or str(error))) from None
        except Exception as error:
            # Two processes creating a fresh database race on its schema (the loser hits a
            # UNIQUE constraint on alembic_version or "table already exists"); the schema is
            # complete a moment later, so try again before calling the URL bad.
            if attempt + 1 < _OPEN_ATTEMPTS and _is_schema_race(error):
                time.sleep(0.5 * (attempt + 1))
                continue
            raise CnnlabError(cannot_open_storage(url, error)) from None
    raise AssertionError("unreachable")  # the loop returns or raises


_OPEN_ATTEMPTS = 6


def _is_schema_race(error: Exception) -> bool:
    text = str(error).lower()
    # Not "database is locked": SQLite already waits 60 s for a lock (`_engine_kwargs`), and
    # retrying after that would only multiply the wait.
    return "alembic_version" in text or "already exists" in text


def _engine_kwargs(url: str) -> dict[str, Any]:
    # SQLite: wait for a lock instead of failing at once when another process writes.
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    if url.startswith("postgresql"):
        # libpq waits for an unanswered connection forever by default; pre-ping replaces a
        # connection the server dropped (a restart) instead of failing the next query.
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}, "pool_pre_ping": True}
    return {}


def _versions(storage: BaseStorage, base: str) -> list[tuple[int, str]]:
    pattern = re.compile(rf"^{re.escape(base)}(?:-v(\d+))?$")
    found = []
    for study in storage.get_all_studies():
        match = pattern.match(study.study_name)
        if match:
            found.append((int(match.group(1) or 1), study.study_name))
    return sorted(found)


def open_study(
    storage: BaseStorage,
    identity: StudyIdentity,
    *,
    sampling: Sampling | None = None,
    new_study: bool = False,
) -> optuna.Study:
    """The newest study of the identity's base name, or a new one; refuses a changed
    definition. `sampling` gives the sampler and pruner (Optuna's defaults without it)."""
    base_name = identity.base_name
    sampler = None if sampling is None else sampling.sampler
    pruner = None if sampling is None else sampling.pruner
    versions = _versions(storage, base_name)
    if versions and not new_study:
        name = versions[-1][1]
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        _refuse_changed_definition(
            study,
            identity,
            head=f"The sweep definition changed since study {name!r} was started",
            fix="its finished cells would not mean the same thing. Run again with --new-study "
            f"to start {base_name}-v{versions[-1][0] + 1} (the old study and its runs are "
            "kept), or undo the change.",
        )
        _refuse_changed_data(
            study,
            identity,
            fix=f"Restore the data the study was started with, or run again with --new-study "
            f"to start {base_name}-v{versions[-1][0] + 1} on this data (the old study and its "
            "runs are kept).",
        )
        refuse_other_versions(study, joining=False)
        study.set_user_attr(Key.VERSION, __version__)
        return study
    version = versions[-1][0] + 1 if versions else 1
    name = base_name if version == 1 else f"{base_name}-v{version}"
    study = optuna.create_study(
        study_name=name, storage=storage, direction="maximize", sampler=sampler, pruner=pruner
    )
    for key, value in (
        (Key.SWEEP, identity.sweep_name),
        (Key.CONFIG_HASH, identity.config_hash),
        (Key.DEFINITION, identity.definition),
        (Key.CLAIMS_HASH, identity.claims_hash),
        (Key.PLAN_HASH, identity.plan_hash),
        (Key.RULE, RULE),
        (Key.QUICK, identity.quick),
        (Key.CREATED, time.strftime("%Y-%m-%d %H:%M:%S")),
        (Key.VERSION, __version__),
        (Key.DATA_SHA256, identity.data_sha256),
    ):
        study.set_user_attr(key, value)
    return study


def _refuse_changed_data(study: optuna.Study, identity: StudyIdentity, *, fix: str) -> None:
    """Raise unless the dataset's content is the one the study was started on (a study from
    before the checksums were kept, or an identity without data, is not checked)."""
    stored = study.user_attrs.get(Key.DATA_SHA256)
    if not isinstance(stored, dict) or not stored or not identity.data_sha256:
        return
    now = identity.data_sha256
    changed = sorted(
        name for name in stored.keys() | now.keys() if stored.get(name) != now.get(name)
    )
    if changed:
        shown = ", ".join(
            f"{name} (SHA-256 {str(stored.get(name, 'absent'))[:12]}… then, "
            f"{str(now.get(name, 'absent'))[:12]}… now)"
            for name in changed[:4]
        )
        raise StudyMismatchError(
            f"The dataset changed since study {study.study_name!r} was started: {shown}. Its "
            f"finished cells were trained on the old data, so they cannot pair with new ones. {fix}"
        )


def _refuse_changed_definition(
    study: optuna.Study, identity: StudyIdentity, *, head: str, fix: str
) -> None:
    """Raise `head (what changed): fix` unless `study` was started from the same definition."""
    stored = study.user_attrs.get(Key.CONFIG_HASH)
    if stored != identity.config_hash:
        changed = _changed(study, identity.definition, stored, identity.config_hash)
        raise StudyMismatchError(f"{head} ({changed}): {fix}")


def _changed(
    study: optuna.Study, definition: dict[str, Any] | None, stored: Any, config_hash: str
) -> str:
    """What changed, field by field where the study kept its definition (since 2026-12)."""
    kept = study.user_attrs.get(Key.DEFINITION)
    if isinstance(kept, dict) and definition is not None:
        changes = definition_changes(kept, definition)
        if changes:
            more = f"; and {len(changes) - 4} more" if len(changes) > 4 else ""
            return "changed: " + "; ".join(changes[:4]) + more
    return f"definition hash {stored} in the store, {config_hash} now"


def join_study(
    storage: BaseStorage, identity: StudyIdentity, *, where: str, sampling: Sampling | None = None
) -> optuna.Study:
    """The newest study of the identity's base name, made by the sweep's own process, for a
    worker to join; refuses a missing study or a different definition (`where` names the
    storage)."""
    base_name = identity.base_name
    versions = _versions(storage, base_name)
    if not versions:
        raise CnnlabError(
            f"There is no study {base_name!r} in the Optuna storage {where!r} (--storage): a "
            "worker joins a sweep that has started. Start the sweep first, on the first host, "
            "with the same sweep, options, --storage and --tracking-uri: python -m cnnlab.sweep "
            f"{identity.sweep_name} --storage … --tracking-uri …"
        )
    name = versions[-1][1]
    study = optuna.load_study(
        study_name=name,
        storage=storage,
        sampler=None if sampling is None else sampling.sampler,
        pruner=None if sampling is None else sampling.pruner,
    )
    _refuse_changed_definition(
        study,
        identity,
        head=f"Study {name!r} in {where!r} was started from a different definition of the sweep",
        fix="give the worker the same sweep file and the same --quick, --seeds, --epochs "
        "and --dataset as the sweep's own process.",
    )
    _refuse_changed_data(
        study, identity, fix="Give this host the same data as the sweep's own process."
    )
    refuse_other_versions(study, joining=True)
    return study


def check_joinable(identity: StudyIdentity, options: SweepOptions) -> None:
    """A worker's study exists in its storage, from the same definition (a worker joins; it
    never creates one): refused in milliseconds, before the worker loads data and imports
    TensorFlow. `open_stores` joins the study again, with the sampler and pruner."""
    url = options.storage or default_storage_url(options.runs_dir)
    database = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if database is not None and not database.is_file():  # opening it would create it
        raise CnnlabError(
            f"{database} does not exist: a worker joins a sweep that has started. Start the "
            f"sweep first (python -m cnnlab.sweep {identity.sweep_name} …), and give the "
            "worker its --storage and --tracking-uri (or its --runs-dir on this machine)."
        )
    join_study(open_storage(url), identity, where=redact(url))


# --- ownership and reaping ---------------------------------------------------------------


def _process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (ticks since boot), which tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def owner_record() -> dict[str, Any]:
    pid = os.getpid()
    return {
        "host": socket.gethostname(),
        "pid": pid,
        "start": _process_start(pid),
        "version": __version__,
    }


# Versions before 0.2.0 claimed cells by `ask()` and recorded no version with their trials.
_UNRECORDED = "0.1.0 or earlier"


def refuse_other_versions(study: optuna.Study, *, joining: bool) -> None:
    """Refuse to share a study with a process of another cnnlab version: versions may claim
    cells differently (0.2.0 claims from a queue; earlier versions asked Optuna for trials),
    and a mix can run a cell twice. A worker (`joining`) must match the version of the sweep's
    own process; that process must match every live process running a trial. A study whose
    processes have all ended resumes under any version (its trials mean the same)."""
    others: dict[str, str] = {}
    if joining:
        theirs = str(study.user_attrs.get(Key.VERSION, _UNRECORDED))
        if theirs != __version__:
            others[theirs] = "the sweep's own process"
    grace = dead_after(study)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = trial.user_attrs.get(Key.OWNER)
        if not isinstance(owner, dict) or owner_is_gone(trial, grace=grace):
            continue
        theirs = str(owner.get("version", _UNRECORDED))
        if theirs != __version__:
            others.setdefault(theirs, f"host {owner.get('host', '?')} (trial {trial.number})")
    if others:
        theirs, where = next(iter(others.items()))
        raise CnnlabError(
            f"Study {study.study_name!r} is being run by cnnlab {theirs} ({where}); this is "
            f"cnnlab {__version__}. Processes of different versions may claim cells "
            "differently and run one twice, so they do not share a study. Install the same "
            "cnnlab version on every host (pip install -e . at the same commit), or wait for "
            "the other processes to finish."
        )


def claim_trial(trial: optuna.Trial) -> None:
    """Record this process as the owner of a trial it was just handed by `ask`.

    Called before anything else touches the trial: until the owner is written, a process
    killed here leaves a RUNNING trial only its age can reap.
    """
    trial.set_user_attr(Key.OWNER, owner_record())
    trial.set_user_attr(Key.HEARTBEAT, time.time())


class Heartbeat:
    """Refreshes a RUNNING trial's heartbeat from a daemon thread until `stop`.

    Per-epoch beats alone let a long epoch (minutes on a slow machine) look dead to another
    host. The thread writes through the storage with a call of its own: RDBStorage opens a
    scoped (per-thread) session per call and SQLAlchemy shares file SQLite connections across
    threads; the journal storage takes a lock per call. A daemon thread dies with the process,
    so a killed sweep stops beating and its trial becomes reapable.
    """

    def __init__(self, trial: optuna.Trial, every: float | None = None) -> None:
        self._storage, self._trial_id = trial.storage, trial._trial_id
        self._every = HEARTBEAT_EVERY_S if every is None else every
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"cnnlab-heartbeat-{trial.number}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._every):
            try:
                self._storage.set_trial_user_attr(self._trial_id, Key.HEARTBEAT, time.time())
            except UpdateFinishedTrialError:
                return  # told meanwhile: nothing left to keep alive
            except Exception:
                # A locked or briefly unreachable database costs one beat; the next retries.
                # Training must not stop for it, and the thread must not die of it.
                continue

    def stop(self) -> None:
        """Stop beating; returns once no beat is in flight (bounded, if the store hangs)."""
        self._stopped.set()
        self._thread.join(timeout=30)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_is_gone(
    trial: FrozenTrial, now: float | None = None, grace: float = DEAD_AFTER_S
) -> bool:
    """True only when the trial's owner is provably dead (see the module docstring); `grace`
    is the study's `dead_after`."""
    owner = trial.user_attrs.get(Key.OWNER)
    heartbeat = trial.user_attrs.get(Key.HEARTBEAT)
    now = time.time() if now is None else now
    if isinstance(owner, dict) and owner.get("host") == socket.gethostname():
        pid = int(owner.get("pid", -1))
        if not _pid_alive(pid):
            return True
        start = owner.get("start")
        return start is not None and _process_start(pid) not in (None, start)
    if owner is None:
        # Killed between `ask` and writing the owner (milliseconds apart): nobody will ever
        # claim it, and left RUNNING it would keep its cell from being run again. Its host is
        # unknown, so only silence as long as another host's stale heartbeat proves it dead.
        started = trial.datetime_start.timestamp() if trial.datetime_start else now
        last_heard = max(started, float(heartbeat)) if heartbeat is not None else started
        return now - last_heard > grace
    if heartbeat is None:
        return False  # another host's trial with no heartbeat yet: no evidence either way
    return now - float(heartbeat) > grace


@dataclass(frozen=True)
class Reaped:
    number: int
    cell: str | None
    mlflow_run_id: str | None
    trial: FrozenTrial  # as it was when reaped: its queued parameters queue the cell again


def reap_dead_trials(study: optuna.Study, storage: BaseStorage) -> list[Reaped]:
    """Mark RUNNING trials whose owner is gone as FAIL; returns what was reaped."""
    reaped = []
    grace = dead_after(study)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if owner_is_gone(trial, grace=grace):
            storage.set_trial_user_attr(trial._trial_id, Key.STATE, State.REAPED)
            storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
            reaped.append(
                Reaped(
                    number=trial.number,
                    cell=trial.user_attrs.get(Key.CELL),
                    mlflow_run_id=trial.user_attrs.get(Key.MLFLOW_RUN_ID),
                    trial=trial,
                )
            )
    return reaped


def list_studies(storage: BaseStorage) -> list[dict[str, Any]]:
    """One row per study: name, sweep, trials by state, creation time."""
    rows = []
    for summary in storage.get_all_studies():
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        counts: dict[str, int] = {}
        for trial in study.get_trials(deepcopy=False):
            counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
        rows.append(
            {
                "name": summary.study_name,
                "sweep": study.user_attrs.get(Key.SWEEP, "?"),
                "quick": study.user_attrs.get(Key.QUICK, False),
                "created": study.user_attrs.get(Key.CREATED, "?"),
                "counts": counts,
            }
        )
    return rows


def delete_study(storage: BaseStorage, name: str) -> None:
    names = [s.study_name for s in storage.get_all_studies()]
    if name not in names:
        raise CnnlabError(f"There is no study called {name!r}; the studies are {sorted(names)}.")
    optuna.delete_study(study_name=name, storage=storage)
