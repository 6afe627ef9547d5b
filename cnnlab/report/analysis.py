"""Everything a report says, computed from the results table: verdicts, tests, cost, flags.

Pure: no files, no figures. `analyse` turns (sweep, results, epochs, provenance) into an
`Analysis` that the renderers only format. `verdicts_json` is the machine-readable part, and
is byte-identical whenever the same results table is analysed again (the bootstrap is seeded,
and the keys are sorted): that is how a rebuilt report proves it says what the sweep said.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from cnnlab.report.provenance import Provenance
from cnnlab.report.wording import claim_sentence
from cnnlab.spec.design import (
    Claim,
    Sweep,
    background_values,
    cells,
    claims_hash,
    condition_sweeps,
    make_cell,
    seeds_hash,
)
from cnnlab.spec.geometry import receptive_field
from cnnlab.spec.metrics import CORRECTNESS
from cnnlab.spec.sequential import plan_hash
from cnnlab.spec.specs import ArchSpec
from cnnlab.stats.anova import FactorialResult, OmnibusResult, factorial, omnibus
from cnnlab.stats.claims import Judgement, claim_differences, judge
from cnnlab.stats.convergence import Convergence
from cnnlab.stats.paired import ClaimResult
from cnnlab.stats.replication.conditions import condition_rows
from cnnlab.stats.sequential import (
    OperatingCharacteristics,
    SequentialClaim,
    operating_characteristics,
    power_at,
)
from cnnlab.stats.table import ArmSummary, arm_order, arm_summaries, design_rows, paired
from cnnlab.stats.testnoise import TestNoise, correctness, noise_diagnostics

# The true effects a sequential plan's stopping probabilities are shown at: none, the P(A>B)
# gate's dz, a large effect, and the pilot's max − avg effect (docs/statistics.md).
SHOWN_EFFECTS = (0.0, 0.674, 1.0, 1.75)


@dataclass(frozen=True)
class ClaimOutcome:
    """One declared claim with its verdict (None when the report is not judged)."""

    claim: Claim
    result: ClaimResult | None
    differences: tuple[float, ...]  # in the claim's direction: > 0 means `better` is better
    wins: int  # replicates where `better` came out ahead
    sentence: str
    standing: SequentialClaim | None = None  # where it stands in a sequential plan
    # The plan's stopping probabilities at SHOWN_EFFECTS, at this claim's ROPE / SD.
    characteristics: tuple[OperatingCharacteristics, ...] = ()
    # Test-set noise (None: not test accuracy, or results without per-example correctness).
    noise: TestNoise | None = None


@dataclass(frozen=True, kw_only=True)
class Replicate:
    """One replicate of a randomized design: the background it drew, shared by its arms, and
    what each arm's trial recorded."""

    seed: int
    background: int
    drawn: dict[str, Any]  # background field path -> the value drawn
    params: dict[str, int]  # arm -> parameters, as its trial recorded them
    accuracy: dict[str, float]  # arm -> test accuracy


@dataclass(frozen=True)
class CapAccount:
    """A capped sweep's cost against its full plan's (`Sweep.compute_cap`)."""

    hours: float  # the declared cap
    looks: tuple[int, ...]  # the plan run
    full_looks: tuple[int, ...]  # the plan the cap cut short
    cells: int  # cells with a result
    cell_seconds: float  # their mean training wall seconds (trained here, not copies)
    full_cells: int  # the cells of the full plan's last look
    power: float  # P(supported) at a true dz of 1 by the last look, this plan
    full_power: float  # the same, the full plan


def cap_account(sweep: Sweep, rows: pd.DataFrame) -> CapAccount | None:
    """What the full plan would have cost at this run's measured seconds per cell."""
    cap, plan = sweep.compute_cap, sweep.plan
    if cap is None or plan is None:
        return None
    trained = rows
    if "reused_from" in rows:
        copied = rows["reused_from"].astype(object).where(rows["reused_from"].notna(), "")
        trained = rows[copied.astype(str) == ""]
    seconds = trained if not trained.empty else rows
    full = dataclasses.replace(sweep, seeds=cap.full_plan, compute_cap=None)
    return CapAccount(
        hours=cap.hours,
        looks=plan.looks,
        full_looks=cap.full_plan.looks,
        cells=len(rows),
        cell_seconds=float(seconds["wall_seconds"].mean()) if not seconds.empty else 0.0,
        full_cells=len(cells(full)),
        power=power_at(plan, len(sweep.claims)),
        full_power=power_at(cap.full_plan, len(sweep.claims)),
    )


@dataclass(frozen=True)
class Analysis:
    sweep: Sweep
    quick: bool
    judgement: Judgement
    claims: tuple[ClaimOutcome, ...]
    costs: tuple[ArmSummary, ...]
    control: str
    omnibus: OmnibusResult | None
    omnibus_note: str
    factorial: FactorialResult | None
    factorial_note: str
    claims_edited: bool  # claims changed after the study (and its results) existed
    plan_edited: bool  # the seed plan changed after the study existed (a fixed count counts)
    provenance: Provenance | None = None  # None: analysed without a run's provenance.json
    replicates: tuple[Replicate, ...] = ()  # a randomized design's, else none
    # Cells copied from identical trainings of other studies (the cell cache): (study, cells).
    reused: tuple[tuple[str, int], ...] = ()
    cell_count: int = 0  # the design's cells with a result
    # A network you bring: the lowest and highest share of parameters paired (else None).
    init_paired: tuple[float, float] | None = None
    convergence: Convergence | None = None  # a pilot's: the budget its rule picks
    # A sweep with conditions: each condition's own analysis (its claims, arms, looks), with
    # the replication verdicts in `judgement.replications`; the fields above are its first's.
    conditions: tuple[tuple[str, Analysis], ...] = ()
    # Each arm's receptive field in input pixels (`spec.geometry.receptive_field`), where the
    # arms have one architecture each (not a randomized design's draws).
    receptive_fields: dict[str, int] = dataclasses.field(default_factory=dict)
    cap: CapAccount | None = None  # a capped sweep's cost against its full plan's

    @property
    def arms(self) -> list[str]:
        return [cost.arm for cost in self.costs]


def _claim_outcomes(
    sweep: Sweep, results: pd.DataFrame, judgement: Judgement
) -> tuple[ClaimOutcome, ...]:
    by_statement = {r.statement: r for r in judgement.results}
    standings = {s.statement: s for s in judgement.sequence}
    outcomes = []
    for claim in sweep.claims:
        d = claim_differences(sweep, results, claim) if claim.metric in results else np.array([])
        result = by_statement.get(claim.statement)
        standing = standings.get(claim.statement)
        if standing is not None and result is not None:
            d = d[: result.n]  # the differences the deciding look judged (seed order)
        wins = int((d > 0).sum())
        noise = _noise(results, claim, result, sweep.replicates_per_seed)
        outcomes.append(
            ClaimOutcome(
                claim=claim,
                result=result,
                differences=tuple(float(x) for x in d),
                wins=wins,
                sentence=claim_sentence(claim, result, wins, len(d), standing, noise),
                standing=standing,
                characteristics=_characteristics(sweep, result),
                noise=noise,
            )
        )
    return tuple(outcomes)


def _noise(
    results: pd.DataFrame, claim: Claim, result: ClaimResult | None, per_seed: int
) -> TestNoise | None:
    """The two-level interval and McNemar counts of a test-accuracy claim, at the level of
    its deciding interval, on the replicates its verdict used."""
    if result is None or claim.metric != "test_accuracy" or CORRECTNESS not in results:
        return None
    better, worse = paired(results, CORRECTNESS, claim.better, claim.worse)
    a = correctness(list(better)[: result.n * per_seed])
    b = correctness(list(worse)[: result.n * per_seed])
    if a is None or b is None or a.shape != b.shape or len(a) < 2:
        return None
    if not claim.higher_is_better:  # the claim's direction, as its differences are
        a, b = b, a
    return noise_diagnostics(a, b, result.interval[1])


def _characteristics(
    sweep: Sweep, result: ClaimResult | None
) -> tuple[OperatingCharacteristics, ...]:
    """The plan's stopping probabilities for this claim, at its observed ROPE / SD."""
    if sweep.plan is None or result is None or not result.sd > 0:
        return ()
    return tuple(
        operating_characteristics(
            sweep.plan,
            len(sweep.claims),
            delta,
            result.rope / result.sd,
        )
        for delta in SHOWN_EFFECTS
    )


def _omnibus(sweep: Sweep, results: pd.DataFrame) -> tuple[OmnibusResult | None, str]:
    """ "Does the factor matter at all?" for one-factor designs with three or more arms."""
    if sweep.design not in ("ablation", "randomized") or len(sweep.arm_labels()) < 3:
        return None, ""
    if sweep.plan is not None:
        return None, (
            "not computed for a sequential plan: its arms stop at different looks, and post-hoc "
            "p-values over seeds chosen by optional stopping are not valid"
        )
    try:
        return omnibus(results, "test_accuracy"), ""
    except ValueError as error:  # too few arms or replicates present
        return None, f"not computed: {error}"


def _factorial(sweep: Sweep, results: pd.DataFrame) -> tuple[FactorialResult | None, str]:
    """The interaction model for a two-factor grid whose first factor has two levels."""
    if sweep.design != "factorial":
        return None, ""
    if len(sweep.factors) != 2 or len(sweep.factors[0].labels) != 2:
        return (
            None,
            "not computed: the interaction model needs two factors, the first with 2 levels",
        )
    first, other = sweep.factors[0].path, sweep.factors[1].path
    try:
        return factorial(results, first, other, "test_accuracy"), ""
    except (ValueError, KeyError) as error:
        return None, f"not computed: {error}"


def analyse(
    sweep: Sweep,
    results: pd.DataFrame,
    *,
    quick: bool,
    provenance: Provenance | None,
) -> Analysis:
    """The report's content. `sweep` is the effective sweep (its seeds are the run's)."""
    if sweep.conditions is not None:
        return _analyse_conditions(sweep, results, quick=quick, provenance=provenance)
    judgement = judge(sweep, results, quick=quick)
    costs = arm_summaries(sweep, results)
    judged = judgement.judged
    omnibus_result, omnibus_note = _omnibus(sweep, results) if judged else (None, "")
    factorial_result, factorial_note = _factorial(sweep, results) if judged else (None, "")
    recorded = None if provenance is None else provenance.claims_hash_at_start
    plan_at_start = None if provenance is None else provenance.plan_hash_at_start
    own_rows = design_rows(sweep, results)  # the design's cells, once each
    return Analysis(
        sweep=sweep,
        quick=quick,
        judgement=judgement,
        claims=_claim_outcomes(sweep, results, judgement),
        costs=costs,
        control=costs[0].arm if costs else "",
        omnibus=omnibus_result,
        omnibus_note=omnibus_note,
        factorial=factorial_result,
        factorial_note=factorial_note,
        claims_edited=recorded is not None and recorded != claims_hash(sweep),
        # Only a recorded hash can differ: null (none at creation) and absent (older runs) cannot.
        plan_edited=isinstance(plan_at_start, str) and plan_at_start != seeds_hash(sweep),
        provenance=provenance,
        replicates=replicates(sweep, results),
        reused=reused_cells(own_rows),
        cell_count=len(own_rows),
        init_paired=paired_share(own_rows),
        receptive_fields=arm_receptive_fields(sweep),
        cap=cap_account(sweep, own_rows),
    )


def paired_share(rows: pd.DataFrame) -> tuple[float, float] | None:
    """The lowest and highest share of initial parameters paired with the reference arm's
    (a network you bring; None without the column)."""
    if "init_paired" not in rows or rows["init_paired"].isna().all():
        return None
    shares = rows["init_paired"].dropna().astype(float)
    return float(shares.min()), float(shares.max())


def arm_receptive_fields(sweep: Sweep) -> dict[str, int]:
    """Each arm's receptive field; empty for a randomized design (each replicate draws its
    own architecture) or a search."""
    if sweep.design in ("randomized", "search") or not isinstance(sweep.base.arch, ArchSpec):
        return {}  # a network you bring has no layer plan to read the field from
    seed = sweep.seed_values[0]
    fields = {}
    for arm, labels in sweep.arms():
        arch = make_cell(sweep, labels, seed, None).spec.arch
        assert isinstance(arch, ArchSpec)
        fields[arm] = receptive_field(arch)
    return fields


def _analyse_conditions(
    sweep: Sweep, results: pd.DataFrame, *, quick: bool, provenance: Provenance | None
) -> Analysis:
    """Each condition analysed as its own sweep on its own rows; the replication verdicts
    across them are the whole sweep's judgement."""
    own = tuple(
        (
            label,
            analyse(
                part,
                condition_rows(sweep, results, label),
                quick=quick,
                provenance=_condition_provenance(provenance, part),
            ),
        )
        for label, part in condition_sweeps(sweep)
    )
    first = own[0][1]
    own_rows = design_rows(sweep, results)
    return dataclasses.replace(
        first,
        sweep=sweep,
        judgement=judge(sweep, results, quick=quick),
        reused=reused_cells(own_rows),
        cell_count=len(own_rows),
        conditions=own,
    )


def _condition_provenance(provenance: Provenance | None, part: Sweep) -> Provenance | None:
    """The run's provenance as one condition's report states it: its own training budget."""
    if provenance is None:
        return None
    train = part.base.train
    return dataclasses.replace(provenance, epochs=train.epochs, batch_size=train.batch_size)


def reused_cells(results: pd.DataFrame) -> tuple[tuple[str, int], ...]:
    """How many of the table's cells were copied from each earlier study (`reused_from` is
    `<study>/<trial>`; tables written before the cell cache have no such column)."""
    if "reused_from" not in results:
        return ()
    column = results["reused_from"]
    origins = column.astype(object).where(column.notna(), "").astype(str)
    studies = origins[origins != ""].str.rsplit("/", n=1).str[0]
    return tuple(sorted(studies.value_counts().items()))


def replicates(sweep: Sweep, results: pd.DataFrame) -> tuple[Replicate, ...]:
    """A randomized design's replicates in (seed, draw) order; () for any other design."""
    if sweep.design != "randomized" or results.empty:
        return ()
    arms = arm_order(sweep, results)
    out = []
    for (seed, background), rows in results.groupby(["seed", "background"], sort=True):
        by_arm = rows.set_index("arm")
        present = [arm for arm in arms if arm in by_arm.index]
        out.append(
            Replicate(
                seed=int(seed),
                background=int(background),
                drawn=background_values(sweep, int(seed), int(background)),
                params={arm: int(by_arm.at[arm, "params"]) for arm in present},
                accuracy={arm: float(by_arm.at[arm, "test_accuracy"]) for arm in present},
            )
        )
    return tuple(out)


def _plain(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, tuples lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _standing_json(outcome: ClaimOutcome) -> dict[str, Any] | None:
    if outcome.standing is None:
        return None
    standing = asdict(outcome.standing)
    standing.pop("result")  # it is "numbers"
    standing["stopping"] = [asdict(oc) for oc in outcome.characteristics]
    return standing


def _plan_json(analysis: Analysis) -> dict[str, Any] | None:
    plan = analysis.sweep.plan
    if plan is None:
        return None
    return {
        **asdict(plan),
        "plan_hash": plan_hash(plan),
        "looks_levels": [asdict(level) for level in analysis.judgement.looks],
    }


def verdicts_json(analysis: Analysis) -> str:
    """The verdicts and every number behind them, deterministic to the byte."""
    if analysis.conditions:
        conditions = {label: json.loads(verdicts_json(part)) for label, part in analysis.conditions}
        document: dict[str, Any] = {
            "sweep": analysis.sweep.name,
            "smoke_run": analysis.quick,
            "judged": analysis.judgement.judged,
            "not_judged_because": list(analysis.judgement.reasons),
            "claims_hash": claims_hash(analysis.sweep),
            "replications": [asdict(r) for r in analysis.judgement.replications],
            "conditions": conditions,
        }
        return json.dumps(_plain(document), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    claims = []
    for outcome in analysis.claims:
        claim = outcome.claim
        claims.append(
            {
                "statement": claim.statement,
                "metric": claim.metric,
                "better": claim.better,
                "worse": claim.worse,
                "higher_is_better": claim.higher_is_better,
                "rope": claim.rope,
                "verdict": outcome.result.verdict if outcome.result else "not judged",
                "in_plain_words": outcome.sentence,
                "differences": list(outcome.differences),
                "numbers": asdict(outcome.result) if outcome.result else None,
                "sequential": _standing_json(outcome),
                "test_noise": asdict(outcome.noise) if outcome.noise else None,
            }
        )
    document = {
        "sweep": analysis.sweep.name,
        "smoke_run": analysis.quick,
        "judged": analysis.judgement.judged,
        "not_judged_because": list(analysis.judgement.reasons),
        "baseline": analysis.judgement.baseline,
        "claims_hash": claims_hash(analysis.sweep),
        "claims_edited_after_results": analysis.claims_edited,
        "plan_edited_after_start": analysis.plan_edited,
        "claims": claims,
        "sequential_plan": _plan_json(analysis),
        "omnibus": asdict(analysis.omnibus) if analysis.omnibus else None,
        "factorial": asdict(analysis.factorial) if analysis.factorial else None,
    }
    return json.dumps(_plain(document), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
