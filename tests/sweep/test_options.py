"""The effective sweep: what `--quick` and `--seeds` make of the declared one (no training)."""

from __future__ import annotations

import pytest

from cnnlab.errors import SpecError
from cnnlab.spec.design import Factor, Sweep
from cnnlab.spec.presets import small
from cnnlab.spec.specs import TrialSpec
from cnnlab.sweep.options import SweepOptions, effective_sweep


def _sweep(seeds: int | tuple[int, ...]) -> Sweep:
    factor = Factor(path="arch.pooling", levels=("max", "avg"))
    return Sweep(name="s", base=TrialSpec(arch=small), factors=(factor,), seeds=seeds)


@pytest.mark.parametrize(
    ("declared", "count", "expected"),
    [
        (10, 3, (0, 1, 2)),
        (10, 12, tuple(range(12))),
        ((3, 7, 11), 2, (3, 7)),  # the first N declared: pairs with their results
        ((3, 7, 11), 3, (3, 7, 11)),
        ((3, 7, 11), 5, (3, 7, 11, 0, 1)),  # all declared, then the smallest unused
        ((1, 0, 2), 5, (1, 0, 2, 3, 4)),
    ],
)
def test_seeds_option_keeps_declared_seeds(
    declared: int | tuple[int, ...], count: int, expected: tuple[int, ...]
) -> None:
    # Before: `--seeds N` replaced declared seeds with 0..N-1, so (3, 7, 11) --seeds 2 ran
    # seeds 0 and 1 and paired with none of the study's results.
    sweep = effective_sweep(_sweep(declared), SweepOptions(seeds=count))
    assert sweep.seed_values == expected


def test_seeds_option_below_one_is_refused() -> None:
    with pytest.raises(SpecError, match="at least 1, but 0"):
        effective_sweep(_sweep((3, 7)), SweepOptions(seeds=0))
