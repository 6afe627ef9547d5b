"""What cannot reach a store says, and how long a connection may take: no Optuna, no MLflow.

Shared by the start's checks (`preflight`, before any heavy import) and by Optuna's storage
(`studies`), so both word a missing driver or an unreachable database the same way, and
neither imports the other.
"""

from __future__ import annotations

from cnnlab.sweep.stores.redact import first_line, redact

CONNECT_TIMEOUT_S = 10  # a database server that does not answer: an error, not a silent wait


def cannot_open_storage(url: str, error: BaseException) -> str:
    return (
        f"Cannot open the Optuna storage {redact(url)!r} (--storage): {type(error).__name__}: "
        f"{first_line(error)}. Check the URL (e.g. sqlite:///runs/optuna.db or "
        "postgresql://user@host:5432/db) and that the database server is running and "
        "reachable from this machine."
    )


def missing_driver(url: str, module: str) -> str:
    if module.startswith("psycopg"):
        return (
            f"The Optuna storage {redact(url)!r} (--storage) needs the PostgreSQL driver "
            "psycopg, which is not installed here. Install it with: "
            "pip install 'cnnlab[postgres]'  (or: pip install 'psycopg[binary]')."
        )
    return (
        f"The Optuna storage {redact(url)!r} (--storage) needs the Python module {module!r}, "
        "which is not installed here. Install the driver for that database, or use "
        "sqlite:///… or postgresql://…."
    )
