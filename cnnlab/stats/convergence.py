"""The pilot rule that fixes a training budget before the sweeps that use it start.

"Converged" at the first epoch E at which the mean validation accuracy (over the pilot's
seeds) of *every* arm has risen by less than `RISE` (0.05 pp) over the last `WINDOW` (2)
epochs, from E − 2 to E. Validation accuracy, never test accuracy: the budget must not be
chosen on the data the verdicts are judged on. A fall counts as "less than" a rise, so an arm
that has begun to overfit has converged. The pilot runs on seeds outside the sweeps' own, so the
run that fixes a budget never also counts as evidence under it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

RISE = 0.0005  # 0.05 percentage points, as a fraction
WINDOW = 2  # epochs


@dataclass(frozen=True)
class Convergence:
    """The pilot's mean validation curves and the epoch the rule picks (None: not within the
    epochs the pilot trained)."""

    curves: dict[str, tuple[float, ...]]  # arm -> mean validation accuracy after epochs 1, 2, …
    seeds: dict[str, int]  # arm -> seeds averaged
    epoch: int | None
    rises: dict[str, float]  # arm -> its rise over the window ending at `epoch` (or the last)


def mean_curves(epochs: pd.DataFrame) -> tuple[dict[str, tuple[float, ...]], dict[str, int]]:
    """Per arm, the mean validation accuracy at each epoch over the seeds that reached it all."""
    curves: dict[str, tuple[float, ...]] = {}
    seeds: dict[str, int] = {}
    for arm, rows in epochs.groupby("arm", sort=False):
        wide = rows.pivot_table(index="seed", columns="epoch", values="val_accuracy")
        wide = wide.dropna()  # a seed with a missing epoch would bend the mean curve
        curves[str(arm)] = tuple(float(x) for x in wide.mean(axis=0).to_numpy())
        seeds[str(arm)] = len(wide)
    return curves, seeds


def converged_epoch(epochs: pd.DataFrame) -> Convergence:
    """The pilot rule (module docstring) on an epochs table (arm, seed, epoch, val_accuracy)."""
    curves, seeds = mean_curves(epochs)
    length = min((len(c) for c in curves.values()), default=0)
    for epoch in range(WINDOW + 1, length + 1):
        rises = {arm: c[epoch - 1] - c[epoch - 1 - WINDOW] for arm, c in curves.items()}
        if all(rise < RISE for rise in rises.values()):
            return Convergence(curves, seeds, epoch, rises)
    last = {
        arm: (c[length - 1] - c[length - 1 - WINDOW]) if length > WINDOW else float("nan")
        for arm, c in curves.items()
    }
    return Convergence(curves, seeds, None, last)
