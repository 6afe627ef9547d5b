"""What this machine has measured: the ratio of each finished trial's seconds to its estimate.

The shipped cost model (`cnnlab.sweep.console.estimate`) was calibrated on the project's own
machine.
Every finished trial appends measured / estimated seconds to RUNS_DIR/calibration.json, kept
per parallelism (`workers=2,threads=1`: the same code on one thread and on all cores is a
different speed); the median of the recent ones (`MachineSpeed`) scales every later estimate
on this runs folder: `cnnlab list --runs-dir`, the plan a sweep prints, and its ETA. The file
is small, rewritten atomically, and safe to delete (the estimates fall back to the shipped
calibration); a damaged one is ignored with a warning, never an error.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from cnnlab.sweep.console.estimate import MachineSpeed, measured_speed
from cnnlab.sweep.parallelism import Parallelism

FILE = "calibration.json"
KEEP = 50  # the most recent ratios kept per parallelism


def _key(parallelism: Parallelism) -> str:
    return f"workers={parallelism.workers},threads={parallelism.threads}"


def _read(path: Path) -> dict[str, list[float]]:
    try:
        data = json.loads(path.read_text())
        return {str(k): [float(r) for r in v] for k, v in data["ratios"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        sys.stderr.write(
            f"Warning: ignoring {path} ({type(error).__name__}: {error}); the estimates use "
            "the shipped calibration. Delete the file to start measuring afresh.\n"
        )
        return {}


def machine_speed(runs_dir: Path, parallelism: Parallelism) -> MachineSpeed:
    """The runs folder's measured speed for this parallelism (shipped calibration if none)."""
    return measured_speed(_read(runs_dir / FILE).get(_key(parallelism), []), recent=KEEP)


def record(runs_dir: Path, parallelism: Parallelism, estimated: float, measured: float) -> None:
    """Append one finished trial's measured / estimated ratio."""
    if estimated <= 0 or measured <= 0 or not runs_dir.is_dir():
        return
    path = runs_dir / FILE
    ratios = _read(path)
    kept = ratios.setdefault(_key(parallelism), [])
    kept.append(round(measured / estimated, 4))
    ratios[_key(parallelism)] = kept[-KEEP:]
    text = json.dumps({"ratios": ratios}, indent=1, sort_keys=True)
    with tempfile.NamedTemporaryFile("w", dir=runs_dir, delete=False, suffix=".tmp") as tmp:
        tmp.write(text)
    Path(tmp.name).replace(path)  # atomic: a reader never sees half a file
