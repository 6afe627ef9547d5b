"""Provenance recorded with every run: the git commit and the versions of what computed it.

Results depend on versions (Optuna's sampler defaults, TensorFlow's kernels), so each run
records them next to its thread settings; reports repeat them.
"""

from __future__ import annotations

import subprocess
import sys

from cnnlab import __version__


def git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"cnnlab": __version__, "python": sys.version.split()[0]}
    for name in ("tensorflow", "keras", "numpy", "optuna", "mlflow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out
