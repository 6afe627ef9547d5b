"""Judging claims on a results table: pairing by replicate, gates, and planted verdicts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from cnnlab.spec.design import Background, Claim, Factor, Sweep, cells
from cnnlab.spec.presets import small
from cnnlab.spec.specs import TrialSpec
from cnnlab.stats.claims import judge, paired_differences
from cnnlab.stats.table import missing_cells

SWEEP = Sweep(
    name="p",
    base=TrialSpec(arch=small),
    factors=(Factor(path="arch.pooling", levels=("max", "avg", "none")),),
    seeds=12,
    claims=(
        Claim(statement="max beats avg", better="max", worse="avg", rope=0.001),
        Claim(statement="none beats max", better="none", worse="max", rope=0.001),
        Claim(
            statement="avg loses less than none",
            metric="test_loss",
            better="avg",
            worse="none",
            rope=0.001,
            higher_is_better=False,
        ),
    ),
    baseline_band=(0.98, 0.995),
)
PLANTED = {"max": 0.990, "avg": 0.985, "none": 0.990}  # max − avg = +0.5 pp; none = max


def synthetic_results(sweep: Sweep = SWEEP, seed: int = 0) -> pd.DataFrame:
    """One row per cell: a per-seed level shared by all arms (pairing matters) plus noise."""
    rng = np.random.default_rng(seed)
    seed_effect = {s: rng.normal(0, 0.002) for s in sweep.seed_values}
    rows = []
    for cell in cells(sweep):
        accuracy = PLANTED[cell.arm] + seed_effect[cell.seed] + rng.normal(0, 0.0003)
        rows.append(
            {
                "cell": cell.key,
                "arm": cell.arm,
                "seed": cell.seed,
                "background": cell.background,
                "test_accuracy": accuracy,
                "test_loss": 1 - accuracy,
            }
        )
    return pd.DataFrame(rows)


def test_differences_are_paired_by_seed_and_sign_follows_the_metric() -> None:
    results = synthetic_results()
    d = paired_differences(results, SWEEP.claims[0])
    assert len(d) == 12
    assert np.all(d > 0.003)  # the shared seed effect cancels: pairing at work
    loss = paired_differences(results, SWEEP.claims[2])  # lower loss is better
    np.testing.assert_allclose(
        loss,
        -(
            results[results.arm == "avg"].test_loss.to_numpy()
            - results[results.arm == "none"].test_loss.to_numpy()
        ),
    )


def test_planted_effects_give_the_planted_verdicts() -> None:
    judgement = judge(SWEEP, synthetic_results(), quick=False)
    assert judgement.judged
    verdicts = {r.statement: r.verdict for r in judgement.results}
    assert verdicts == {
        "max beats avg": "supported",
        "none beats max": "equivalent",
        "avg loses less than none": "refuted",
    }


def test_a_missing_replicate_means_not_judged() -> None:
    results = synthetic_results().iloc[1:]  # drop max/seed=00
    assert missing_cells(SWEEP, results) == ["max/seed=00"]
    judgement = judge(SWEEP, results, quick=False)
    assert not judgement.judged and not judgement.results
    assert "max/seed=00" in judgement.reasons[0]


def test_the_sanity_gate_on_full_runs_only() -> None:
    results = synthetic_results()
    results["test_accuracy"] -= 0.05  # a broken budget: the baseline reaches ~94 %
    judgement = judge(SWEEP, results, quick=False)
    assert not judgement.judged and "sanity gate" in judgement.reasons[0]
    assert judge(SWEEP, results, quick=True).judged  # smoke runs keep their verdicts


def test_the_sanity_gate_uses_the_band_of_the_dataset_the_run_used() -> None:
    results = synthetic_results()
    results["test_accuracy"] -= 0.10  # ~89 %: a Fashion-MNIST-like accuracy
    data = dataclasses.replace(SWEEP.base.data, dataset="fashion_mnist")
    on_fashion = SWEEP.with_changes(base=dataclasses.replace(SWEEP.base, data=data))
    judgement = judge(on_fashion, results, quick=False)  # MNIST's band only: not gated
    assert judgement.judged and judgement.baseline["no_band_for"] == "fashion_mnist"
    assert judgement.baseline["band"] is None
    banded = on_fashion.with_changes(
        baseline_band={"mnist": (0.98, 0.995), "fashion_mnist": (0.85, 0.92)}
    )
    judgement = judge(banded, results, quick=False)
    assert judgement.judged and judgement.baseline["band"] == (0.85, 0.92)
    assert "no_band_for" not in judgement.baseline
    results["test_accuracy"] -= 0.10  # ~79 %: outside Fashion-MNIST's band
    judgement = judge(banded, results, quick=False)
    assert not judgement.judged and "85.0–92.0 %" in judgement.reasons[0]


def test_randomized_designs_pair_by_seed_and_background() -> None:
    sweep = dataclasses.replace(
        SWEEP,
        design="randomized",
        factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
        backgrounds=(Background(path="arch.dropout", choices=(0.0, 0.5)),),
        n_backgrounds=2,
        claims=(SWEEP.claims[0],),
    )
    results = synthetic_results(sweep)
    assert len(paired_differences(results, sweep.claims[0])) == 12 * 2
    assert judge(sweep, results, quick=False).results[0].verdict == "supported"


@pytest.mark.parametrize("column", ["seed", "arm"])
def test_rows_that_do_not_pair_are_left_out(column: str) -> None:
    results = synthetic_results()
    results.loc[0, column] = 99 if column == "seed" else "other"
    assert len(paired_differences(results, SWEEP.claims[0])) == 11


def test_only_the_designs_own_cells_are_judged_once_each() -> None:
    # The study ran 20 seeds; the design now asks for 12. And a cell finished twice (two
    # processes on one study). The verdicts must use the 12 design seeds, each once.
    wide = synthetic_results(dataclasses.replace(SWEEP, seeds=20), seed=5)
    duplicate = wide[wide["cell"] == "avg/seed=03"].assign(test_accuracy=0.5)
    table = pd.concat([wide, duplicate], ignore_index=True).assign(trial=lambda f: f.index)
    assert missing_cells(SWEEP, table) == []
    judgement = judge(SWEEP, table, quick=False)
    assert judgement.judged
    assert [r.n for r in judgement.results] == [12, 12, 12]
    clean = wide[wide["seed"] < 12]  # what the design asks for, without the duplicate
    assert [r.mean for r in judgement.results] == [
        r.mean for r in judge(SWEEP, clean, quick=False).results
    ]


def test_a_sequential_sweep_with_probe_claims_and_no_trial_yet_waits_for_its_first_look() -> None:
    # The full augmentation sweep stopped at its start with KeyError: 'shift2_drop': a fresh
    # study's empty results table has the required columns but no probe columns.
    from cnnlab.spec.loading import load_sweep
    from cnnlab.stats.table import REQUIRED_COLUMNS

    sweep = load_sweep("augmentation")
    assert sweep.plan is not None and any(c.metric == "shift2_drop" for c in sweep.claims)
    empty = pd.DataFrame(columns=list(REQUIRED_COLUMNS))
    judgement = judge(sweep, empty, quick=False)
    assert not judgement.judged and "first look" in judgement.reasons[0]
    assert [s.result for s in judgement.sequence] == [None] * len(sweep.claims)
