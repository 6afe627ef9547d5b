"""Shared fixtures: where the real MNIST is, how to run the command line, a browser, and one
quick pooling sweep that the end-to-end and the MLflow UI tests both read.

Tests that need the real MNIST look for it in CNNLAB_DATA_DIR, then in ../shared/data/mnist
beside the repository. Without it they are skipped on a developer machine but fail under CI
(CI=true), where the data must be present: a silently skipped proof is no proof.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# PostgreSQL's driver before any test module imports TensorFlow: a libpq loaded after
# TensorFlow binds to its bundled TLS library and aborts the whole test process on its first
# TLS connection (see cnnlab.sweep.launch.import_tensorflow_after_drivers).
with contextlib.suppress(ImportError):
    import psycopg  # noqa: F401

from cnnlab.training.result import EpochRecord

REPO = Path(__file__).resolve().parents[1]
# Screenshots and other things a person may want to look at after a run (CI keeps the folder).
ARTIFACTS = Path(os.environ.get("CNNLAB_TEST_ARTIFACTS", REPO / "test-artifacts"))


def _mnist_dir() -> Path | None:
    candidates = [os.environ.get("CNNLAB_DATA_DIR"), str(REPO.parent / "shared" / "data" / "mnist")]
    for candidate in candidates:
        if candidate and (Path(candidate) / "train-labels-idx1-ubyte.gz").is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    found = _mnist_dir()
    if found is None:
        message = "the real MNIST is not available (set CNNLAB_DATA_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def mnist(mnist_dir: Path):  # type: ignore[no-untyped-def]
    from cnnlab.data import load_dataset

    return load_dataset("mnist", data_dir=mnist_dir, only_data_dir=True)


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `python -m cnnlab ARGS` in a fresh process, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cnnlab", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=REPO,
    )


CHROMIUM = Path("/usr/bin/chromium")  # Debian's package
# Offline machine: without these, Chromium tries Google's hosts at start and is refused.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    """Debian's Chromium driven by Playwright; skipped without it, except under CI."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass(frozen=True)
class QuickSweep:
    """`python -m cnnlab.sweep pooling --quick --epochs 2`, run once as a user would: its
    working folder (runs/ and reports/ inside), what it printed and how it ended."""

    folder: Path
    out: str
    err: str
    returncode: int

    @property
    def runs(self) -> Path:
        return self.folder / "runs"


@pytest.fixture(scope="session")
def quick_sweep(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> QuickSweep:
    """The quick pooling sweep with the default `--workers auto`, once per test session.

    Two epochs instead of the quick run's one, so that every per-epoch curve in MLflow has
    more than one point to draw (the UI test counts them).
    """
    folder = tmp_path_factory.mktemp("quick-sweep")
    done = subprocess.run(
        [sys.executable, "-m", "cnnlab.sweep", "pooling", "--quick", "--epochs", "2"],
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ, "CNNLAB_DATA_DIR": str(mnist_dir)},
        timeout=900,
    )
    return QuickSweep(folder, done.stdout, done.stderr, done.returncode)


def open_report_in_browser(browser, index_html: Path) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """Open a report from disk; what a reader sees, and every request the page made."""
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(index_html.resolve().as_uri(), wait_until="load")
    page.wait_for_selector("#verdicts, #arms")
    seen = {
        "requests": requests,
        "verdict_rows": page.locator("#verdicts tbody tr").count(),
        "verdict_cells": page.locator("#verdicts td.verdict").all_inner_texts(),
        "verdict_table_visible": page.locator("#verdicts").is_visible()
        if page.locator("#verdicts").count()
        else False,
        "images": page.eval_on_selector_all(
            "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
        ),
        "text": page.inner_text("body"),
    }
    page.close()
    return seen


def epoch_record(epoch: int = 1, **values: float) -> EpochRecord:
    """An `EpochRecord` with plausible numbers, any of them given."""
    defaults = {
        "loss": 0.1,
        "accuracy": 0.9,
        "val_loss": 0.2,
        "val_accuracy": 0.8,
        "test_loss": 0.3,
        "test_accuracy": 0.7,
        "seconds": 1.0,
        "eval_seconds": 0.1,
    }
    return EpochRecord(epoch=epoch, **{**defaults, **values})  # type: ignore[arg-type]
