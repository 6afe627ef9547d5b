"""The checks before a run starts, and the words for stores that fail: fast, no servers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cnnlab.errors import CnnlabError, did_you_mean
from cnnlab.spec.design import definition_changes
from cnnlab.sweep.options import SweepOptions
from cnnlab.sweep.stores.failures import store_failure
from cnnlab.sweep.stores.preflight import check_output_folder, check_storage
from cnnlab.sweep.stores.redact import redact


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "postgresql://cnn:s3cr%40t%20pw@127.0.0.1:5432/db",
            "postgresql://cnn:***@127.0.0.1:5432/db",
        ),
        ("postgresql+psycopg://a:b@h/d", "postgresql+psycopg://a:***@h/d"),
        ("http://user:pw@host:5000/x", "http://user:***@host:5000/x"),
        ("sqlite:///runs/optuna.db", "sqlite:///runs/optuna.db"),
        ("postgresql://cnn@h/db", "postgresql://cnn@h/db"),
        (
            "see http://a:b@c and postgresql://d:e@f/g",
            "see http://a:***@c and postgresql://d:***@f/g",
        ),
    ],
)
def test_passwords_in_urls_are_masked_and_nothing_else(text: str, masked: str) -> None:
    assert redact(text) == masked


def test_a_missing_postgres_driver_is_named_with_the_extra_that_installs_it() -> None:
    # A fresh interpreter where psycopg cannot be imported, as on a machine without the extra.
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from cnnlab.sweep.stores.preflight import check_storage\n"
        "check_storage('postgresql://me:secret@127.0.0.1:1/db')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "pip install 'cnnlab[postgres]'" in last and "secret" not in last


def test_output_folders_that_cannot_be_used_are_refused_and_nothing_is_made(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(CnnlabError, match=r"--runs-dir .* is a file"):
        check_output_folder("--runs-dir", a_file)
    with pytest.raises(CnnlabError, match=r"cannot be created: .* is a file"):
        check_output_folder("--reports-dir", a_file / "below" / "deeper")
    check_output_folder("--runs-dir", tmp_path / "new" / "runs")  # creatable: fine
    assert not (tmp_path / "new").exists()
    with pytest.raises(CnnlabError, match="SQLAlchemy knows no database called 'nosuch'"):
        check_storage("nosuch://x")


def test_a_changed_definition_is_named_field_by_field() -> None:
    old = {"base": {"train": {"epochs": 3, "batch_size": 128}}, "factors": [{"levels": [1, 2]}]}
    new = {"base": {"train": {"epochs": 5, "batch_size": 128}}, "factors": [{"levels": [1, 3]}]}
    assert definition_changes(old, new) == [
        "base.train.epochs: 3 -> 5",
        "factors[0].levels[1]: 2 -> 3",
    ]
    assert definition_changes(old, old) == []


def test_near_misses_are_suggested_and_far_ones_are_not() -> None:
    assert did_you_mean("poolng", ["pooling", "dropout"]) == " Did you mean 'pooling'?"
    assert did_you_mean("zzz", ["pooling", "dropout"]) == ""


def test_store_failures_are_told_apart_from_bugs(tmp_path: Path) -> None:
    options = SweepOptions(runs_dir=tmp_path, storage="postgresql://u:pw@h/db")
    full = OSError(28, "No space left on device")
    assert "No space left" in (store_failure(full, options) or "")
    try:
        try:
            raise ConnectionRefusedError("Connection refused")
        except ConnectionRefusedError as cause:
            from sqlalchemy.exc import OperationalError

            raise OperationalError("SELECT 1", {}, cause) from cause
    except OperationalError as error:
        message = store_failure(error, options) or ""
    assert "--storage" in message and "u:***@" in message and "resumes" in message
    assert store_failure(ValueError("a bug"), options) is None
