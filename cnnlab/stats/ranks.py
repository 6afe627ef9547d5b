"""The signed-rank test as a diagnostic beside the t interval, on differences at their resolution.

Accuracies are counts over a test set (k / 10,000), so paired differences move in steps of
1/10,000 and are often exactly 0 or tied. Floating-point subtraction turns those into ±1e-17
noise, which a rank test would happily rank. `snap` rounds differences back to the metric's
resolution first; zeros are then kept in the ranking (Pratt 1959), which is the treatment that
does not throw information away. The t interval decides verdicts (`cnnlab.stats.paired`); this
test only says whether a distribution-free reading agrees, and when the number of non-zero
pairs is too small for it to reach the claim's level at all, it says so instead of a p-value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

# Without a known resolution, round away only subtraction noise (relative to the largest |d|).
_RELATIVE = 1e-9


def snap(differences: Sequence[float] | np.ndarray, resolution: float | None) -> np.ndarray:
    """Differences rounded to `resolution` (e.g. 1e-4 for a 10,000-image test set)."""
    d = np.asarray(differences, dtype=float)
    if resolution:
        return np.round(d / resolution) * resolution
    scale = float(np.max(np.abs(d))) if len(d) else 0.0
    if scale == 0:
        return d
    step = _RELATIVE * scale
    return np.round(d / step) * step


@dataclass(frozen=True)
class RankCheck:
    p_value: float | None  # None: not computed (see note)
    note: str


def signed_rank(
    differences: Sequence[float] | np.ndarray, resolution: float | None, alpha: float
) -> RankCheck:
    """Wilcoxon's signed-rank test with Pratt's zeros, or why it cannot decide at `alpha`."""
    d = snap(differences, resolution)
    nonzero = int(np.count_nonzero(d))
    # The exact two-sided test's smallest p with m non-zero pairs is 2 / 2^m (all of one sign).
    smallest = 2.0 / 2.0**nonzero if nonzero else 1.0
    if smallest >= alpha:
        return RankCheck(
            None,
            f"the signed-rank test cannot reach the claim's level α = {alpha:.3g} with "
            f"{nonzero} non-zero paired difference{'s' if nonzero != 1 else ''} (its smallest "
            f"possible p is {smallest:.3g}), so it is not run",
        )
    p = float(sps.wilcoxon(d, zero_method="pratt").pvalue)
    zeros = len(d) - nonzero
    return RankCheck(
        p,
        f"Wilcoxon signed-rank (Pratt's treatment of {zeros} zero difference"
        f"{'s' if zeros != 1 else ''}) p = {p:.2g}",
    )
