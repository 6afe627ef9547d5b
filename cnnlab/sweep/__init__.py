"""Running a sweep: the stage that trains the declared cells, writes the stores and publishes.

Folders, from the bottom up:
- `options`, `parallelism`: values (what a run is asked to do; how many trainings at once)
- `stores/`: Optuna's study and MLflow's runs (the only Optuna storage code and mlflow import)
- `trials/`: one trial's life, here or in worker processes
- `console/`: the estimate, progress and summary the user sees (no Optuna, no MLflow)
- `launch` (the start, before heavy imports), `runner` (the run), `publish` (the report at the
  end), `provenance` (versions and machine), `quiet` (library logging), `__main__` (the
  command line of `python -m cnnlab.sweep` and `cnnlab worker`)

This face re-exports what the command line, the MLflow UI and the benchmarks use. Names load
on first use, so `import cnnlab.sweep` stays light: Optuna and MLflow are imported only by
the names that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnlab.sweep.console.calibration import machine_speed
    from cnnlab.sweep.console.estimate import estimate_sweep, first_look_cells
    from cnnlab.sweep.options import SweepOptions
    from cnnlab.sweep.parallelism import parse_workers, resolve
    from cnnlab.sweep.provenance import git_commit, machine, package_versions
    from cnnlab.sweep.quiet import quiet_library_logging
    from cnnlab.sweep.runner import run_sweep
    from cnnlab.sweep.stores.cache import export_cells
    from cnnlab.sweep.stores.preflight import check_storage
    from cnnlab.sweep.stores.studies import (
        default_storage_url,
        delete_study,
        list_studies,
        open_storage,
    )
    from cnnlab.sweep.stores.tracking import Tracker, default_tracking_uri, quiet_mlflow_logging
    from cnnlab.sweep.trials.events import Done, Failed
    from cnnlab.sweep.trials.workers import WorkerPool

# name -> the module that defines it
_FACE = {
    "machine_speed": "console.calibration",
    "estimate_sweep": "console.estimate",
    "first_look_cells": "console.estimate",
    "SweepOptions": "options",
    "parse_workers": "parallelism",
    "resolve": "parallelism",
    "git_commit": "provenance",
    "machine": "provenance",
    "package_versions": "provenance",
    "quiet_library_logging": "quiet",
    "run_sweep": "runner",
    "export_cells": "stores.cache",
    "check_storage": "stores.preflight",
    "default_storage_url": "stores.studies",
    "delete_study": "stores.studies",
    "list_studies": "stores.studies",
    "open_storage": "stores.studies",
    "Tracker": "stores.tracking",
    "default_tracking_uri": "stores.tracking",
    "quiet_mlflow_logging": "stores.tracking",
    "Done": "trials.events",
    "Failed": "trials.events",
    "WorkerPool": "trials.workers",
}
__all__ = [
    "Done",
    "Failed",
    "SweepOptions",
    "Tracker",
    "WorkerPool",
    "check_storage",
    "default_storage_url",
    "default_tracking_uri",
    "delete_study",
    "estimate_sweep",
    "export_cells",
    "first_look_cells",
    "git_commit",
    "list_studies",
    "machine",
    "machine_speed",
    "open_storage",
    "package_versions",
    "parse_workers",
    "quiet_library_logging",
    "quiet_mlflow_logging",
    "resolve",
    "run_sweep",
]


def __getattr__(name: str) -> Any:
    """Load a face name from its module on first use (PEP 562)."""
    if name not in _FACE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_FACE[name]}"), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value
