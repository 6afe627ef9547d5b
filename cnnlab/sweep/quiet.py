"""Library logging for the sweep's entry points: Optuna's per-trial INFO lines and MLflow's
schema-migration notes off, since cnnlab prints its own progress.

Called by the entry points (`python -m cnnlab.sweep`, `cnnlab studies`, `cnnlab ui`), never
at import time: a program that imports cnnlab keeps its own logging configuration.
"""

from __future__ import annotations

import optuna

from cnnlab.sweep.stores.tracking import quiet_mlflow_logging


def quiet_library_logging() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    quiet_mlflow_logging()
