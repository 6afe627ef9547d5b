"""Group sequential boundaries on the z scale: spending functions, boundaries, crossing odds.

This module owns the boundaries of group sequential tests of a normal statistic and the
probabilities of crossing them; nothing about t statistics, claims or sweeps. A trial looks
at information fractions 0 < t_1 < … < t_K = 1 and computes Z_k = S(t_k)/√t_k, where S is a
Brownian motion in information time with drift θ√I_max (independent increments, so
corr(Z_j, Z_k) = √(t_j/t_k)). A two-sided test (sides=2) stops at the first look with
|Z_k| ≥ z_k, a one-sided test (sides=1) at the first with Z_k ≥ z_k.

- `spent`: the Lan–DeMets alpha spending functions (O'Brien–Fleming type, Pocock type,
  Hwang–Shih–DeCani), cumulative alpha spent by each look;
- `spending_boundaries`: the boundaries that spend exactly those increments under θ = 0
  (Lan & DeMets 1983), so looks need not be equally spaced or planned in advance;
- `classical_boundaries`: Pocock's and O'Brien & Fleming's constant-C boundaries for equally
  spaced looks, kept to check the numerics against the published tables;
- `crossing_by_tail`, `crossing_probabilities`, `expected_fraction`: the operating
  characteristics of any boundary at a given drift.

Crossing probabilities come from the recursive numerical integration of Armitage, McPherson &
Rowe (1969) on the grid of Jennison & Turnbull (2000, ch. 19) with Simpson's rule; the
boundaries and spending functions follow Jennison & Turnbull (2000, ch. 2, 7) and Lan, K. K. G.
& DeMets, D. L. (1983), "Discrete sequential boundaries for clinical trials", Biometrika 70,
659–663. R's gsDesign is the reference implementation the tests compare against.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import optimize, special
from scipy import stats as sps

SpendingKind = Literal["obrien-fleming", "pocock", "hsd"]
Shape = Literal["obrien-fleming", "pocock"]
Array = npt.NDArray[np.float64]

# Jennison & Turnbull's grid parameter. Against r = 120, gsDesign's r = 18 leaves crossing
# probabilities off by up to 3e-7 on designs of 4 to 10 looks, r = 32 by 3e-8 (boundaries by
# 5e-8), which clears the 1e-7 target for a few hundred grid points a look.
GRID_R = 32
# P(Z ≥ 8.5) ≈ 1e-17: a look that is to spend less than that cannot be told from one that
# spends nothing in double precision, so its boundary stops here instead of chasing the root.
Z_MAX = 8.5
# Fractions computed as sums (0.1 + … + 0.1) miss 1 by a few ulps; that is still the last look.
_ONE_TOLERANCE = 1e-9

_SQRT_2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Boundaries:
    """Critical values of a group sequential test on the z scale, one per look.

    The test rejects at look k when |Z_k| ≥ z[k] (sides=2) or Z_k ≥ z[k] (sides=1); z[k] is
    inf at a look that may not reject. `spent` is the cumulative alpha the design allots by
    each look (for classical boundaries, what they spend under θ = 0).
    """

    fractions: tuple[float, ...]
    z: tuple[float, ...]
    sides: int
    alpha: float
    spent: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.sides not in (1, 2):
            raise ValueError(f"sides must be 1 or 2, got {self.sides!r}")
        if not len(self.fractions) == len(self.z) == len(self.spent):
            raise ValueError(
                f"fractions, z and spent must have one entry per look, got "
                f"{len(self.fractions)}, {len(self.z)} and {len(self.spent)}"
            )
        if any(math.isnan(z) for z in self.z):
            raise ValueError(f"a boundary is NaN: {self.z}")

    def nominal(self) -> tuple[float, ...]:
        """The single-look p-value level of each boundary: sides·(1 − Φ(z_k))."""
        return tuple(float(self.sides * sps.norm.sf(z)) for z in self.z)


def _fractions(fractions: Sequence[float] | np.ndarray) -> Array:
    t = np.asarray(fractions, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"fractions must be a non-empty sequence of numbers, got {fractions!r}")
    for value in t:
        if not (0.0 < value <= 1.0 + _ONE_TOLERANCE):
            raise ValueError(f"information fractions must lie in (0, 1], got {float(value)!r}")
    for before, after in itertools.pairwise(t):
        if not after > before:
            raise ValueError(
                f"information fractions must be strictly increasing, got {float(after)!r} "
                f"after {float(before)!r}"
            )
    if abs(t[-1] - 1.0) > _ONE_TOLERANCE:
        raise ValueError(
            f"the last information fraction must be 1 (the final analysis), got {float(t[-1])!r}"
        )
    t[-1] = 1.0
    return t


def _check_alpha(alpha: float) -> None:
    if not (0.0 < alpha < 1.0):
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")


def _check_sides(sides: int) -> None:
    if sides not in (1, 2):
        raise ValueError(f"sides must be 1 or 2, got {sides!r}")


def spent(
    kind: SpendingKind,
    fractions: Sequence[float] | np.ndarray,
    alpha: float,
    gamma: float = -4.0,
) -> Array:
    """Cumulative alpha spent by each information fraction, under a Lan–DeMets function.

    - "obrien-fleming": 2 − 2Φ(Φ⁻¹(1 − α/2)/√t) (Lan & DeMets 1983; gsDesign's sfLDOF);
    - "pocock": α·ln(1 + (e − 1)t);
    - "hsd": Hwang–Shih–DeCani, α(1 − e^{−γt})/(1 − e^{−γ}), and αt at γ = 0.

    α is the alpha the whole boundary spends (both tails together when it is two-sided).
    """
    t = _fractions(fractions)
    _check_alpha(alpha)
    if kind == "obrien-fleming":
        # sf and isf rather than 1 − cdf: early looks spend 1e-12 and less, which 1 − Φ loses.
        out = 2.0 * sps.norm.sf(sps.norm.isf(alpha / 2.0) / np.sqrt(t))
    elif kind == "pocock":
        out = alpha * np.log1p((math.e - 1.0) * t)
    elif kind == "hsd":
        if not math.isfinite(gamma):
            raise ValueError(f"gamma must be finite, got {gamma!r}")
        if gamma == 0.0:
            out = alpha * t
        elif gamma > 0.0:
            out = alpha * np.expm1(-gamma * t) / math.expm1(-gamma)
        else:
            # (e^{gt} − 1)/(e^g − 1) with g = −γ overflows for large g; this form cannot.
            g = -gamma
            out = alpha * np.exp(g * (t - 1.0)) * np.expm1(-g * t) / math.expm1(-g)
    else:
        raise ValueError(f"spending kind must be 'obrien-fleming', 'pocock' or 'hsd', got {kind!r}")
    out = np.asarray(out, dtype=np.float64)
    # Rounding must not leave a sliver of alpha unspent (or overspent) at the final look.
    out[-1] = alpha
    return np.maximum.accumulate(out)


# --- the recursion (Jennison & Turnbull 2000, ch. 19) ----------------------------------------


@dataclass(frozen=True)
class _Density:
    """The sub-density of Z_k over paths still running, on a grid, times Simpson weights.

    Look 0 is a point mass at S = 0, so every look, the first included, takes the same step.
    """

    z: Array
    weighted: Array  # Simpson weight × density at each grid point
    root_t: float  # √t_k


_START = _Density(z=np.zeros(1), weighted=np.ones(1), root_t=0.0)


def _grid(mean: float, lower: float, upper: float) -> tuple[Array, Array]:
    """Jennison & Turnbull's grid on (lower, upper) for a density centred at `mean`, with weights.

    Points are dense within ±3 of the mean and spaced logarithmically out to ±(3 + 4 ln r),
    where the normal tail is too thin to matter; the boundaries become grid ends, so the
    integrand is smooth on every Simpson panel.
    """
    r = GRID_R
    i = np.arange(1, 6 * r, dtype=np.float64)
    offsets = np.where(
        i < r,
        -3.0 - 4.0 * np.log(r / i),
        np.where(
            i <= 5 * r,
            -3.0 + 3.0 * (i - r) / (2.0 * r),
            3.0 + 4.0 * np.log(r / (6 * r - i)),
        ),
    )
    x = mean + offsets
    lo = max(lower, float(x[0]))
    hi = min(upper, float(x[-1]))
    if not hi > lo:
        # Nothing of the density is left between the boundaries (to 1e-30 or so).
        empty = np.zeros(0)
        return empty, empty
    x = np.concatenate(([lo], x[(x > lo) & (x < hi)], [hi]))
    widths = np.diff(x)
    points = np.empty(2 * x.size - 1)
    points[0::2] = x
    points[1::2] = x[:-1] + widths / 2.0
    weights = np.zeros_like(points)
    weights[0:-1:2] += widths / 6.0
    weights[2::2] += widths / 6.0
    weights[1::2] = 4.0 * widths / 6.0
    return points, weights


def _step(previous: _Density, t: float, drift: float) -> tuple[Array, float, float]:
    """What one look needs from the last: S_{k−1} at the grid, the increment's mean and SD."""
    delta = t - previous.root_t**2
    return previous.z * previous.root_t, drift * delta, math.sqrt(delta)


def _crossing(
    previous: _Density, t: float, drift: float, z: float, sides: int
) -> tuple[float, float]:
    """P(upper, lower first crossing at this look), given the density over paths still running."""
    if math.isinf(z) or previous.z.size == 0:
        return 0.0, 0.0
    s_previous, increment_mean, sd = _step(previous, t, drift)
    level = z * math.sqrt(t)
    # P(S_k ≥ z√t_k | S_{k−1}) and P(S_k ≤ −z√t_k | S_{k−1}), each as a lower tail so that
    # probabilities of 1e-15 keep their digits.
    upper = float(previous.weighted @ special.ndtr((s_previous + increment_mean - level) / sd))
    if sides == 1:
        return upper, 0.0
    lower = float(previous.weighted @ special.ndtr((-level - s_previous - increment_mean) / sd))
    return upper, lower


def _advance(previous: _Density, t: float, drift: float, z: float, sides: int) -> _Density:
    """The density of Z_k over paths that did not stop at this look or before."""
    if previous.z.size == 0:
        return _Density(z=previous.z, weighted=previous.weighted, root_t=math.sqrt(t))
    root_t = math.sqrt(t)
    lower = -z if sides == 2 else -math.inf
    points, weights = _grid(drift * root_t, lower, z)
    s_previous, increment_mean, sd = _step(previous, t, drift)
    # h_k(z) = Σ_j w_j h_{k−1}(z_j) · (√t_k/σ) φ((z√t_k − S_j − θΔ)/σ)
    u = (points[:, None] * root_t - s_previous[None, :] - increment_mean) / sd
    kernel = np.exp(-0.5 * u * u) * (root_t / (sd * _SQRT_2PI))
    density = kernel @ previous.weighted
    return _Density(z=points, weighted=weights * density, root_t=root_t)


def crossing_by_tail(boundaries: Boundaries, drift: float) -> tuple[Array, Array]:
    """P(the test first crosses at look k, through the upper / lower boundary), per look.

    `drift` is E[Z] at the final look, θ√I_max; E[Z_k] = drift·√t_k. The lower row is zeros
    for a one-sided test.
    """
    if not math.isfinite(drift):
        raise ValueError(f"drift must be finite, got {drift!r}")
    upper = np.zeros(len(boundaries.z))
    lower = np.zeros(len(boundaries.z))
    density = _START
    for k, (t, z) in enumerate(zip(boundaries.fractions, boundaries.z, strict=True)):
        upper[k], lower[k] = _crossing(density, t, drift, z, boundaries.sides)
        if k + 1 < len(boundaries.z):
            density = _advance(density, t, drift, z, boundaries.sides)
    return upper, lower


def crossing_probabilities(boundaries: Boundaries, drift: float) -> Array:
    """P(the test first crosses at look k), either tail, per look, at the given drift."""
    upper, lower = crossing_by_tail(boundaries, drift)
    return upper + lower


def expected_fraction(boundaries: Boundaries, drift: float) -> float:
    """The expected information fraction at stopping: the first crossing, else the last look."""
    crossed = crossing_probabilities(boundaries, drift)
    stop = crossed.copy()
    stop[-1] = 1.0 - float(crossed[:-1].sum())
    return float(np.dot(stop, np.asarray(boundaries.fractions)))


def _solve(excess: Callable[[float], float], lowest: float) -> float:
    """The root of a decreasing `excess` in [lowest, Z_MAX], clamped to the ends."""
    if excess(Z_MAX) >= 0.0:
        return Z_MAX
    if excess(lowest) <= 0.0:
        return lowest
    return float(optimize.brentq(excess, lowest, Z_MAX, xtol=1e-12, rtol=1e-14))


def _spending_bound(
    density: _Density, fraction: float, increment: float, sides: int, lowest: float
) -> float:
    """The boundary at which this look is first crossed with probability `increment`."""
    if increment <= 0.0:
        return math.inf

    def excess(b: float) -> float:
        return sum(_crossing(density, fraction, 0.0, b, sides)) - increment

    return _solve(excess, lowest)


def spending_boundaries(
    fractions: Sequence[float] | np.ndarray,
    alpha: float,
    kind: SpendingKind = "pocock",
    sides: int = 2,
    gamma: float = -4.0,
) -> Boundaries:
    """Lan–DeMets boundaries: under θ = 0, look k is first crossed with the probability the
    spending function allots it, spent_k − spent_{k−1} (per tail at α/2 when sides=2).
    """
    _check_sides(sides)
    _check_alpha(alpha)
    t = _fractions(fractions)
    # A symmetric two-sided boundary spends α/2 in each tail by the spending function (the
    # convention of gsDesign and ldbounds, so its published designs are reproduced). For Pocock
    # and HSD spending, which are linear in α, that is the same as spending α in total; for the
    # O'Brien–Fleming type it is not (first look of five: 4.877 against 4.383).
    cumulative = sides * spent(kind, t, alpha / sides, gamma)
    increments = np.diff(cumulative, prepend=0.0)
    # A two-sided boundary below 0 would reject everything; a one-sided one may be negative.
    lowest = 0.0 if sides == 2 else -Z_MAX
    z: list[float] = []
    density = _START
    for k, (fraction, increment) in enumerate(zip(t, increments, strict=True)):
        bound = _spending_bound(density, float(fraction), float(increment), sides, lowest)
        z.append(bound)
        if k + 1 < t.size:
            density = _advance(density, float(fraction), 0.0, bound, sides)
    return Boundaries(
        fractions=tuple(float(f) for f in t),
        z=tuple(z),
        sides=sides,
        alpha=float(alpha),
        spent=tuple(float(s) for s in cumulative),
    )


def classical_boundaries(
    looks: int,
    alpha: float,
    shape: Shape,
    sides: int = 2,
) -> Boundaries:
    """Pocock's (z_k = C) or O'Brien & Fleming's (z_k = C√(K/k)) boundary for K equally spaced
    looks, with C chosen so that the test has total level alpha under θ = 0.
    """
    if isinstance(looks, bool) or not isinstance(looks, int) or looks < 1:
        raise ValueError(f"looks must be a positive integer, got {looks!r}")
    _check_alpha(alpha)
    _check_sides(sides)
    if shape not in ("obrien-fleming", "pocock"):
        raise ValueError(f"shape must be 'obrien-fleming' or 'pocock', got {shape!r}")
    k = np.arange(1, looks + 1, dtype=np.float64)
    fractions = tuple(float(f) for f in k / looks)
    profile = np.sqrt(looks / k) if shape == "obrien-fleming" else np.ones(looks)

    def design(c: float) -> Boundaries:
        z = tuple(float(v) for v in c * profile)
        return Boundaries(fractions=fractions, z=z, sides=sides, alpha=alpha, spent=z)

    def excess(c: float) -> float:
        return float(crossing_probabilities(design(c), 0.0).sum()) - alpha

    # The final look alone spends alpha at C = z_{α/sides}, and Bonferroni over K looks (all
    # at least C) caps the total at alpha by C = z_{α/(sides·K)}: the root lies between them.
    low = float(sps.norm.isf(alpha / sides)) - 1e-6
    high = float(sps.norm.isf(alpha / (sides * looks))) + 1e-6
    c = float(optimize.brentq(excess, low, high, xtol=1e-12, rtol=1e-14))
    result = design(c)
    cumulative = np.cumsum(crossing_probabilities(result, 0.0))
    return Boundaries(
        fractions=fractions,
        z=result.z,
        sides=sides,
        alpha=float(alpha),
        spent=tuple(float(s) for s in cumulative),
    )
