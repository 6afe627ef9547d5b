"""What a store failing in the middle of a run means to the user.

A database server stopped, a tracking server gone, a full disk: deep inside Optuna, SQLAlchemy,
MLflow or pandas these surface as tracebacks of their own. `store_failure` reads the error (and
the errors it was raised from) and says, in one message, which store, given by which option,
failed and how; that finished cells are kept; and that the same command resumes once the store
is back. Every other error keeps its traceback: it is a bug to report.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

from cnnlab.sweep.options import SweepOptions
from cnnlab.sweep.stores.redact import first_line, redact
from cnnlab.sweep.stores.studies import default_storage_url
from cnnlab.sweep.stores.tracking import default_tracking_uri, unreachable

RESUME = (
    "Finished cells are kept; the cell that was running is marked FAIL, or reaped by the next "
    "run. Run the same command again once it is fixed: it resumes."
)


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _how(text: str) -> str:
    if "refused" in text or "Failed to establish" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    return "connection lost"


def store_failure(error: BaseException, options: SweepOptions) -> str | None:
    """The user's message for a store that failed under a running sweep, or None."""
    for cause in _chain(error):
        text = str(cause)
        if (isinstance(cause, OSError) and cause.errno == errno.ENOSPC) or (
            "database or disk is full" in text or "No space left on device" in text
        ):
            return (
                f"No space left on the disk of {options.runs_dir} (--runs-dir) or of a store in "
                f"it ({'database or disk is full' if 'disk is full' in text else 'ENOSPC'}). "
                f"Free some space. {RESUME}"
            )
        kind = f"{type(cause).__module__}.{type(cause).__name__}"
        if kind.startswith(("sqlalchemy.", "psycopg.")) and "OperationalError" in kind:
            url = options.storage or default_storage_url(options.runs_dir)
            return (
                f"The Optuna storage {redact(url)!r} (--storage) stopped answering: "
                f"{first_line(cause) or type(cause).__name__}. Check that the database server "
                f"is running. {RESUME}"
            )
        if unreachable(cause):
            uri = options.tracking_uri or default_tracking_uri(options.runs_dir)
            return (
                f"The MLflow tracking store {redact(uri)!r} (--tracking-uri) stopped answering "
                f"({_how(text)}, after MLflow's retries). Check that the server is running. "
                f"{RESUME}"
            )
    return None
