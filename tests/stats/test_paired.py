"""Claim statistics against hand-computed and published values and scipy (simulations live in
tests/stats/test_paired_simulation.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from cnnlab.report.wording import claim_sentence
from cnnlab.spec.design import Claim
from cnnlab.stats.intervals import effect_interval, hedges, prob_interval, t_interval, wilson
from cnnlab.stats.paired import (
    ALPHA,
    GATE_DZ,
    ClaimData,
    decide_claim,
    equivalence_level,
    evaluate_claims,
    holm,
    paired_p_value,
    paired_summary,
    superiority_thresholds,
)
from cnnlab.stats.planning import advise, outcome_probabilities, seeds_for
from cnnlab.stats.ranks import signed_rank, snap

# The committed pooling report's "no pooling beats max pooling" differences (results.csv):
# mean +0.076 pp, P(A>B) 0.747 — the row the statistics review singled out.
NONE_MINUS_MAX = (0.0022, -0.0002, 0.0007, 0.0003, 0.0034, 0.0005, 0.0003, 0.0002, -0.0001, 0.0003)


def _interval_finite(values: tuple[float, float]) -> bool:
    return all(math.isfinite(v) for v in values)


# --- worked examples and published values ------------------------------------------------


def test_the_verdicts_power_is_the_noncentral_t_formula_of_the_design_notes() -> None:
    # docs/statistics.md: power = nct.sf(max(t_crit, 0.674·√n), n − 1, √n·δ) without a ROPE.
    n = np.array([5, 10, 20, 53, 200])
    chances = outcome_probabilities(0.8, 1e-9, n, ALPHA, ALPHA)["supported"]
    formula = [
        sps.nct.sf(max(sps.t.ppf(0.975, k - 1), GATE_DZ * math.sqrt(k)), k - 1, math.sqrt(k) * 0.8)
        for k in n
    ]
    assert chances == pytest.approx(formula, abs=1e-5)
    # dz = 0.8 needs 53 seeds (not the 15 a plain t-test plan says); at dz = 0.674 the power
    # never passes about 0.5 at any n.
    assert seeds_for("supported", 0.8, 1e-9, ALPHA, ALPHA) == 53
    assert seeds_for("supported", GATE_DZ, 1e-9, ALPHA, ALPHA) is None
    at_gate = outcome_probabilities(GATE_DZ, 1e-9, np.arange(3, 1001), ALPHA, ALPHA)
    assert at_gate["supported"].max() < 0.53
    # A plain two-sided paired t-test: power 0.816 at dz = 0.674, n = 20 (the published value)
    # is what the rule would have without its gate.
    assert sps.nct.sf(sps.t.ppf(0.975, 19), 19, math.sqrt(20) * 0.674) == pytest.approx(
        0.816, abs=0.002
    )


def test_hedges_correction_matches_its_exact_and_approximate_forms() -> None:
    # J(2) = Γ(1) / (√1 · Γ(½)) = 1/√π; J(df) ≈ 1 − 3 / (4·df − 1).
    assert hedges(1.0, 3) == pytest.approx(1 / math.sqrt(math.pi))
    assert hedges(1.0, 10) == pytest.approx(1 - 3 / (4 * 9 - 1), abs=5e-4)
    assert hedges(0.5, 40) < 0.5


def test_the_exact_interval_of_p_a_beats_b_is_the_noncentral_t_inversion() -> None:
    # The review's example: P(A>B) 0.747 with an exact interval 0.45–0.93 at the claim's Holm
    # level (97.5 %); the bootstrap had said 0.65–0.94.
    s = paired_summary(NONE_MINUS_MAX)
    low, high = prob_interval(s.t, s.n, 0.975)
    assert (round(low, 2), round(high, 2)) == (0.45, 0.93)
    d_low, d_high = effect_interval(s.t, s.n, 0.975)
    assert sps.nct.sf(s.t, 9, math.sqrt(10) * d_low) == pytest.approx(0.0125, abs=1e-8)
    assert sps.nct.sf(s.t, 9, math.sqrt(10) * d_high) == pytest.approx(0.9875, abs=1e-8)
    assert sps.norm.cdf(d_low) == pytest.approx(low)


def test_a_zero_difference_at_five_pairs_gives_no_nan_anywhere() -> None:
    # The review's example: one exact 0 made the bootstrap interval of P(A>B) NaN.
    (result,) = evaluate_claims([("x", [0, 0.0005, 0.001, 0.0012, 0.002], 0.0005)])
    for values in (result.ci, result.equivalence_ci, result.prob_ci, result.win_ci):
        assert _interval_finite(values)
    assert result.ties == 1 and result.wins == 4
    assert result.rank_p is None and "cannot reach" in result.rank_note


def test_wilson_interval_published_value() -> None:
    # 7 of 10 at 95 %: 0.397–0.892 (Newcombe 1998, Table I style worked value).
    assert wilson(7, 10, 0.95) == pytest.approx((0.3968, 0.8922), abs=1e-4)


def test_holm_levels_agree_with_the_step_down() -> None:
    # sorted: 0.01 < α/3 rejected; 0.03 ≥ α/2 stops: the later claim keeps α/2.
    adjusted, levels = holm([0.01, 0.04, 0.03])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06])
    assert levels == pytest.approx([ALPHA / 3, ALPHA / 2, ALPHA / 2])
    # p = 0.03, 0.04: the step-down stops at the first, so the second (0.04 < α/1) must not be
    # significant — and its level says so.
    adjusted, levels = holm([0.03, 0.04])
    assert adjusted == pytest.approx([0.06, 0.06])
    assert all(p >= level for p, level in zip([0.03, 0.04], levels, strict=True))
    # all rejected: the plain levels α/3, α/2, α
    adjusted, levels = holm([0.001, 0.02, 0.012])
    assert levels == pytest.approx([ALPHA / 3, ALPHA, ALPHA / 2])
    for p, level, a in zip([0.001, 0.02, 0.012], levels, adjusted, strict=True):
        assert (p < level) == (a < ALPHA)


def test_holm_counts_a_nan_p_value_as_one() -> None:
    adjusted, levels = holm([math.nan, 0.01, 0.04])
    assert adjusted == pytest.approx([1.0, 0.03, 0.08])
    assert levels == pytest.approx([ALPHA / 2, ALPHA / 3, ALPHA / 2])


def test_differences_are_snapped_to_the_test_sets_resolution_before_ranking() -> None:
    # Accuracies stored as float32 (as results.csv has them): equal differences of 3/10,000
    # come out as 0.00029999 and 0.00030005, which a rank test would rank apart.
    k = np.array([9871, 9632, 9636, 9511, 9269, 9307, 9040, 9500, 9600, 9700])
    j = k - np.array([3, 0, 3, -3, 3, 7, 3, 0, 3, 3])
    d = np.float32(k / 10_000).astype(float) - np.float32(j / 10_000).astype(float)
    assert len(set(np.abs(d[d != 0]))) > 2  # noise splits the tie of |3|
    snapped = snap(d, 1e-4)
    assert snapped * 10_000 == pytest.approx(k - j, abs=1e-9)
    check = signed_rank(d, 1e-4, ALPHA)
    exact = sps.wilcoxon((k - j) / 10_000, zero_method="pratt").pvalue
    assert check.p_value == pytest.approx(exact)
    assert sps.wilcoxon(d, zero_method="pratt").pvalue != pytest.approx(exact)  # unsnapped
    assert "Pratt's treatment of 2 zero differences" in check.note


def test_paired_p_value_is_scipys_t_test_and_one_where_untestable() -> None:
    d = np.random.default_rng(2).normal(0.5, 1.0, 12)
    assert paired_p_value(d) == pytest.approx(sps.ttest_1samp(d, 0).pvalue)
    assert paired_p_value([0.001] * 4) == 1.0
    assert paired_p_value([0.1]) == 1.0


def test_t_interval_worked_example() -> None:
    # mean 2, SD 1, t(0.975, 2) = 4.3027: half-width 4.3027 / √3 = 2.4841
    assert t_interval([1.0, 2.0, 3.0], 0.95) == pytest.approx((2 - 2.4841, 2 + 2.4841), abs=1e-4)


# --- verdicts -------------------------------------------------------------------------------


def test_verdicts_on_clear_cases() -> None:
    rng = np.random.default_rng(3)
    claims = [
        ("clearly better", rng.normal(0.004, 0.001, 10), 0.001),
        ("clearly worse", rng.normal(-0.004, 0.001, 10), 0.001),
        ("the same", rng.normal(0.0, 0.0001, 10), 0.001),
        ("too noisy to tell", rng.normal(0.0005, 0.004, 10), 0.001),
    ]
    results = {r.statement: r for r in evaluate_claims(claims)}
    assert results["clearly better"].verdict == "supported"
    assert results["clearly worse"].verdict == "refuted"
    assert results["the same"].verdict == "equivalent"
    noisy = results["too noisy to tell"]
    assert noisy.verdict == "inconclusive" and noisy.advice is not None
    better = results["clearly better"]
    assert better.ci[0] > 0 and better.prob_better > 0.75 and better.decided_by == "superiority"


def test_the_interval_shown_is_the_interval_that_decided() -> None:
    rng = np.random.default_rng(8)
    claims = [
        ("better", rng.normal(0.004, 0.001, 10), 0.001),
        ("same", rng.normal(0.0, 0.0001, 10), 0.001),
    ]
    better, same = evaluate_claims(claims)
    assert better.interval == (better.ci, better.ci_level)
    (low, high), level = better.interval
    assert (low, high) == pytest.approx(t_interval(claims[0][1], level))
    assert level == pytest.approx(1 - better.alpha)
    assert same.interval == (same.equivalence_ci, same.equivalence_level)
    assert same.equivalence_level == pytest.approx(1 - 2 * same.alpha_eq)
    assert same.equivalence_ci[0] > -0.001 and same.equivalence_ci[1] < 0.001


def test_equivalence_is_tost_at_alpha_with_the_one_minus_two_alpha_interval() -> None:
    # Differences whose 90 % t interval lies inside ±0.1 pp but whose 95 % interval does not:
    # TOST at α = 0.05 calls them equivalent (the old rule, TOST at α/2, did not).
    d = np.array([0.0002, -0.0004, 0.0006, 0.0001, -0.0002, 0.0005, 0.0, 0.0003, -0.0001, 0.0004])
    low90, high90 = t_interval(d, 0.90)
    low95, high95 = t_interval(d, 0.95)
    rope = max(abs(low90), abs(high90)) + 1e-5  # just wider than the 90 % interval
    assert max(abs(low95), abs(high95)) > rope
    (result,) = evaluate_claims([("tost", d, rope)])
    assert result.verdict == "equivalent" and result.equivalence_level == pytest.approx(0.9)
    # the TOST p-value is the larger one-sided p and falls just below α
    se = d.std(ddof=1) / math.sqrt(10)
    p = max(sps.t.sf((d.mean() + rope) / se, 9), sps.t.cdf((d.mean() - rope) / se, 9))
    assert result.p_equivalence == pytest.approx(p) and p < ALPHA


def test_the_equivalence_level_is_one_minus_two_alpha() -> None:
    assert equivalence_level(0.05) == pytest.approx(0.9)
    assert equivalence_level(0.0179) == 1 - 2 * 0.0179  # the report's look table divides none


def test_superiority_thresholds_are_the_t_quantile_and_the_gate() -> None:
    # docs/statistics.md: at the default plan's first look (5 seeds, α = 0.0179 for one claim)
    # a claim needs |t| ≥ 3.88, an observed dz ≥ 1.73; the t bound is the larger there.
    t, dz = superiority_thresholds(5, 0.0179)
    assert t == float(sps.t.ppf(1 - 0.0179 / 2, 4)) and round(t, 2) == 3.88
    assert dz == t / math.sqrt(5) and round(dz, 2) == 1.73
    # With many pairs the t bound falls below the P(A>B) gate, which then sets the dz needed.
    t, dz = superiority_thresholds(60, 0.05)
    assert t == pytest.approx(2.001, abs=1e-3) and t / math.sqrt(60) < GATE_DZ
    assert dz == GATE_DZ


@pytest.mark.parametrize(("n", "alpha"), [(5, 0.0179), (8, 0.05), (60, 0.05)])
def test_superiority_thresholds_are_where_the_verdict_rule_turns(n: int, alpha: float) -> None:
    # Differences with an observed dz just above the threshold are supported, just below not:
    # the thresholds are the rule's own, in either regime (t bound or P(A>B) gate).
    base = np.linspace(-1.0, 1.0, n)
    z = (base - base.mean()) / base.std(ddof=1)  # mean 0, SD 1
    _, dz = superiority_thresholds(n, alpha)
    for factor, verdict in ((1.0001, "supported"), (0.9999, "inconclusive")):
        d = 0.001 * (z + dz * factor)  # dz of d is dz · factor
        result = decide_claim(ClaimData("c", tuple(d), 1e-9), alpha=alpha, alpha_eq=alpha)
        assert result.verdict == verdict, (factor, result)


def test_equivalence_has_its_own_holm_family() -> None:
    rng = np.random.default_rng(9)
    claims = [(f"same {k}", rng.normal(0.0, 0.0002, 10), 0.001) for k in range(2)]
    claims.append(("better", rng.normal(0.004, 0.001, 10), 0.001))
    results = evaluate_claims(claims)
    assert [r.verdict for r in results] == ["equivalent", "equivalent", "supported"]
    # "better" has the largest TOST p: the equivalence step-down stops there, at α/1 ...
    assert sorted(r.alpha_eq for r in results) == pytest.approx([ALPHA / 3, ALPHA / 2, ALPHA])
    # ... and the superiority family is a separate step-down over the three t-tests.
    assert results[2].alpha == pytest.approx(ALPHA / 3)


def test_detectable_but_tiny_differences_are_equivalent_and_say_so() -> None:
    d = np.random.default_rng(4).normal(0.0003, 0.0001, 20)  # real, but within ±0.001
    (result,) = evaluate_claims([("tiny", d, 0.001)])
    assert result.verdict == "equivalent" and result.excludes_zero
    assert result.p_holm < ALPHA and "statistically detectable" in result.notes[0]


def test_an_inconclusive_claim_says_why() -> None:
    claim = Claim(statement="none beats max", better="none", worse="max", rope=0.001)
    (result,) = evaluate_claims([ClaimData("none beats max", NONE_MINUS_MAX, 0.001, 1e-4)])
    assert result.verdict == "inconclusive" and not result.excludes_zero
    sentence = claim_sentence(claim, result, result.wins, result.n)
    assert "includes 0" in sentence and "is not inside the ROPE" in sentence
    assert "0.747" in sentence  # never rounded to 0.75 beside a 0.75 gate
    # Detectable but below the P(A>B) gate: dz 0.5 over 60 pairs.
    rng = np.random.default_rng(14)
    z = rng.normal(size=60)
    d = 0.5 + (z - z.mean()) / z.std(ddof=1)  # mean 0.5, SD 1 exactly
    (gated,) = evaluate_claims([("gated", d, 0.01)])
    assert gated.excludes_zero and not gated.gate_passed and gated.verdict == "inconclusive"
    text = claim_sentence(Claim(statement="gated", better="a", worse="b"), gated, 0, 60)
    assert "P(A>B) 0.691 is below 0.75" in text


def test_planning_covers_each_reachable_outcome_over_an_interval_of_dz() -> None:
    s = paired_summary(NONE_MINUS_MAX)
    result = advise(s.mean, s.sd, s.n, 0.001, ALPHA / 2, ALPHA / 2)
    assert result is not None
    supported, equivalent = result.outcomes
    assert supported.outcome == "supported" and equivalent.outcome == "equivalent"
    low, high = result.interval
    assert low < result.effect < high and result.effect == pytest.approx(hedges(s.dz, 10))
    # At the Hedges-corrected dz 0.61 < 0.674 "supported" is out of reach; equivalence is not.
    assert supported.at_estimate is None and supported.fewest is not None
    assert equivalent.at_estimate is not None and result.decidable
    assert supported.fewest == seeds_for("supported", high, result.rope_sd, ALPHA / 2, ALPHA / 2)


# --- differences that cannot be judged ------------------------------------------------------


@pytest.mark.parametrize("d", [[0.004], [0.004, 0.005], [0.004, 0.004]])
def test_fewer_than_three_pairs_are_not_judged(d: list[float]) -> None:
    clear = ("clear", np.random.default_rng(5).normal(0.004, 0.001, 10), 0.001)
    few, other = evaluate_claims([("few", d, 0.001), clear])
    assert few.verdict == "inconclusive" and few.n == len(d)
    assert f"only {len(d)} paired seed" in few.untestable and "at least 3" in few.untestable
    assert math.isnan(few.p_value) and few.p_holm == 1.0 and few.advice is None
    assert other.verdict == "supported"  # the other claims of the report are still judged


def test_equal_differences_are_untestable_not_significant() -> None:
    (result,) = evaluate_claims([("no spread", [0.001, 0.001, 0.001], 0.0005)])
    assert result.verdict == "inconclusive"
    assert result.untestable.startswith("the differences have no spread: all 3 equal +0.001")
    assert result.p_holm == 1.0 and result.advice is None
    # Equal in exact arithmetic, unequal in the last bits (k/10,000 − (k−10)/10,000).
    k = np.array([9871, 9632, 9636, 9511, 9269, 9307, 9040, 9500])
    d = k / 10_000 - (k - 10) / 10_000
    assert np.ptp(d) > 0
    (result,) = evaluate_claims([("rounding", d, 0.0005)])
    assert result.verdict == "inconclusive" and "no spread" in result.untestable
    (result,) = evaluate_claims([("small", [0.0001] * 5, 0.001)])
    assert result.verdict == "inconclusive"


def test_all_zero_differences_inside_the_rope_are_equivalent() -> None:
    (result,) = evaluate_claims([("identical arms", [0.0] * 5, 0.001)])
    assert result.verdict == "equivalent" and not result.notes and not result.untestable
    (result,) = evaluate_claims([("no rope", [0.0] * 5, 0.0)])
    assert result.verdict == "inconclusive" and "no spread" in result.untestable


def test_an_untestable_claim_takes_no_holm_level_from_a_tested_one() -> None:
    tested = ("tested", np.random.default_rng(6).normal(0.004, 0.001, 10), 0.001)
    results = evaluate_claims([("equal", [0.002] * 10, 0.001), tested])
    assert results[0].p_holm == 1.0
    assert results[1].p_holm == pytest.approx(2 * results[1].p_value)
    assert results[1].ci_level == pytest.approx(1 - ALPHA / 2)


def test_missing_metric_values_do_not_poison_the_other_claims() -> None:
    tested = ("tested", np.random.default_rng(7).normal(0.004, 0.001, 10), 0.001)
    missing, other = evaluate_claims([("missing", [0.01, math.nan, 0.02, 0.03], 0.001), tested])
    assert missing.verdict == "inconclusive" and missing.p_holm == 1.0
    assert "1 of the 4 paired differences are not numbers" in missing.untestable
    assert other.p_holm == pytest.approx(2 * other.p_value) and other.verdict == "supported"


def test_near_constant_differences_give_finite_intervals_not_a_crash() -> None:
    # |t| in the hundreds at 2 degrees of freedom: scipy's noncentral t loses its tail there.
    claims = [
        ClaimData("almost constant", (0.0100, 0.0100, 0.0101), 0.001, 1e-4),
        ("b", (1.0, 2.0, 3.0), 0.1),
        ("c", (1.0, 2.0, 3.5), 0.1),
    ]
    for result in evaluate_claims(claims):
        assert all(math.isfinite(x) for x in result.prob_ci)
    (seconds,) = evaluate_claims([("seconds", (1.00, 1.01, 1.00), 0.001)])
    assert all(math.isfinite(x) for x in seconds.prob_ci)


def test_float32_differences_that_are_equal_at_the_resolution_are_not_judged() -> None:
    # Five equal 1/10,000 differences stored as float32 (noise ~6e-8): no spread once rounded.
    x = np.array([0.9871, 0.9632, 0.9636, 0.9511, 0.9269])
    d = np.float32(x).astype(float) - np.float32(x - 1e-4).astype(float)
    assert np.ptp(d) > 1e-9
    (result,) = evaluate_claims([ClaimData("float32", tuple(d), 5e-5, 1e-4)])
    assert result.verdict == "inconclusive" and "no spread" in result.untestable
