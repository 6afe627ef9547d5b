"""nox sessions for cnnlab. Every session installs from requirements/lock.txt, as CI does."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests"]  # bench, sweep, report, ui: on request

LOCK = "requirements/lock.txt"
SOURCES = ("cnnlab", "tests", "benchmarks", "experiments", "noxfile.py")


def _install(session: nox.Session, extras: str) -> None:
    session.install("-r", LOCK, "-e", f".[{extras}]")


# The fast tests: no real MNIST, no command line end to end, no servers or browser (about
# 2 minutes on 2 cores). `all` is the whole suite, as the README's test command and CI run it.
FAST = "not slow and not integration"


@nox.session
def tests(session: nox.Session) -> None:
    """Run the fast tests (pass pytest arguments after --, e.g. -- tests/stats)."""
    _install(session, "test")
    session.run("pytest", "-m", FAST, *session.posargs)


@nox.session
def tables(session: nox.Session) -> None:
    """Print the simulated tables docs/statistics.md quotes (several minutes; not a check)."""
    _install(session, "test")
    session.run("pytest", "-m", "tables", "-s", *session.posargs)
    session.run("python", "-m", "cnnlab.stats.replication.verdict")


@nox.session(name="all")
def all_tests(session: nox.Session) -> None:
    """Run the whole test suite, slow and integration tests included (about 45 minutes)."""
    _install(session, "test")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff."""
    session.install("-c", LOCK, "ruff")  # the pinned ruff alone: linting needs no TensorFlow
    session.run("ruff", "check", *SOURCES)
    session.run("ruff", "format", "--check", *SOURCES)


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the cnnlab package with mypy (strict)."""
    _install(session, "dev")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Sweep throughput against the naive Optuna loop and the seed's script (22–25 min);
    writes benchmarks/results/throughput.{json,md}. Arguments go to benchmarks/throughput.py."""
    _install(session, "test")
    session.run("python", "benchmarks/throughput.py", *session.posargs)


@nox.session
def sweep(session: nox.Session) -> None:
    """Run a sweep, e.g. `nox -s sweep -- pooling --quick` (arguments go to cnnlab.sweep)."""
    _install(session, "test")
    session.run("python", "-m", "cnnlab.sweep", *(session.posargs or ["pooling", "--quick"]))


@nox.session
def report(session: nox.Session) -> None:
    """Rebuild a report from its results.csv, e.g. `nox -s report -- pooling --quick`."""
    _install(session, "test")
    session.run("python", "-m", "cnnlab.report", *(session.posargs or ["pooling", "--quick"]))


@nox.session
def ui(session: nox.Session) -> None:
    """Start the MLflow UI over runs/ (arguments go to cnnlab.ui, e.g. -- --port 5001)."""
    _install(session, "test")
    session.run("python", "-m", "cnnlab.ui", *session.posargs)
