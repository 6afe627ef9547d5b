"""Figures made and saved without pyplot: no backend to choose, no global registry of figures.

A `matplotlib.figure.Figure` made directly renders with Agg when it is saved, so nothing has
to be configured at import time (`matplotlib.use`) and nothing has to be closed afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure


def new_figure(nrows: int = 1, ncols: int = 1, **options: Any) -> tuple[Figure, Any]:
    """A figure and its axes, as `plt.subplots` returns them (`figsize`, `sharey`, ...)."""
    figsize = options.pop("figsize", None)
    figure = Figure(figsize=figsize)
    return figure, figure.subplots(nrows, ncols, **options)


def save_png(figure: Figure, path: Path, dpi: int) -> Path:
    """Lay out and write `figure` as a PNG, without the "Software" metadata (the bytes then
    depend on the data, not on the build)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=dpi, metadata={"Software": None})
    return path
