"""MLflow: the only module that imports mlflow. One experiment per sweep, one parent run per
study, one nested child run per trial.

Everything goes through an explicit `MlflowClient` and run ids, never MLflow's global "active
run", so one process can keep a parent open while it logs many children. The store is
initialised once (`Tracker.__init__` + `experiment_id`) before any trial starts: parallel
first use of a fresh SQLite store corrupts it.

Child runs carry every spec field as a param (dotted names), per-epoch metrics with
`step=epoch`, final metrics, cost, tags (arm, seed, trial, state, git commit, versions,
threads, data hashes) and artifacts (model summary, learning curve, final weights). A failed,
pruned or interrupted trial ends FAILED or KILLED, never FINISHED.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from cnnlab.errors import CnnlabError
from cnnlab.sweep.stores.keys import Key, Role
from cnnlab.sweep.stores.preflight import check_server_answers
from cnnlab.sweep.stores.redact import redact

RunStatus = Literal["FINISHED", "FAILED", "KILLED", "RUNNING"]  # MLflow's own vocabulary
PARENT_RUN_TAG = "mlflow.parentRunId"  # MLflow's key that nests a run under another


def quiet_mlflow_logging() -> None:
    """MLflow and Alembic announce schema creation and migrations at INFO level on every
    fresh store; the entry points call this (after MLflow is imported: its import configures
    its loggers)."""
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # MLflow's database store logs every database error with its traceback, then raises it:
    # cnnlab reports the raised error (cnnlab.sweep.stores.failures), once, in words.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)


def is_server(tracking_uri: str) -> bool:
    """A tracking server (`mlflow server`), as opposed to a local database or folder."""
    return tracking_uri.startswith(("http://", "https://"))


# MLflow retries a failing request 7 times with a backoff factor of 2 and a 120-s timeout: a
# server that went away stalled a sweep for minutes without a word. These bounds (kept if the
# user set them) stall a refused connection about 15 s (sleeps of 1, 2, 4, 8 s) and an
# unanswered one at most 5 × 20 s + 15 s, then the request fails with MLflow's own error.
SERVER_RETRIES = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "4",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}


def bound_server_retries() -> None:
    for name, value in SERVER_RETRIES.items():
        os.environ.setdefault(name, value)
    # With a server, MLflow prints two "View run … at" lines to stdout per ended run: between
    # the progress lines and the summary (stdout is the result), one per trial is noise; the
    # summary gives the runs table's address.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


# What MLflow's HTTP client says when the server is not there (after its retries).
UNREACHABLE = (
    "Max retries exceeded",
    "Connection refused",
    "ConnectionError",
    "Connection aborted",
    "Read timed out",
    "Failed to establish a new connection",
    "RemoteDisconnected",
)


def unreachable(error: BaseException) -> bool:
    """True for MLflow's error about a tracking server that did not answer."""
    kind = type(error).__module__
    return kind.startswith(("mlflow", "requests", "urllib3")) and any(
        marker in str(error) for marker in UNREACHABLE
    )


class _ServerGuard:
    """Stops calling a tracking server that stopped answering: every Tracker call runs in it.

    Each failing call costs MLflow's retries (~15 s, `SERVER_RETRIES`); after the first, the
    trial's failure record and the parent run's end would each cost as much again. Once one
    call found the server gone, every later call raises that error at once, so a lost server
    stops the sweep within one call's retries. A local store is never "gone": not watched.
    """

    def __init__(self, watching: bool, uri: str = "") -> None:
        self.watching, self.uri = watching, uri
        self.lost: BaseException | None = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        if self.lost is not None:
            raise self.lost
        try:
            yield
        except Exception as error:
            if self.watching and unreachable(error):
                self.lost = error
            refused = refusal(error, self.uri)
            if refused is not None:
                raise refused from None
            raise


def refusal(error: BaseException, uri: str) -> CnnlabError | None:
    """A tracking server's login or permission refusal (HTTP 401 or 403, from MLflow's
    basic-auth app), in words with the fix; None for any other error."""
    status = getattr(error, "get_http_status_code", lambda: None)()
    code = getattr(error, "error_code", "")
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    where = redact(uri)
    if status == 401 or code == "UNAUTHENTICATED":
        given = f"user {user!r} was refused" if user else "no user was given"
        return CnnlabError(
            f"The tracking server {where!r} (--tracking-uri) asks for a login (HTTP 401) and "
            f"{given}. Set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD in this host's "
            "environment to the user its admin created for this host (README: 'A shared "
            "tracking server with a lock')."
        )
    if status == 403 or code == "PERMISSION_DENIED":
        return CnnlabError(
            f"The tracking server {where!r} (--tracking-uri) refused user {user or '?'!r} "
            "(HTTP 403, permission denied): every host's user needs EDIT on the sweep's "
            "experiment (a server whose default permission is READ lets it only read). The "
            "server's admin grants it once the sweep has started: cnnlab grant "
            f"--tracking-uri {where} --experiment SWEEP --user {user or 'USER'} (with the "
            "admin's MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD set)."
        )
    return None


def _auth_client(uri: str) -> Any:
    from mlflow.server.auth.client import AuthServiceClient

    return AuthServiceClient(uri)


def create_user(uri: str, user: str, password: str) -> None:
    """Create an MLflow user on a server with the basic-auth app (as its admin)."""
    try:
        _auth_client(uri).create_user(user, password)
    except Exception as error:
        raise refusal(error, uri) or CnnlabError(
            f"Cannot create user {user!r} on {redact(uri)!r}: {redact(str(error))}"
        ) from None


def grant_experiment(uri: str, experiment: str, user: str, permission: str) -> None:
    """Give `user` `permission` on the experiment named `experiment` (as the server's admin),
    or change the permission it has."""
    client = _auth_client(uri)
    try:
        found = MlflowClient(tracking_uri=uri).get_experiment_by_name(experiment)
        if found is None:
            raise CnnlabError(
                f"The tracking server {redact(uri)!r} has no experiment {experiment!r}: start "
                "the sweep first (its own process creates the experiment), then grant."
            )
        target = ("experiment", str(found.experiment_id))
        try:
            client.grant_user_permission(user, *target, permission)
        except Exception as error:
            if getattr(error, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                raise
            client.revoke_user_permission(user, *target)  # a grant is not updated in place
            client.grant_user_permission(user, *target, permission)
    except CnnlabError:
        raise
    except Exception as error:
        if getattr(error, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            raise CnnlabError(
                f"The tracking server {redact(uri)!r} has no user {user!r}: create it with "
                "--create-user (its password in CNNLAB_NEW_USER_PASSWORD)."
            ) from None
        raise refusal(error, uri) or CnnlabError(
            f"Cannot grant {permission} on {experiment!r} to {user!r} at {redact(uri)!r}: "
            f"{redact(str(error))}"
        ) from None


def default_tracking_uri(runs_dir: Path) -> str:
    return f"sqlite:///{(runs_dir / 'mlflow.db').resolve()}"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _plain(tags: dict[str, Any]) -> dict[str, str]:
    """Tags as plain strings (keys and states are `StrEnum` members in cnnlab's code)."""
    return {str(k): str(v) for k, v in tags.items()}


def _param_value(value: Any) -> str:
    return "None" if value is None else str(value)


class Tracker:
    """Writes one sweep's runs to an MLflow store."""

    def __init__(self, tracking_uri: str, artifact_root: Path | None) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        if is_server(tracking_uri):
            check_server_answers(tracking_uri)
            bound_server_retries()
        self._server = _ServerGuard(watching=is_server(tracking_uri), uri=tracking_uri)
        try:
            self.client = MlflowClient(tracking_uri=tracking_uri)
            with self._server():
                self.client.search_experiments(max_results=1)  # creates/migrates the store now
        except CnnlabError:
            raise
        except Exception as error:
            raise CnnlabError(
                f"Cannot open the MLflow store {redact(tracking_uri)!r}: {type(error).__name__}: "
                f"{redact(str(error))}. Check --tracking-uri (e.g. sqlite:///runs/mlflow.db or "
                "http://127.0.0.1:5000)."
            ) from None

    def experiment_id(self, name: str) -> str:
        """The id of experiment `name`, created (with artifacts under the runs folder) if new."""
        with self._server():
            found = self.client.get_experiment_by_name(name)
            if found is not None:
                return str(found.experiment_id)
            location = None
            if self.artifact_root is not None:
                location = (self.artifact_root / name).resolve().as_uri()
            return str(self.client.create_experiment(name, artifact_location=location))

    def existing_experiment_id(self, name: str) -> str:
        """The id of experiment `name`, which the sweep's own process created (a worker's)."""
        with self._server():
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise CnnlabError(
                    f"The tracking store {redact(self.tracking_uri)!r} (--tracking-uri) has no "
                    f"experiment {name!r}: give the worker the same --tracking-uri as the sweep's "
                    "own process."
                )
            return str(found.experiment_id)

    def has_run(self, run_id: str) -> bool:
        with self._server():
            try:
                self.client.get_run(run_id)
            except Exception as error:  # MLflow's RestException / MlflowException: not found
                if self._server.watching and unreachable(error):
                    self._server.lost = error  # gone, not missing: later calls fail at once
                return False
            return True

    def parent_run(self, experiment_id: str, study_name: str, tags: dict[str, str]) -> str:
        """The parent run of `study_name`: reused on resume, created the first time."""
        with self._server():
            runs = self.client.search_runs(
                [experiment_id],
                filter_string=(
                    f"tags.`{Key.STUDY}` = '{study_name}' and tags.`{Key.ROLE}` = '{Role.PARENT}'"
                ),
                max_results=1,
            )
            if runs:
                run_id = str(runs[0].info.run_id)
                self.client.update_run(run_id, status="RUNNING")
                return run_id
            run = self.client.create_run(
                experiment_id,
                run_name=study_name,
                tags=_plain({**tags, Key.STUDY: study_name, Key.ROLE: Role.PARENT}),
            )
            return str(run.info.run_id)

    def running_trials(self, experiment_id: str, study_name: str) -> list[tuple[str, str]]:
        """(run id, trial number) of the study's trial runs MLflow still has RUNNING."""
        with self._server():
            runs = self.client.search_runs(
                [experiment_id],
                filter_string=(
                    f"tags.`{Key.STUDY}` = '{study_name}' and tags.`{Key.ROLE}` = '{Role.TRIAL}' "
                    "and attributes.status = 'RUNNING'"
                ),
                max_results=10_000,
            )
            return [(str(r.info.run_id), r.data.tags.get(Key.TRIAL_NUMBER, "")) for r in runs]

    def start_child(
        self,
        experiment_id: str,
        parent_run_id: str,
        run_name: str,
        params: dict[str, Any],
        tags: dict[str, str],
    ) -> str:
        with self._server():
            run = self.client.create_run(
                experiment_id,
                run_name=run_name,
                tags=_plain({**tags, PARENT_RUN_TAG: parent_run_id, Key.ROLE: Role.TRIAL}),
            )
            run_id = str(run.info.run_id)
            self.client.log_batch(
                run_id, params=[Param(k, _param_value(v)) for k, v in sorted(params.items())]
            )
            return run_id

    def log_epoch(self, run_id: str, epoch: int, values: dict[str, float]) -> None:
        with self._server():
            stamp = _now_ms()
            self.client.log_batch(
                run_id, metrics=[Metric(k, float(v), stamp, epoch) for k, v in values.items()]
            )

    def log_final(self, run_id: str, metrics: dict[str, float], tags: dict[str, str]) -> None:
        with self._server():
            stamp = _now_ms()
            self.client.log_batch(
                run_id,
                metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items()],
                tags=[RunTag(str(k), str(v)) for k, v in tags.items()],
            )

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        with self._server():
            self.client.log_batch(run_id, tags=[RunTag(str(k), str(v)) for k, v in tags.items()])

    def log_artifacts(self, run_id: str, paths: Iterable[Path], subdir: str | None = None) -> None:
        with self._server():
            for path in paths:
                self.client.log_artifact(run_id, str(path), artifact_path=subdir)

    def end(self, run_id: str, status: RunStatus) -> None:
        """End a run: FINISHED, FAILED or KILLED."""
        with self._server():
            self.client.set_terminated(run_id, status=status)

    def experiments(self) -> list[Any]:
        """Every experiment in the store (MLflow's records)."""
        with self._server():
            return list(self.client.search_experiments())

    def runs_table_url(self, experiment_id: str, port: int = 5000) -> str:
        # MLflow 3's UI opens an experiment in its GenAI view; the runs table has its own route.
        base = redact(self.tracking_uri.rstrip("/")) if is_server(self.tracking_uri) else None
        return f"{base or f'http://127.0.0.1:{port}'}/#/experiments/{experiment_id}/runs"
