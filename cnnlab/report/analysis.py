"""Everything a report says, computed from the results table: verdicts, tests, cost, flags.

Pure: no files, no figures. `analyse` turns (sweep, results, epochs, provenance) into an
`Analysis` that the renderers only format. `verdicts_json` is the machine-readable part, and
is byte-identical whenever the same results table is analysed again (the bootstrap is seeded,
and the keys are sorted): that is how a rebuilt report proves it says what the sweep said.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cnnlab.report.wording import claim_sentence
from cnnlab.spec.design import Claim, Sweep, claims_hash
from cnnlab.stats.anova import FactorialResult, OmnibusResult, factorial, omnibus
from cnnlab.stats.claims import Judgement, judge, paired_differences
from cnnlab.stats.paired import ClaimResult
from cnnlab.stats.table import ArmSummary, arm_summaries


@dataclass(frozen=True)
class ClaimOutcome:
    """One declared claim with its verdict (None when the report is not judged)."""

    claim: Claim
    result: ClaimResult | None
    differences: tuple[float, ...]  # in the claim's direction: > 0 means `better` is better
    wins: int  # replicates where `better` came out ahead
    sentence: str


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
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def arms(self) -> list[str]:
        return [cost.arm for cost in self.costs]


def _claim_outcomes(
    sweep: Sweep, results: pd.DataFrame, judgement: Judgement
) -> tuple[ClaimOutcome, ...]:
    by_statement = {r.statement: r for r in judgement.results}
    outcomes = []
    for claim in sweep.claims:
        d = paired_differences(results, claim) if claim.metric in results else np.array([])
        result = by_statement.get(claim.statement)
        outcomes.append(
            ClaimOutcome(
                claim=claim,
                result=result,
                differences=tuple(float(x) for x in d),
                wins=int((d > 0).sum()),
                sentence=claim_sentence(claim, result, int((d > 0).sum()), len(d)),
            )
        )
    return tuple(outcomes)


def _omnibus(sweep: Sweep, results: pd.DataFrame) -> tuple[OmnibusResult | None, str]:
    """ "Does the factor matter at all?" for one-factor designs with three or more arms."""
    if sweep.design not in ("ablation", "randomized") or len(sweep.arm_labels()) < 3:
        return None, ""
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
    provenance: dict[str, Any],
) -> Analysis:
    """The report's content. `sweep` is the effective sweep (its seeds are the run's)."""
    judgement = judge(sweep, results, quick=quick)
    costs = arm_summaries(sweep, results)
    judged = judgement.judged
    omnibus_result, omnibus_note = _omnibus(sweep, results) if judged else (None, "")
    factorial_result, factorial_note = _factorial(sweep, results) if judged else (None, "")
    recorded = provenance.get("claims_hash_at_start")
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
        provenance=provenance,
    )


def _plain(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, tuples lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def verdicts_json(analysis: Analysis) -> str:
    """The verdicts and every number behind them, deterministic to the byte."""
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
        "claims": claims,
        "omnibus": asdict(analysis.omnibus) if analysis.omnibus else None,
        "factorial": asdict(analysis.factorial) if analysis.factorial else None,
    }
    return json.dumps(_plain(document), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
