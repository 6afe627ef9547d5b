"""The pilot rule: the first epoch at which every arm's mean validation accuracy rose by less
than 0.05 pp over the last 2 epochs."""

from __future__ import annotations

import pandas as pd
import pytest

from cnnlab.stats.convergence import converged_epoch, mean_curves


def _epochs(curves: dict[str, list[list[float]]]) -> pd.DataFrame:
    """arm -> one validation curve per seed."""
    rows = [
        {"arm": arm, "seed": seed, "epoch": epoch, "val_accuracy": value}
        for arm, per_seed in curves.items()
        for seed, curve in enumerate(per_seed)
        for epoch, value in enumerate(curve, start=1)
    ]
    return pd.DataFrame(rows)


def test_every_arm_must_have_stopped_rising() -> None:
    # `a` flattens after epoch 3; `b` still climbs 0.1 pp per epoch until epoch 5.
    a = [0.980, 0.985, 0.9870, 0.9872, 0.9873, 0.9873, 0.9874]
    b = [0.970, 0.980, 0.9850, 0.9860, 0.9870, 0.9872, 0.9873]
    found = converged_epoch(_epochs({"a": [a, a], "b": [b, b]}))
    # a alone would converge at 5 (0.9873 − 0.9870 = 0.03 pp); b's rise from 5 to 7 is 0.03 pp.
    assert found.epoch == 7
    assert found.rises["b"] == pytest.approx(0.0003)
    assert converged_epoch(_epochs({"a": [a]})).epoch == 5


def test_a_rise_of_exactly_the_threshold_is_still_rising_and_a_fall_has_converged() -> None:
    rising = [0.97, 0.98, 0.9850, 0.9855, 0.9860]  # 0.10 pp from 3 to 5; 0.05 pp from 3 to 4
    assert converged_epoch(_epochs({"a": [rising]})).epoch is None
    falling = [0.97, 0.99, 0.9890, 0.9880]  # epoch 3 is still 1.9 pp above epoch 1
    assert converged_epoch(_epochs({"a": [falling]})).epoch == 4


def test_the_rule_reads_the_mean_over_seeds_not_one_seed() -> None:
    # Seed 0 alone looks flat from epoch 3; seed 1 rises 0.4 pp, so the mean rises 0.2 pp.
    flat = [0.98, 0.985, 0.986, 0.986, 0.986, 0.986, 0.986]
    rising = [0.98, 0.985, 0.986, 0.988, 0.990, 0.990, 0.990]
    assert converged_epoch(_epochs({"a": [flat]})).epoch == 5
    found = converged_epoch(_epochs({"a": [flat, rising]}))
    assert found.epoch == 7  # the mean: 0.987 at 4, 0.988 from 5 on
    curves, seeds = mean_curves(_epochs({"a": [flat, rising]}))
    assert seeds == {"a": 2} and curves["a"][3] == pytest.approx(0.987)


def test_not_converged_within_the_pilot_says_so() -> None:
    climbing = [0.9 + 0.01 * e for e in range(6)]
    found = converged_epoch(_epochs({"a": [climbing]}))
    assert found.epoch is None and found.rises["a"] == pytest.approx(0.02)
