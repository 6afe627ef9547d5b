"""Masking passwords in store URLs before anything prints, logs or records them.

A storage or tracking URL may carry a password (`postgresql://user:secret@host/db`,
`http://user:secret@host:5000`). cnnlab writes such URLs only through `redact`, which keeps
the user and the host and replaces the password, URL-encoded or not, by `***`.
"""

from __future__ import annotations

import re

MASK = "***"

# scheme://user:password@  (the password runs to the last "@" before the host; an unencoded
# "@" in a password is not a valid URL, but is masked all the same)
_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)(?P<password>\S*)@")


def redact(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***`."""
    return _CREDENTIALS.sub(lambda m: f"{m.group('head')}{MASK}@", text)


def first_line(error: BaseException) -> str:
    """The first line of an error's message, redacted ("" for an empty message).

    Database drivers and SQLAlchemy append their SQL and a link to their docs over several
    lines: the first says what happened.
    """
    text = str(error).strip()
    return redact(text.splitlines()[0]) if text else ""
