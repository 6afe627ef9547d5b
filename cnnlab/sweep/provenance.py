"""Provenance recorded with every run: the git commit and the versions of what computed it.

Results depend on versions (Optuna's sampler defaults, TensorFlow's kernels), so each run
records them next to its thread settings; reports repeat them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cnnlab.version import __version__


def git_commit() -> str:
    """The commit of the code that runs (`-dirty` when its tree has edits), asked of the tree
    the package was imported from, not of the current folder: a host started from anywhere
    records it. Outside a git checkout (a wheel install): `v<version>`."""
    source = Path(__file__).resolve().parents[2]  # cnnlab/sweep/provenance.py -> the tree
    try:
        top, commit = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.splitlines()
        if Path(top).resolve() != source:  # an installed copy inside some other repository
            return f"v{__version__}"
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"v{__version__}"
    return commit + ("-dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"cnnlab": __version__, "python": sys.version.split()[0]}
    # What trains (TensorFlow, Keras, NumPy), samples and stores (Optuna, MLflow), and what
    # computes the verdicts and draws the figures (pandas, SciPy, statsmodels, seaborn).
    names = ("tensorflow", "keras", "numpy", "optuna", "mlflow", "pandas", "scipy", "statsmodels")
    for name in (*names, "seaborn", "matplotlib"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def machine() -> dict[str, str]:
    """What computed it: host, OS, CPU model and core count (timings depend on all four)."""
    import os
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass  # not Linux: platform.processor() is the best there is
    return {
        "host": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu": cpu,
        "cores": str(os.cpu_count() or 0),
    }
