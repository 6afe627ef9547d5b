"""Sequential plans: per-look levels, judging looks, which cells the next look needs, and the
plan's error rates and stopping behaviour by simulation through `judge_sequence` itself."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from cnnlab.data import synthetic_dataset
from cnnlab.errors import SpecError
from cnnlab.spec.design import Claim, Factor, Sweep, config_hash
from cnnlab.spec.presets import small
from cnnlab.spec.sequential import SequentialPlan, plan_hash
from cnnlab.spec.specs import TrainSpec, TrialSpec
from cnnlab.stats.claims import cells_needed, judge
from cnnlab.stats.sequential import (
    ClaimSeries,
    SequentialClaim,
    judge_sequence,
    look_levels,
    operating_characteristics,
)

PLAN = SequentialPlan()  # looks 5, 8, 12, 20; Pocock-type spending; futility
ALPHA = 0.05
SIMS = 2000


def _sweep(plan: SequentialPlan = PLAN, arms: tuple[str, ...] = ("a", "b", "c")) -> Sweep:
    return Sweep(
        name="seq",
        base=TrialSpec(arch=small, train=TrainSpec(epochs=1)),
        factors=(
            Factor(path="arch.pooling", levels=("max", "avg", "none")[: len(arms)], labels=arms),
        ),
        seeds=plan,
        claims=(
            Claim(statement="a beats b", better="a", worse="b"),
            Claim(statement="c beats a", better="c", worse="a"),
        ),
    )


def _results(
    sweep: Sweep, effects: dict[str, float], seeds: dict[str, int], noise: float = 0.001
) -> pd.DataFrame:
    """Planted results: arm accuracy = 0.98 + effect + a per-seed level + noise."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(max(seeds.values())):
        shared = rng.normal(0, 0.002)
        for arm in sweep.arm_labels():
            value = 0.98 + effects[arm] + shared + rng.normal(0, noise)
            if seed < seeds[arm]:
                rows.append(
                    {
                        "trial": len(rows),
                        "cell": f"{arm}/seed={seed:02d}",
                        "arm": arm,
                        "seed": seed,
                        "background": None,
                        "test_accuracy": value,
                    }
                )
    return pd.DataFrame(rows)


# --- the plan as declared ----------------------------------------------------------------


def test_a_plan_has_its_own_hash_and_leaves_the_definition_hash_alone() -> None:
    fixed = _sweep().with_changes(seeds=10)
    assert config_hash(fixed) == config_hash(_sweep())
    assert plan_hash(PLAN) != plan_hash(SequentialPlan(looks=(5, 10, 20)))
    assert _sweep().seed_values == tuple(range(20))


@pytest.mark.parametrize(
    ("looks", "message"),
    [
        ((8, 16), "first look must be at 3 to 5"),
        ((5, 5, 10), "increase strictly"),
        ((2, 10), "3 to 5"),
    ],
)
def test_bad_plans_are_refused_by_field(looks: tuple[int, ...], message: str) -> None:
    with pytest.raises(SpecError, match=message) as error:
        SequentialPlan(looks=looks)
    assert error.value.field == "seeds.looks"


def test_every_look_is_stricter_than_the_fixed_designs_share() -> None:
    # (tests/stats/test_calibration.py checks the levels against the calibrated values)
    levels = look_levels(PLAN, 3)
    assert [lv.seeds for lv in levels] == [5, 8, 12, 20]
    assert all(lv.alpha < ALPHA / 3 and lv.alpha_eq < ALPHA / 3 for lv in levels)


def test_an_obrien_fleming_first_look_at_five_seeds_cannot_stop() -> None:
    # docs/statistics.md: at 5 seeds (4 df) the O'Brien–Fleming-type first look of a 5/10/20/40 plan
    # needs t ≈ 119; Pocock-type spending needs a t a large effect can reach (8.3).
    obf = look_levels(SequentialPlan(looks=(5, 10, 20, 40), spending="obrien-fleming"), 1)[0]
    pocock = look_levels(SequentialPlan(looks=(5, 10, 20, 40)), 1)[0]
    assert sps.t.ppf(1 - obf.alpha / 2, 4) > 25
    assert sps.t.ppf(1 - pocock.alpha / 2, 4) < 10


# --- judging looks and choosing the next cells ------------------------------------------


def test_a_decided_claims_arm_gets_no_more_seeds() -> None:
    sweep = _sweep()
    # a ≫ b (decided at the first look); c ≈ a with noise far above the ROPE (stays open)
    results = _results(
        sweep, {"a": 0.03, "b": 0.0, "c": 0.031}, {"a": 5, "b": 5, "c": 5}, noise=0.003
    )
    judgement = judge(sweep, results, quick=False)
    first, second = judgement.sequence
    assert first.status == "decided" and first.look == 1 and first.result is not None
    assert first.result.verdict == "supported"
    assert second.status == "open" and second.next_seeds == 8
    needed = cells_needed(sweep, judgement)
    assert {c.arm for c in needed if c.seed >= 5} == {"a", "c"}  # b: no open claim needs it
    assert max(c.seed for c in needed) == 7


def test_an_incomplete_look_is_not_judged() -> None:
    sweep = _sweep()
    results = _results(sweep, {"a": 0.01, "b": 0.0, "c": 0.0}, {"a": 5, "b": 4, "c": 5})
    judgement = judge(sweep, results, quick=False)
    assert judgement.sequence[0].result is None and judgement.sequence[0].next_seeds == 5
    needed = cells_needed(sweep, judgement)
    assert {(c.arm, c.seed) for c in needed} >= {("b", 4)}
    assert max(c.seed for c in needed) == 4


def test_the_deciding_looks_interval_is_at_its_nominal_level() -> None:
    sweep = _sweep()
    results = _results(sweep, {"a": 0.01, "b": 0.0, "c": 0.0}, {"a": 5, "b": 5, "c": 5})
    standing = judge(sweep, results, quick=False).sequence[0]
    assert standing.result is not None
    level = look_levels(PLAN, 2)[0]
    assert standing.result.ci_level == pytest.approx(1 - level.alpha)
    assert standing.result.n == 5


def test_first_cells_include_the_baseline_arm_and_every_claims_arms() -> None:
    sweep = _sweep()
    empty = _results(sweep, {"a": 0, "b": 0, "c": 0}, {"a": 1, "b": 1, "c": 1}).iloc[0:0]
    needed = cells_needed(sweep, judge(sweep, empty, quick=False))
    assert {c.arm for c in needed} == {"a", "b", "c"} and max(c.seed for c in needed) == 4


# --- simulations through judge_sequence ---------------------------------------------------


def _series(draws: np.ndarray, rope: float) -> ClaimSeries:
    return ClaimSeries("sim", tuple(range(draws.shape[0])), tuple(float(x) for x in draws), rope)


def _as_run(rows: list[np.ndarray], rope: float) -> list[SequentialClaim]:
    """`judge_sequence` as a sweep meets it: look by look, each claim with the seeds trained
    so far, and frozen once it is no longer open (a futile claim gets no more seeds)."""
    final: dict[int, SequentialClaim] = {}
    for n in PLAN.looks:
        outcome = judge_sequence(PLAN, [_series(row[:n], rope) for row in rows], full=False)
        for k, standing in enumerate(outcome):
            if k not in final and (standing.status != "open" or n == PLAN.seed_count):
                final[k] = standing
        if len(final) == len(rows):
            break
    return [final[k] for k in range(len(rows))]


@functools.cache
def simulate(
    delta: float, claims: int = 1, rope: float = 1.0, sims: int = SIMS, seed: int = 0
) -> dict[str, float]:
    """The plan run on `sims` simulated families of `claims` claims (only the first has the
    effect δ; the others are null), each through judge_sequence end to end."""
    rng = np.random.default_rng(seed)
    seeds_used, false_first, any_false, stops = [], 0, 0, np.zeros(len(PLAN.looks))
    verdicts: dict[str, int] = {}
    for _ in range(sims):
        family = [
            rng.normal(size=PLAN.seed_count) + (delta if k == 0 else 0.0) for k in range(claims)
        ]
        outcome = _as_run(family, rope)
        head = outcome[0]
        seeds_used.append(head.seeds)
        verdict = head.result.verdict if head.result else "none"
        key = "futile" if head.status == "futile" else verdict
        verdicts[key] = verdicts.get(key, 0) + 1
        if head.status in ("decided", "futile") and head.look is not None:
            stops[head.look - 1] += 1
        false_first += delta == 0 and verdict in ("supported", "refuted")
        nulls = outcome if delta == 0 else outcome[1:]
        any_false += any(
            s.result is not None and s.result.verdict in ("supported", "refuted") for s in nulls
        )
    return {
        "expected_seeds": float(np.mean(seeds_used)),
        "false": false_first / sims,
        "family_false": any_false / sims,
        **{f"stop{k + 1}": float(stops[k] / sims) for k in range(len(PLAN.looks))},
        **{f"verdict_{k}": v / sims for k, v in verdicts.items()},
    }


def _limit(rate: float = ALPHA) -> float:
    return rate + 2 * math.sqrt(rate * (1 - rate) / SIMS)


@pytest.mark.slow
def test_the_plans_false_verdict_rate_under_its_own_stopping() -> None:
    # one claim, with the ROPE far below the noise: no equivalence to hide behind
    assert simulate(0.0, rope=0.01)["false"] <= _limit()
    # three null claims (Bonferroni over the family)
    assert simulate(0.0, claims=3, rope=0.01)["family_false"] <= _limit()


@pytest.mark.slow
def test_false_equivalence_at_the_ropes_edge_under_the_plan() -> None:
    figures = simulate(1.0, rope=1.0, seed=1)
    assert figures.get("verdict_equivalent", 0.0) <= _limit()


@pytest.mark.slow
@pytest.mark.parametrize("delta", [0.0, 0.674, 1.0, 1.75])
def test_stopping_probabilities_match_the_vectorised_characteristics(delta: float) -> None:
    simulated = simulate(delta)
    oc = operating_characteristics(PLAN, 1, delta, 1.0, sims=20_000, seed=5)
    for k, look in enumerate(oc.stop, 1):
        p = sum(look.values())
        tolerance = 4 * math.sqrt(p * (1 - p) / SIMS) + 0.005  # two independent simulations
        assert simulated[f"stop{k}"] == pytest.approx(p, abs=tolerance), (k, simulated)
    assert simulated["expected_seeds"] == pytest.approx(oc.expected_seeds, abs=0.4)


@pytest.mark.parametrize(("delta", "rope"), [(0.0, 1.0), (1.75, 1.0), (0.5, 0.3), (-0.8, 0.2)])
def test_the_vectorised_characteristics_are_judge_sequence_on_the_same_draws(
    delta: float, rope: float
) -> None:
    draws = delta + np.random.default_rng(7).normal(size=(300, PLAN.seed_count))
    oc = operating_characteristics(PLAN, 1, delta, rope, draws=draws)
    counts: dict[tuple[int, str], int] = {}
    for row in draws:
        (standing,) = _as_run([row], rope)
        if standing.status in ("decided", "futile"):
            assert standing.look is not None and standing.result is not None
            name = "futile" if standing.status == "futile" else standing.result.verdict
            counts[standing.look, name] = counts.get((standing.look, name), 0) + 1
    for k, look in enumerate(oc.stop, 1):
        for name, p in look.items():
            assert counts.get((k, name), 0) == round(p * 300), (k, name)


@pytest.mark.slow
def test_a_large_effect_stops_well_before_the_last_look() -> None:
    # docs/statistics.md: 9.4 seeds for one claim, 13.2 for one of three (the calibrated values
    # cost about 3 and 5 seeds here against the earlier, anti-conservative levels)
    assert simulate(1.75)["expected_seeds"] <= 10.0  # one claim at α
    assert simulate(1.75, claims=3)["expected_seeds"] <= 14.0  # one of three (α/3 each)


@pytest.mark.slow
@pytest.mark.tables
def test_print_the_plans_figures(capsys: pytest.CaptureFixture[str]) -> None:
    import time

    start = time.perf_counter()
    rows = [("dz", "claims", "E[seeds]", "P(stop) per look", "verdicts")]
    for claims, delta in [(1, 0.0), (1, 0.674), (1, 1.0), (1, 1.75), (3, 1.75)]:
        if True:
            f = simulate(delta, claims=claims)
            stops = " ".join(f"{f[f'stop{k}']:.2f}" for k in range(1, len(PLAN.looks) + 1))
            verdicts = ", ".join(
                f"{k[8:]} {v:.2f}" for k, v in sorted(f.items()) if k.startswith("verdict_")
            )
            rows.append((f"{delta:g}", str(claims), f"{f['expected_seeds']:.1f}", stops, verdicts))
    comparison = []
    for spending, gamma in (
        ("pocock", 1.0),
        ("obrien-fleming", 1.0),
        ("hsd", -4.0),
        ("hsd", -2.0),
        ("hsd", 1.0),
    ):
        plan = SequentialPlan(spending=spending, gamma=gamma)  # type: ignore[arg-type]
        seeds = [
            operating_characteristics(plan, 3, d, 1.0).expected_seeds
            for d in (0.0, 0.674, 1.0, 1.75)
        ]
        first = look_levels(plan, 3)[0]
        comparison.append(
            f"  {spending:<15} γ={gamma:<5g} E[seeds] at dz 0/0.674/1/1.75: "
            + " / ".join(f"{s:.1f}" for s in seeds)
            + f"; first look needs |t| ≥ {sps.t.ppf(1 - first.alpha / 2, 4):.1f}"
        )
    with capsys.disabled():
        print(
            f"\nSequential plan {PLAN.describe()} ({SIMS} simulated families per row, ROPE = 1 SD):"
        )
        for row in rows:
            print("  " + " | ".join(row))
        single = simulate(0.0, rope=0.01)["false"]
        family = simulate(0.0, claims=3, rope=0.01)["family_false"]
        edge = simulate(1.0, rope=1.0, seed=1).get("verdict_equivalent", 0.0)
        print(f"  false supported+refuted, one null claim (ROPE 0.01 SD): {single:.4f}")
        print(f"  family-wise false verdicts, three null claims: {family:.4f}")
        print(f"  false equivalence at the ROPE's edge (ROPE = 1 SD): {edge:.4f}")
        print("Spending functions compared (three claims, vectorised characteristics):")
        print("\n".join(comparison))
        print(f"  ({time.perf_counter() - start:.1f} s)")
    assert rows


# --- what --quick, --seeds and a rebuild do to a plan ------------------------------------


def test_quick_and_seeds_replace_the_plan_by_fixed_seeds() -> None:
    from cnnlab.sweep.options import SweepOptions, effective_sweep

    sweep = _sweep()
    quick = effective_sweep(sweep, SweepOptions(quick=True))
    assert quick.plan is None and quick.seed_values == (0, 1, 2)
    fixed = effective_sweep(sweep, SweepOptions(seeds=7))
    assert fixed.plan is None and fixed.seed_values == tuple(range(7))
    assert effective_sweep(sweep, SweepOptions()).plan == PLAN


def test_a_rebuild_reads_the_plan_back_from_provenance(tmp_path: Path) -> None:
    import dataclasses
    import json

    from cnnlab.report.build import run_sweep_of
    from cnnlab.report.provenance import ABSENT, Provenance
    from tests.conftest import REPO

    committed = json.loads((REPO / "reports" / "max_vs_avg" / "provenance.json").read_text())
    provenance = {
        **committed,
        "sweep_source": "max_vs_avg",
        "seeds": list(range(20)),
        "sequential_plan": dataclasses.asdict(SequentialPlan(looks=(5, 10))),
    }
    planned = Provenance.from_json(provenance)
    assert run_sweep_of(planned, tmp_path, None).plan == SequentialPlan(looks=(5, 10))
    provenance["sequential_plan"] = None  # a fixed run of a sweep that now declares a plan
    fixed = Provenance.from_json(provenance)
    assert run_sweep_of(fixed, tmp_path, None).seed_values == tuple(range(20))
    assert run_sweep_of(fixed, tmp_path, None).plan is None
    del provenance["sequential_plan"]  # a run from before plans existed: its seeds as well
    read = Provenance.from_json(provenance)
    assert read.sequential_plan is ABSENT
    assert run_sweep_of(read, tmp_path, None).seed_values == tuple(range(20))


def test_the_plan_line_says_what_the_first_look_costs() -> None:
    from cnnlab.report.durations import format_duration
    from cnnlab.spec.design import cells
    from cnnlab.sweep.console.estimate import estimate_sweep
    from cnnlab.sweep.launch import describe_plan
    from cnnlab.sweep.parallelism import resolve

    sweep = _sweep()
    parallelism = resolve(2, cores=2)
    estimate = estimate_sweep(sweep, parallelism)
    text = describe_plan(
        sweep, cells(sweep), parallelism, estimate, synthetic_dataset(n_train=6_000, n_test=10)
    )
    first = text.splitlines()[0]  # short and plain: the spending rule has a line of its own
    assert "3 arms × 5–20 paired seeds: the first look trains 15 trials, the last at most 60" in (
        first
    )
    assert "spending" not in first
    assert "Seeds: added in looks at 5, 8, 12, 20 paired seeds; each claim stops" in text
    assert estimate.first_look is not None and estimate.first_look < estimate.total
    assert f"{format_duration(estimate.first_look)} for the first look" in text
    assert f"{format_duration(estimate.total)} at most" in text
    assert "2 worker processes, 1 thread each (2 cores)" in text


def test_a_futile_claim_is_judged_on_at_a_look_whose_seeds_exist() -> None:
    # Futility is non-binding: it stops training, not judging. Differences that would stop for
    # futility at look 1 are judged at look 2 when its seeds are there (another claim needed
    # the arms), and stop at look 1 when they are not.
    rng = np.random.default_rng(3)
    row = next(
        r
        for r in (0.05 + rng.normal(size=PLAN.seed_count) for _ in range(500))
        if _as_run([r], 0.01)[0].status == "futile" and _as_run([r], 0.01)[0].look == 1
    )
    (first,) = judge_sequence(PLAN, [_series(row[:5], 0.01)], full=False)
    assert first.status == "futile" and first.look == 1
    (later,) = judge_sequence(PLAN, [_series(row[:8], 0.01)], full=False)
    assert later.look == 2 and later.history[0] == (1, "inconclusive")
