"""Library logging for the entry points (cnnlab/sweep/quiet.py): Optuna's per-trial INFO lines
off, set only when an entry point asks (nothing configures at import time)."""

from __future__ import annotations

import optuna

from cnnlab.sweep.quiet import quiet_library_logging


def test_quieting_turns_optunas_info_lines_off() -> None:
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        quiet_library_logging()
        assert optuna.logging.get_verbosity() == optuna.logging.WARNING
    finally:
        optuna.logging.set_verbosity(before)
