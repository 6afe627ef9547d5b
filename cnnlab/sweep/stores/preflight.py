"""Checking a run's output folders and stores before any work starts.

A bad `--runs-dir`, `--reports-dir`, `--storage` or `--tracking-uri` used to surface as a
traceback after ~20 s of start-up, or (a report folder) only after every trial had trained,
and `--dry-run` said "ok" to all of them. `check_run_inputs` runs first, in a dry run too,
before the dataset is loaded and before TensorFlow is imported: it creates nothing, and says
which option, which value and what to do. It imports no Optuna and no MLflow (SQLAlchemy
only, for a database server), so it costs well under a second.
"""

from __future__ import annotations

import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from cnnlab.errors import CnnlabError
from cnnlab.sweep.options import SweepOptions
from cnnlab.sweep.stores.connection import (
    CONNECT_TIMEOUT_S,
    cannot_open_storage,
    handshake_refused,
    missing_driver,
    tracking_ssl_context,
)
from cnnlab.sweep.stores.redact import redact

SERVER_ANSWER_S = 5.0  # how long the start waits for a tracking server to answer at all


def check_run_inputs(options: SweepOptions) -> None:
    """Refuse unusable output folders and unreachable stores (see the module docstring)."""
    check_output_folder("--runs-dir", options.runs_dir)
    if options.reports_dir is not None:
        check_output_folder("--reports-dir", options.reports_dir)
    if options.storage is not None:
        check_storage(options.storage)
    if options.tracking_uri is not None:
        check_tracking_uri(options.tracking_uri)


def check_output_folder(option: str, folder: Path) -> None:
    """`folder` is a folder this process can write in, or can be created (nothing is made)."""
    if folder.exists() and not folder.is_dir():
        raise CnnlabError(
            f"{option} {folder} is a file, not a folder. Name a folder (it is created if it "
            f"does not exist), e.g. {option} {folder.with_suffix('')}-folder."
        )
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise CnnlabError(
            f"{option} {folder} cannot be created: {existing} is a file. Name a folder "
            "whose parents are folders."
        )
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise CnnlabError(
            f"{option} {folder} is not writable ({error.strerror} in {existing}). Name a "
            "folder you can write to."
        ) from None


def _check_storage_file(url: str, path: Path) -> None:
    """A storage file (SQLite or journal) that is not a folder, in a folder that can be written."""
    if path.is_dir():
        raise CnnlabError(
            f"--storage {url} names a folder, not a database file. Name a file in it: "
            f"--storage sqlite:///{path / 'optuna.db'} (SQLite) or --storage "
            f"{path / 'optuna.journal'} (a journal file), or leave --storage out for "
            "RUNS_DIR/optuna.db."
        )
    check_output_folder("--storage", path.parent)


def check_storage(url: str) -> None:
    """A storage URL whose file can be written, or whose database server answers.

    The connection is thrown away: Optuna opens its own later, after the heavy imports this
    check runs before. One extra connection is milliseconds; a refused one here saves ~20 s.
    """
    if "://" not in url:  # a journal file
        _check_storage_file(url, Path(url))
        return
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path not in ("", ":memory:"):
            _check_storage_file(url, Path(path))
        return
    from sqlalchemy import create_engine, exc
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        raise CnnlabError(
            f"--storage {redact(url)!r} is not a database URL. Write e.g. "
            "sqlite:///runs/optuna.db or postgresql://user:password@host:5432/database."
        ) from None
    check_password_encoded(url, parsed.host)
    connect_args = (
        {"connect_timeout": CONNECT_TIMEOUT_S} if parsed.drivername.startswith("postgresql") else {}
    )
    try:
        engine = create_engine(parsed, connect_args=connect_args)
    except ModuleNotFoundError as error:
        raise CnnlabError(missing_driver(url, error.name or str(error))) from None
    except exc.NoSuchModuleError:
        raise CnnlabError(
            f"--storage {redact(url)!r}: SQLAlchemy knows no database called "
            f"{parsed.drivername!r}. Write e.g. sqlite:///runs/optuna.db or "
            "postgresql://user:password@host:5432/database."
        ) from None
    try:
        with engine.connect():
            pass
    except exc.SQLAlchemyError as error:
        raise CnnlabError(cannot_open_storage(url, error)) from None
    finally:
        engine.dispose()


# The tracking URIs MLflow's client stores to (a database URL: through SQLAlchemy).
TRACKING_SCHEMES = ("http", "https", "file", "sqlite", "postgresql", "mysql", "mssql", "databricks")


ENCODE_PASSWORD = (
    'python3 -c \'import os, urllib.parse; print(urllib.parse.quote(os.environ["PGPASSWORD"], '
    'safe=""))\''
)


def check_password_encoded(url: str, host: str | None) -> None:
    """Refuse a database URL whose password holds a raw `@`: SQLAlchemy then reads the rest of
    the password as the host, and the driver's error blames name resolution."""
    if host and "@" in host:
        raise CnnlabError(
            f"--storage {redact(url)!r}: the password holds an '@' that is not percent-encoded, "
            "so its rest is read as the host. Percent-encode the password (@ is %40, % is %25, "
            f"space %20), e.g. with PGPASSWORD set: {ENCODE_PASSWORD}; or leave it out of the "
            "URL and set PGPASSWORD (which needs no encoding)."
        )


def check_tracking_uri(uri: str) -> None:
    """A tracking server that answers, or a local store whose folder can be written."""
    scheme = uri.partition("://")[0].split("+")[0] if "://" in uri else ""
    if scheme and scheme not in TRACKING_SCHEMES:
        raise CnnlabError(
            f"--tracking-uri {redact(uri)!r}: MLflow stores runs to no {scheme}:// address. "
            "Give a tracking server (http://HOST:PORT or https://HOST:PORT), a database "
            "(sqlite:///runs/mlflow.db, postgresql://…) or a folder."
        )
    if uri.startswith(("http://", "https://")):
        check_server_answers(uri)
    elif uri.startswith("sqlite:///"):
        check_output_folder("--tracking-uri", Path(uri.removeprefix("sqlite:///")).parent)
    elif uri.startswith("file://"):
        check_output_folder("--tracking-uri", Path(uri.removeprefix("file://")))
    elif "://" not in uri:
        check_output_folder("--tracking-uri", Path(uri))


def check_server_answers(tracking_uri: str) -> None:
    """Refuse a tracking server that does not answer within SERVER_ANSWER_S (any HTTP answer
    will do: the store's own errors come later, in MLflow's words)."""
    if not urllib.parse.urlsplit(tracking_uri).hostname:
        raise CnnlabError(
            f"--tracking-uri {redact(tracking_uri)!r} names no host. Write "
            "http://HOST:PORT (or https://HOST:PORT), e.g. http://127.0.0.1:5000."
        )
    context = tracking_ssl_context() if tracking_uri.startswith("https://") else None
    try:
        with urllib.request.urlopen(
            f"{tracking_uri.rstrip('/')}/health", timeout=SERVER_ANSWER_S, context=context
        ):
            return
    except urllib.error.HTTPError:
        return  # it answered
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        handshake = handshake_refused(tracking_uri, reason)
        if handshake:
            raise CnnlabError(handshake) from None
        raise CnnlabError(
            f"The MLflow tracking server {redact(tracking_uri)!r} (--tracking-uri) did not "
            f"answer within {SERVER_ANSWER_S:.0f} s ({redact(str(reason))}). Start it "
            "(mlflow server --host HOST --port PORT …), check the host and port, or leave "
            "--tracking-uri out to use RUNS_DIR/mlflow.db."
        ) from None
