"""Group sequential boundaries against the published tables, gsDesign, scipy and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from cnnlab.stats.boundaries import (
    Boundaries,
    SpendingKind,
    classical_boundaries,
    crossing_by_tail,
    crossing_probabilities,
    expected_fraction,
    spending_boundaries,
    spent,
)

UNEQUAL = (5 / 40, 10 / 40, 20 / 40, 1.0)
EQUAL = (0.2, 0.4, 0.6, 0.8, 1.0)
KINDS: tuple[SpendingKind, ...] = ("obrien-fleming", "pocock", "hsd")


# --- published values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("looks", "shape", "expected"),
    [
        # Jennison & Turnbull (2000), Tables 2.1 and 2.3: two-sided α = 0.05.
        (5, "obrien-fleming", (4.562, 3.226, 2.634, 2.281, 2.040)),
        (4, "obrien-fleming", (4.049, 2.863, 2.337, 2.024)),
        (5, "pocock", (2.413,) * 5),
        (4, "pocock", (2.361,) * 4),
    ],
)
def test_classical_boundaries_match_the_published_tables(
    looks: int, shape: str, expected: tuple[float, ...]
) -> None:
    b = classical_boundaries(looks, 0.05, shape)  # type: ignore[arg-type]
    assert b.z == pytest.approx(expected, abs=0.002)
    assert b.fractions == pytest.approx(np.arange(1, looks + 1) / looks)
    assert b.spent[-1] == pytest.approx(0.05, abs=1e-7)


def test_pocock_nominal_levels_match_the_published_ones() -> None:
    # Pocock (1977): each of 5 looks tests at 0.0158, each of 4 at 0.0182.
    assert classical_boundaries(5, 0.05, "pocock").nominal() == pytest.approx(
        (0.0158,) * 5, abs=1e-4
    )
    assert classical_boundaries(4, 0.05, "pocock").nominal() == pytest.approx(
        (0.0182,) * 4, abs=1e-4
    )
    one_sided = classical_boundaries(4, 0.025, "pocock", sides=1)
    assert one_sided.nominal() == pytest.approx([sps.norm.sf(z) for z in one_sided.z])


def test_a_one_sided_test_at_half_alpha_has_nearly_the_two_sided_boundaries() -> None:
    # The two differ only by paths crossing one boundary after the other: < 1e-5 here.
    for shape in ("obrien-fleming", "pocock"):
        one = classical_boundaries(5, 0.025, shape, sides=1)
        two = classical_boundaries(5, 0.05, shape, sides=2)
        assert one.z == pytest.approx(two.z, abs=1e-4)
    # and it is not the single-look value: five looks cost more than one
    assert classical_boundaries(5, 0.025, "pocock", sides=1).z[0] > sps.norm.isf(0.025) + 0.4


def test_lan_demets_obrien_fleming_spending_matches_gsdesign() -> None:
    # gsDesign(k = 5, sfu = sfLDOF, test.type = 2, alpha = 0.025): upper bounds 4.877, 3.357,
    # 2.680, 2.290, 2.031 — the two-sided 0.05 design, spending sfLDOF(0.025) in each tail.
    for b in (
        spending_boundaries(EQUAL, 0.025, "obrien-fleming", sides=1),
        spending_boundaries(EQUAL, 0.05, "obrien-fleming", sides=2),
    ):
        assert b.z == pytest.approx((4.877, 3.357, 2.680, 2.290, 2.031), abs=0.01)
        assert b.z == pytest.approx((4.8769, 3.3569, 2.6803, 2.2898, 2.0310), abs=2e-4)


def test_lan_demets_pocock_spending_matches_gsdesign() -> None:
    # gsDesign(k = 5, sfu = sfLDPocock, test.type = 2, alpha = 0.025): 2.438, 2.427, 2.410,
    # 2.397, 2.386. Pocock spending is linear in α, so per tail or in total is the same design.
    expected = (2.438, 2.427, 2.410, 2.397, 2.386)
    assert spending_boundaries(EQUAL, 0.05, "pocock", sides=2).z == pytest.approx(
        expected, abs=0.01
    )
    assert spending_boundaries(EQUAL, 0.025, "pocock", sides=1).z == pytest.approx(
        expected, abs=0.01
    )


def test_hsd_spending_matches_the_gsdesign_default_design() -> None:
    # gsDesign() with its defaults (k = 3, sfHSD with γ = −4, α = 0.025, upper bound
    # non-binding, so computed one-sided): z = 3.01, 2.55, 2.00; nominal p 0.0013, 0.0054, 0.0228.
    b = spending_boundaries([1 / 3, 2 / 3, 1.0], 0.025, "hsd", sides=1, gamma=-4.0)
    assert b.z == pytest.approx((3.01, 2.55, 2.00), abs=0.01)
    assert b.nominal() == pytest.approx((0.0013, 0.0054, 0.0228), abs=1e-4)


def test_two_sided_obrien_fleming_spends_half_alpha_in_each_tail() -> None:
    # Each tail spends 2 − 2Φ(z_{α/4}/√t) (5.4e-7 by t = 0.2, 1.08e-6 for both tails), not the
    # total-α form 2 − 2Φ(z_{α/2}/√t) (1.17e-5, first boundary 4.383).
    b = spending_boundaries(EQUAL, 0.05, "obrien-fleming", sides=2)
    per_tail = 2 * sps.norm.sf(sps.norm.isf(0.0125) / math.sqrt(0.2))
    assert b.spent[0] == pytest.approx(2 * per_tail)
    assert b.spent[-1] == pytest.approx(0.05)
    assert b.z[0] == pytest.approx(4.8769, abs=1e-4)


# --- spending functions --------------------------------------------------------------------


def test_spending_functions_have_their_closed_forms() -> None:
    t = np.array([0.1, 0.25, 0.5, 1.0])
    obf = 2 - 2 * sps.norm.cdf(sps.norm.ppf(1 - 0.05 / 2) / np.sqrt(t))
    assert spent("obrien-fleming", t, 0.05) == pytest.approx(obf, rel=1e-9)
    assert spent("pocock", t, 0.05) == pytest.approx(0.05 * np.log(1 + (np.e - 1) * t))
    for gamma in (-4.0, -2.0, 1.0, 3.0):
        hsd = 0.05 * (1 - np.exp(-gamma * t)) / (1 - np.exp(-gamma))
        assert spent("hsd", t, 0.05, gamma) == pytest.approx(hsd, rel=1e-12)
    assert spent("hsd", t, 0.05, 0.0) == pytest.approx(0.05 * t)
    assert spent("hsd", t, 0.05, 1e-12) == pytest.approx(0.05 * t)  # continuous at γ = 0
    # a known value: O'Brien–Fleming type spends 0.0056 of 0.05 by half the information
    assert spent("obrien-fleming", [0.5, 1.0], 0.05)[0] == pytest.approx(0.00557, abs=1e-5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("alpha", [0.05, 0.05 / 3, 0.3])
def test_spending_functions_spend_exactly_alpha_and_never_decrease(
    kind: SpendingKind, alpha: float
) -> None:
    t = np.linspace(0.01, 1.0, 100)
    s = spent(kind, t, alpha)
    assert s[-1] == alpha
    assert np.all(np.diff(s) > 0)
    assert np.all(s > 0)


def test_hsd_with_extreme_gamma_neither_overflows_nor_produces_nan() -> None:
    s = spent("hsd", UNEQUAL, 0.05, gamma=-2000.0)
    assert np.all(np.isfinite(s)) and s[0] == 0.0 and s[-1] == 0.05
    b = spending_boundaries(UNEQUAL, 0.05, "hsd", gamma=-2000.0)
    assert b.z[:3] == (math.inf, math.inf, math.inf)  # nothing spent: the look cannot reject
    assert b.z[3] == pytest.approx(sps.norm.isf(0.025), abs=1e-6)  # all of α at the end
    assert b.nominal()[:3] == (0.0, 0.0, 0.0)
    assert crossing_probabilities(b, 0.0).sum() == pytest.approx(0.05, abs=1e-7)
    # far-too-small increments cap the boundary instead of chasing the root
    tiny = spending_boundaries(UNEQUAL, 0.05, "hsd", gamma=-300.0)
    assert all(not math.isnan(z) for z in tiny.z)
    assert tiny.z[0] == 8.5


# --- Lan–DeMets boundaries reproduce their spending ----------------------------------------


@pytest.mark.parametrize("sides", [1, 2])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fractions", [UNEQUAL, EQUAL], ids=["unequal", "equal"])
def test_crossing_under_the_null_reproduces_the_spending_increments(
    fractions: tuple[float, ...], kind: SpendingKind, sides: int
) -> None:
    b = spending_boundaries(fractions, 0.05, kind, sides=sides)
    # two-sided: each tail spends by the function at α/2
    increments = np.diff(sides * spent(kind, fractions, 0.05 / sides), prepend=0.0)
    assert crossing_probabilities(b, 0.0) == pytest.approx(increments, abs=1e-6)
    assert b.spent == pytest.approx(np.cumsum(increments))
    upper, lower = crossing_by_tail(b, 0.0)
    if sides == 2:
        assert upper == pytest.approx(lower, abs=1e-12)  # symmetric under the null
    else:
        assert np.all(lower == 0.0)


@pytest.mark.parametrize("gamma", [-4.0, -2.0, 0.0, 1.0])
def test_hsd_boundaries_reproduce_their_spending(gamma: float) -> None:
    b = spending_boundaries(UNEQUAL, 0.05 / 3, "hsd", gamma=gamma)
    increments = np.diff(spent("hsd", UNEQUAL, 0.05 / 3, gamma), prepend=0.0)
    assert crossing_probabilities(b, 0.0) == pytest.approx(increments, abs=1e-7)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sides", [1, 2])
def test_the_first_boundary_is_the_single_look_quantile(kind: SpendingKind, sides: int) -> None:
    # Before any look there is nothing to integrate: z_1 = Φ⁻¹(1 − spent_1/sides) exactly.
    b = spending_boundaries(UNEQUAL, 0.05 / 3, kind, sides=sides)
    assert b.z[0] == pytest.approx(sps.norm.isf(b.spent[0] / sides), abs=1e-8)
    assert b.nominal()[0] == pytest.approx(b.spent[0], rel=1e-6)
    # later looks must be above what a lone look would need, as earlier ones spent some alpha
    for k in range(1, 4):
        assert b.z[k] < sps.norm.isf((b.spent[k] - b.spent[k - 1]) / sides)


def test_a_single_look_is_the_fixed_sample_test() -> None:
    b = spending_boundaries([1.0], 0.05, "obrien-fleming")
    assert b.z == pytest.approx((sps.norm.isf(0.025),), abs=1e-8)
    power = sps.norm.sf(b.z[0] - 2.8) + sps.norm.cdf(-b.z[0] - 2.8)
    assert crossing_probabilities(b, 2.8) == pytest.approx([power], abs=1e-9)
    assert expected_fraction(b, 2.8) == 1.0


# --- crossing probabilities against independent computations ------------------------------


@pytest.mark.parametrize("sides", [1, 2])
def test_crossing_probabilities_match_the_bivariate_normal_for_two_looks(sides: int) -> None:
    t1, drift = 0.3, 1.7
    b = spending_boundaries([t1, 1.0], 0.05, "obrien-fleming", sides=sides)
    b1, b2 = b.z
    rho = math.sqrt(t1)
    mvn = sps.multivariate_normal(
        mean=[drift * rho, drift], cov=[[1.0, rho], [rho, 1.0]], abseps=1e-10, releps=1e-10, seed=0
    )
    floor = -b1 if sides == 2 else -np.inf
    expected_upper = [
        sps.norm.sf(b1 - drift * rho),
        mvn.cdf([b1, np.inf], lower_limit=[floor, b2]),
    ]
    upper, lower = crossing_by_tail(b, drift)
    assert upper == pytest.approx(expected_upper, abs=1e-8)
    if sides == 2:
        expected_lower = [
            sps.norm.cdf(-b1 - drift * rho),
            mvn.cdf([b1, -b2], lower_limit=[-b1, -np.inf]),
        ]
        assert lower == pytest.approx(expected_lower, abs=1e-8)
        assert lower[1] > 1e-5  # the check has something to check
    else:
        assert np.all(lower == 0.0)


def _simulate(b: Boundaries, drift: float, paths: int, seed: int) -> tuple[np.ndarray, ...]:
    """First upper and lower crossings and stopping fractions of simulated Brownian motions."""
    rng = np.random.default_rng(seed)
    t = np.asarray(b.fractions)
    delta = np.diff(t, prepend=0.0)
    s = np.cumsum(rng.standard_normal((paths, t.size)) * np.sqrt(delta) + drift * delta, axis=1)
    z = s / np.sqrt(t)
    bounds = np.asarray(b.z)
    up = z >= bounds
    down = z <= -bounds if b.sides == 2 else np.zeros_like(up)
    crossed = up | down
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), t.size)
    looks = np.arange(t.size)
    hit = first[:, None] == looks[None, :]
    upper = (hit & up).mean(axis=0)
    lower = (hit & down).mean(axis=0)
    stopped_at = t[np.minimum(first, t.size - 1)]
    return upper, lower, stopped_at


@pytest.mark.parametrize(
    ("kind", "sides"), [("obrien-fleming", 2), ("pocock", 2), ("hsd", 1), ("obrien-fleming", 1)]
)
def test_crossing_probabilities_match_a_brownian_motion_simulation(
    kind: SpendingKind, sides: int
) -> None:
    paths, drift = 400_000, 2.8
    b = spending_boundaries(UNEQUAL, 0.05, kind, sides=sides)
    sim_upper, sim_lower, stopped_at = _simulate(b, drift, paths, seed=20240611)
    upper, lower = crossing_by_tail(b, drift)
    for model, sim in ((upper, sim_upper), (lower, sim_lower)):
        # A floor of one path on p keeps a tail no path reached from demanding an exact 0.
        se = np.sqrt(np.maximum(model, 1.0 / paths) * (1 - model) / paths)
        assert np.all(np.abs(sim - model) <= 4 * se), (model, sim)
    assert upper.sum() > 0.5  # the drift is large enough for the looks to matter
    fraction_se = stopped_at.std() / math.sqrt(paths)
    assert abs(stopped_at.mean() - expected_fraction(b, drift)) <= 4 * fraction_se


def test_a_negative_drift_swaps_the_tails() -> None:
    b = spending_boundaries(UNEQUAL, 0.05, "pocock")
    upper, lower = crossing_by_tail(b, 1.3)
    mirrored_upper, mirrored_lower = crossing_by_tail(b, -1.3)
    assert mirrored_upper == pytest.approx(lower, abs=1e-12)
    assert mirrored_lower == pytest.approx(upper, abs=1e-12)
    assert upper.sum() > 10 * lower.sum()  # the tails differ, so swapping them shows


# --- expected information ------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_expected_fraction_is_near_one_under_the_null_and_falls_with_the_drift(
    kind: SpendingKind,
) -> None:
    b = spending_boundaries(UNEQUAL, 0.05, kind)
    null = expected_fraction(b, 0.0)
    # under θ = 0 only the alpha spent early stops the test before the end
    early = np.asarray(crossing_probabilities(b, 0.0))
    assert null == pytest.approx(1 - float(np.dot(early, 1 - np.asarray(UNEQUAL))), abs=1e-12)
    assert 0.95 < null < 1.0
    drifts = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    fractions = [expected_fraction(b, d) for d in drifts]
    assert np.all(np.diff(fractions) < 0)
    assert fractions[-1] < 0.7  # a large effect stops well before the end


# --- inputs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fractions", "message"),
    [
        ([0.5, 0.25, 1.0], "strictly increasing, got 0.25 after 0.5"),
        ([0.5, 0.5, 1.0], "strictly increasing"),
        ([0.25, 0.5, 0.9], "last information fraction must be 1.*0.9"),
        ([0.0, 0.5, 1.0], r"\(0, 1\], got 0.0"),
        ([-0.2, 1.0], r"\(0, 1\], got -0.2"),
        ([0.5, 1.2], r"\(0, 1\], got 1.2"),
        ([], "non-empty"),
    ],
)
def test_bad_fractions_are_refused_by_name(fractions: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spent("pocock", fractions, 0.05)
    with pytest.raises(ValueError, match=message):
        spending_boundaries(fractions, 0.05)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.05, 1.5, math.nan])
def test_alpha_outside_the_unit_interval_is_refused(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha must lie in"):
        spending_boundaries(EQUAL, alpha)
    with pytest.raises(ValueError, match="alpha must lie in"):
        classical_boundaries(5, alpha, "pocock")


def test_other_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="sides must be 1 or 2, got 3"):
        spending_boundaries(EQUAL, 0.05, sides=3)
    with pytest.raises(ValueError, match="spending kind"):
        spent("linear", EQUAL, 0.05)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="gamma must be finite"):
        spent("hsd", EQUAL, 0.05, gamma=math.inf)
    with pytest.raises(ValueError, match="looks must be a positive integer"):
        classical_boundaries(0, 0.05, "pocock")
    with pytest.raises(ValueError, match="shape"):
        classical_boundaries(4, 0.05, "hsd")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="drift must be finite"):
        crossing_probabilities(classical_boundaries(2, 0.05, "pocock"), math.nan)


def test_fractions_that_miss_one_by_rounding_are_the_last_look() -> None:
    tenths = np.cumsum([0.1] * 10)
    assert tenths[-1] != 1.0
    b = spending_boundaries(tenths, 0.05, "obrien-fleming")
    assert b.fractions[-1] == 1.0
    assert b.spent[-1] == 0.05
