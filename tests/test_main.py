"""`python -m cnnlab` (cnnlab/__main__.py) and `python -m cnnlab.ui`'s arguments, in-process."""

from __future__ import annotations

import runpy
import sys

import pytest

from cnnlab import ui


def test_python_dash_m_cnnlab_is_the_cnnlab_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["cnnlab", "summary", "small"])
    with pytest.raises(SystemExit) as ended:
        runpy.run_module("cnnlab", run_name="__main__")
    assert ended.value.code == 0
    assert "113,386" in capsys.readouterr().out  # the small CNN's parameters


def test_the_ui_refuses_a_port_that_is_not_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        ui.build_parser().parse_args(["--port", "99999"])
    assert ended.value.code == 2
    assert "'99999' is not a port; give a number from 1 to 65535" in capsys.readouterr().err
    assert ui.build_parser().parse_args(["--port", "5001"]).port == 5001
