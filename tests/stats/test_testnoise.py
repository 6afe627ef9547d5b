"""Test-set noise: packed per-example correctness, the two-level bootstrap against known cases,
and the McNemar counts against statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar

from cnnlab.stats.testnoise import (
    binomial_se,
    correctness,
    noise_diagnostics,
    two_level_interval,
    unpack_correct,
)
from cnnlab.training.result import pack_correct


@pytest.mark.parametrize("n", [10_000, 200, 13, 1])
def test_correctness_round_trips_through_its_packed_text(n: int) -> None:
    bits = np.random.default_rng(n).random(n) < 0.9
    text = pack_correct(bits)
    assert text.startswith(f"{n}:")
    assert np.array_equal(unpack_correct(text), bits)
    if n == 10_000:
        assert len(text) < 1700  # about 1.25 KB of bits, in base64


def test_rows_without_correctness_give_none() -> None:
    good = pack_correct(np.ones(16, dtype=bool))
    assert correctness([good, good]) is not None
    assert correctness([good, float("nan")]) is None  # a row from before the column existed
    assert correctness([]) is None


def _agreeing_arms(
    rng: np.random.Generator, seeds: int, examples: int, identical: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Two arms right on ~99 % of the test images, disagreeing on ~3 % of them."""
    truth = rng.random(examples) < 0.99
    rows_a, rows_b = [], []
    for _ in range(seeds):
        flips_a = rng.random(examples) < 0.02
        flips_b = rng.random(examples) < 0.01
        rows_a.append(truth ^ flips_a)
        rows_b.append(truth ^ flips_b)
    if identical:  # every seed the same run
        rows_a, rows_b = [rows_a[0]] * seeds, [rows_b[0]] * seeds
    return np.stack(rows_a), np.stack(rows_b)


def test_with_identical_seeds_the_width_is_the_paired_binomial_standard_error() -> None:
    rng = np.random.default_rng(1)
    a, b = _agreeing_arms(rng, seeds=8, examples=10_000, identical=True)
    assert np.mean(a[0] == b[0]) >= 0.95
    low, high = two_level_interval(a, b, 0.95, draws=2000, seed=2)
    expected = 2 * sps.norm.ppf(0.975) * binomial_se(a[0], b[0])
    assert high - low == pytest.approx(expected, rel=0.10)
    # the seed-only bootstrap has nothing to resample here: a single point
    seed_only = two_level_interval(a, b, 0.95, resample_examples=False)
    assert seed_only[0] == pytest.approx(seed_only[1])


def test_with_a_very_large_test_set_it_is_the_seed_only_interval() -> None:
    rng = np.random.default_rng(3)
    seeds, examples = 12, 200_000
    # seed noise: each seed's own accuracy offset (0.2 pp SD); example noise is ~0.03 pp here
    offsets = rng.normal(0, 0.002, seeds)
    truth = rng.random(examples) < 0.99
    a = np.stack([truth ^ (rng.random(examples) < 0.01 + max(o, -0.009)) for o in offsets])
    b = np.stack([truth ^ (rng.random(examples) < 0.01) for _ in offsets])
    two = two_level_interval(a, b, 0.95, draws=400, seed=4)
    seed_only = two_level_interval(a, b, 0.95, draws=400, seed=4, resample_examples=False)
    width = seed_only[1] - seed_only[0]
    assert two[1] - two[0] == pytest.approx(width, rel=0.10)
    assert two[0] == pytest.approx(seed_only[0], abs=0.1 * width)


def test_mcnemar_counts_match_statsmodels() -> None:
    rng = np.random.default_rng(5)
    a, b = _agreeing_arms(rng, seeds=3, examples=2_000, identical=False)
    noise = noise_diagnostics(a, b, 0.95, draws=200)
    for s in range(3):
        both = int((a[s] & b[s]).sum())
        only_a, only_b = noise.only_better_right[s], noise.only_worse_right[s]
        neither = int((~a[s] & ~b[s]).sum())
        assert only_a == int((a[s] & ~b[s]).sum()) and only_b == int((~a[s] & b[s]).sum())
        table = [[both, only_a], [only_b, neither]]
        assert noise.mcnemar_p[s] == pytest.approx(mcnemar(table, exact=True).pvalue)
    # arm a flips twice as often as b: usually detectable on 2,000 images
    assert noise.seeds_differing >= 1
