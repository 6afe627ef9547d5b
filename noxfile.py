"""nox sessions for cnnlab. Every session installs from requirements/lock.txt, as CI does."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests"]  # bench only on request

LOCK = "requirements/lock.txt"


def _install(session: nox.Session, extras: str) -> None:
    session.install("-r", LOCK, "-e", f".[{extras}]")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (pass pytest arguments after --, e.g. -- -m 'not slow')."""
    _install(session, "test")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff."""
    session.install("-c", LOCK, "ruff")  # the pinned ruff alone: linting needs no TensorFlow
    session.run("ruff", "check", "cnnlab", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "cnnlab", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the cnnlab package with mypy (strict)."""
    _install(session, "dev")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Time one training epoch: plain Keras fit against cnnlab's loop (fp32 and bf16)."""
    _install(session, "test")
    session.run("python", "benchmarks/epoch_time.py", *session.posargs)
