"""Claim statistics against hand-computed and published values, scipy, and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from cnnlab.stats.paired import TestResult as PairedTestResult  # pytest collects Test* names
from cnnlab.stats.paired import (
    bootstrap_mean_ci,
    decide,
    evaluate_claims,
    holm,
    paired_summary,
    paired_t_power,
    paired_test,
    prob_better,
    seeds_needed,
    t_interval,
)

ALPHA = 0.05


# --- worked examples and published values ------------------------------------------------


def test_paired_t_power_matches_the_published_value() -> None:
    # dz = 0.674, n = 20, α = 0.05 (two-sided) → power 0.816.
    assert paired_t_power(0.674, 20) == pytest.approx(0.816, abs=0.001)
    # and dz = 1 needs about 10 paired seeds for 80 % power
    assert seeds_needed(1.0) == 10
    assert seeds_needed(0.674) == 20  # 19 pairs give 0.79
    assert paired_t_power(0.674, 19) < 0.8 <= paired_t_power(0.674, 20)
    assert seeds_needed(0.001) is None  # would need millions
    assert seeds_needed(0.0) is None


def test_prob_better_worked_example() -> None:
    # d = 1..5: mean 3, SD √2.5 = 1.5811, dz = 1.8974, Φ(1.8974) = 0.97111
    summary = paired_summary([1, 2, 3, 4, 5])
    assert summary.mean == 3 and summary.sd == pytest.approx(math.sqrt(2.5))
    assert prob_better([1, 2, 3, 4, 5]) == pytest.approx(0.97111, abs=1e-5)
    # P(A>B) = 0.75 exactly when dz = 0.674 (the threshold of a supported claim)
    assert sps.norm.cdf(0.6745) == pytest.approx(0.75, abs=1e-4)


def test_holm_worked_example() -> None:
    # sorted: 0.01·3 = 0.03; 0.03·2 = 0.06; 0.04·1 = 0.04 → kept monotone at 0.06
    adjusted, levels = holm([0.01, 0.04, 0.03])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06])
    assert levels == pytest.approx([ALPHA / 3, ALPHA / 1, ALPHA / 2])


def test_bootstrap_ci_worked_examples() -> None:
    # Resampled means of [0, 1] are 0, ½, 1 with probabilities ¼, ½, ¼: the 95 % CI is [0, 1].
    assert bootstrap_mean_ci([0.0, 1.0], 0.95, seed=0) == (0.0, 1.0)
    assert bootstrap_mean_ci([2.0, 2.0, 2.0], 0.95, seed=0) == (2.0, 2.0)
    # For 60 normal differences it is close to the t interval.
    d = np.random.default_rng(1).normal(0.3, 1.0, 60)
    low, high = bootstrap_mean_ci(d, 0.95, seed=0)
    t_low, t_high = sps.t.interval(0.95, 59, loc=d.mean(), scale=sps.sem(d))
    assert low == pytest.approx(t_low, abs=0.04) and high == pytest.approx(t_high, abs=0.04)
    assert bootstrap_mean_ci(d, 0.95, seed=0) == bootstrap_mean_ci(d, 0.95, seed=0)  # seeded


def test_paired_test_uses_t_for_normal_and_wilcoxon_for_skewed_differences() -> None:
    normal = np.random.default_rng(2).normal(0.5, 1.0, 12)
    result = paired_test(normal)
    assert result.name == "paired t-test"
    assert result.p_value == pytest.approx(sps.ttest_1samp(normal, 0).pvalue)
    skewed = np.array([0.1, 0.12, 0.09, 0.11, 0.1, 0.08, 0.13, 0.1, 0.11, 5.0, 0.09, 0.1])
    result = paired_test(skewed)
    assert result.name == "Wilcoxon signed-rank" and "Shapiro" in result.reason
    assert result.p_value == pytest.approx(sps.wilcoxon(skewed).pvalue)


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
    assert noisy.verdict == "inconclusive" and noisy.seeds_needed and noisy.seeds_needed > 10
    assert results["clearly better"].ci[0] > 0 and results["clearly better"].prob_better > 0.75


def test_detectable_but_tiny_differences_are_equivalent_and_say_so() -> None:
    d = np.random.default_rng(4).normal(0.0003, 0.0001, 20)  # real, but within ±0.001
    (result,) = evaluate_claims([("tiny", d, 0.001)])
    assert result.verdict == "equivalent"
    assert result.p_holm < ALPHA and "statistically detectable" in result.notes[0]


# --- simulations (each ≥ 1,000 claims) ---------------------------------------------------


def test_no_effect_gives_a_verdict_at_most_at_rate_alpha() -> None:
    rng = np.random.default_rng(10)
    decided = 0
    sims = 2000
    for i in range(sims):
        (result,) = evaluate_claims([("null", rng.normal(0, 1, 12), 0.01)], seed=i, resamples=2000)
        decided += result.verdict in ("supported", "refuted")
    rate = decided / sims
    assert ALPHA / 4 <= rate <= ALPHA, rate


def test_family_wise_error_over_three_holm_corrected_claims() -> None:
    rng = np.random.default_rng(11)
    families, any_decided = 1000, 0
    for i in range(families):
        claims = [(f"null {k}", rng.normal(0, 1, 12), 0.01) for k in range(3)]
        results = evaluate_claims(claims, seed=i, resamples=2000)
        any_decided += any(r.verdict in ("supported", "refuted") for r in results)
    assert any_decided / families <= ALPHA


def test_a_planted_effect_of_dz_1_with_20_seeds_is_found() -> None:
    rng = np.random.default_rng(12)
    sims, supported = 1000, 0
    for i in range(sims):
        (result,) = evaluate_claims(
            [("planted", rng.normal(1, 1, 20), 0.1)], seed=i, resamples=2000
        )
        supported += result.verdict == "supported"
    assert supported / sims >= 0.80


def test_identical_arms_with_small_noise_are_equivalent() -> None:
    rng = np.random.default_rng(13)
    sims, equivalent = 1000, 0
    for i in range(sims):
        d = rng.normal(0, 0.0002, 10)  # noise far below the 0.001 ROPE
        (result,) = evaluate_claims([("same", d, 0.001)], seed=i, resamples=2000)
        equivalent += result.verdict == "equivalent"
    assert equivalent / sims >= 0.99


def test_few_seeds_never_make_equivalence_from_a_narrow_bootstrap() -> None:
    # Three nearly equal differences: the percentile bootstrap CI sits inside ±0.001, but
    # three pairs cannot show that; the t interval is wide, so the verdict stays open.
    d = [0.0002, 0.0009, -0.0003]
    (result,) = evaluate_claims([("three seeds", d, 0.001)])
    assert result.ci[0] > -0.001 and result.ci[1] < 0.001
    assert result.t_ci[0] < -0.001 or result.t_ci[1] > 0.001
    assert result.verdict == "inconclusive"
    # mean 2, SD 1, t(0.975, 2) = 4.3027: half-width 4.3027 / √3 = 2.4841
    assert t_interval([1.0, 2.0, 3.0], 0.95) == pytest.approx((2 - 2.4841, 2 + 2.4841), abs=1e-4)


# --- differences that cannot be judged ------------------------------------------------------


@pytest.mark.parametrize("d", [[0.004], [0.004, 0.005], [0.004, 0.004]])
def test_fewer_than_three_pairs_are_not_judged(d: list[float]) -> None:
    # Two clearly positive pairs would be "significant" by a t-test with 1 df only by luck;
    # with fewer than 3 pairs no verdict is given, whatever the numbers.
    clear = ("clear", np.random.default_rng(5).normal(0.004, 0.001, 10), 0.001)
    few, other = evaluate_claims([("few", d, 0.001), clear])
    assert few.verdict == "inconclusive" and few.n == len(d)
    assert f"only {len(d)} paired seed" in few.notes[0] and "at least 3" in few.notes[0]
    assert few.test == "not tested" and few.p_value == 1.0
    assert few.seeds_needed is not None and few.seeds_needed >= 3
    assert other.verdict == "supported"  # the other claims of the report are still judged


def test_few_pairs_ask_for_the_seeds_power_says() -> None:
    # d = [1, 3]: mean 2, SD √2, dz = 1.414 → power 0.8 needs 7 pairs at α = 0.05
    (result,) = evaluate_claims([("two", [1.0, 3.0], 0.1)])
    assert result.seeds_needed == seeds_needed(2 / math.sqrt(2)) == 7
    (result,) = evaluate_claims([("one", [1.0], 0.1)])
    assert result.seeds_needed == 3 and math.isnan(result.sd)
    (result,) = evaluate_claims([("none", [], 0.1)])
    assert result.verdict == "inconclusive" and result.n == 0


def test_equal_differences_are_untestable_not_significant() -> None:
    # Three identical +0.1 pp differences: SD 0, t = ∞, p = 0 — an artefact, not evidence.
    (result,) = evaluate_claims([("no spread", [0.001, 0.001, 0.001], 0.0005)])
    assert result.verdict == "inconclusive"
    assert result.notes[0].startswith("the differences have no spread: all 3 equal +0.001")
    assert result.p_value == 1.0 and result.seeds_needed is None
    # Equal in exact arithmetic, unequal in the last bits (k/10,000 − (k−10)/10,000).
    k = np.array([9871, 9632, 9636, 9511, 9269, 9307, 9040, 9500])
    d = k / 10_000 - (k - 10) / 10_000
    assert np.ptp(d) > 0
    assert paired_test(d).name == "not tested"
    (result,) = evaluate_claims([("rounding", d, 0.0005)])
    assert result.verdict == "inconclusive" and "no spread" in result.notes[0]
    # Equal and inside the ROPE, but not 0: still no spread to test, so not "equivalent".
    (result,) = evaluate_claims([("small", [0.0001] * 5, 0.001)])
    assert result.verdict == "inconclusive"


def test_all_zero_differences_inside_the_rope_are_equivalent() -> None:
    (result,) = evaluate_claims([("identical arms", [0.0] * 5, 0.001)])
    assert result.verdict == "equivalent" and not result.notes
    (result,) = evaluate_claims([("no rope", [0.0] * 5, 0.0)])
    assert result.verdict == "inconclusive" and "no spread" in result.notes[0]


def test_an_untestable_claim_takes_no_holm_level_from_a_tested_one() -> None:
    tested = ("tested", np.random.default_rng(6).normal(0.004, 0.001, 10), 0.001)
    results = evaluate_claims([("equal", [0.002] * 10, 0.001), tested])
    assert results[0].p_holm == 1.0
    # Holm over two claims: the tested one, ranked first, is corrected at α/2.
    assert results[1].p_holm == pytest.approx(2 * results[1].p_value)
    assert results[1].ci_level == pytest.approx(1 - ALPHA / 2)


def test_untestable_notes_say_why_no_significance_is_claimed() -> None:
    (equal,) = evaluate_claims([("equal", [0.001] * 3, 0.0005)])
    assert "the test cannot tell a real effect from a rounding artefact" in equal.notes[0]
    (few,) = evaluate_claims([("few", [0.004, 0.005], 0.001)])
    assert "at least 3 paired seeds" in few.notes[0] and "no significance" in few.notes[0]


def test_decide_ignores_a_zero_p_value_from_differences_without_spread() -> None:
    # A caller that ran the t-test itself on equal differences gets p = 0 (t = ∞); the
    # verdict must still not be "supported".
    d = [0.001, 0.001, 0.001]
    result = decide(
        "no spread",
        d,
        rope=0.0005,
        p_holm=0.0,
        level_alpha=ALPHA,
        p_value=0.0,
        test=PairedTestResult("paired t-test", 0.0, "forced"),
        seed=0,
    )
    assert result.verdict == "inconclusive" and "no spread" in result.notes[0]


def test_holm_counts_a_nan_p_value_as_one() -> None:
    adjusted, levels = holm([math.nan, 0.01, 0.04])
    assert adjusted == pytest.approx([1.0, 0.03, 0.08])
    assert levels == pytest.approx([ALPHA / 1, ALPHA / 3, ALPHA / 2])


def test_missing_metric_values_do_not_poison_the_other_claims() -> None:
    tested = ("tested", np.random.default_rng(7).normal(0.004, 0.001, 10), 0.001)
    missing, other = evaluate_claims([("missing", [0.01, math.nan, 0.02, 0.03], 0.001), tested])
    assert missing.verdict == "inconclusive" and missing.p_value == 1.0
    assert "1 of the 4 paired differences are not numbers" in missing.notes[0]
    assert other.p_holm == pytest.approx(2 * other.p_value) and other.verdict == "supported"
