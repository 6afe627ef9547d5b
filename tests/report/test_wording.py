"""The verdict sentence says no more than its evidence: an equivalence names its scope (the task,
or this test set only), and a futility stop is never worded as no difference."""

from __future__ import annotations

import pytest

from cnnlab.report.wording import claim_sentence
from cnnlab.spec.design import Claim
from cnnlab.stats.paired import ClaimData, ClaimResult, decide_claim
from cnnlab.stats.sequential import SequentialClaim
from cnnlab.stats.testnoise import TestNoise

CLAIM = Claim(statement="a beats b", better="a", worse="b", rope=0.001)
# Twenty differences within ±0.0002: practically equivalent within ±0.1 pp.
EQUIVALENT = (0.0001, -0.0001, 0.0002, -0.0002, 0.0, 0.0001, -0.0001, 0.0) * 2 + (0.0,) * 4


def _equivalent() -> ClaimResult:
    result = decide_claim(ClaimData("a beats b", EQUIVALENT, 0.001), alpha=0.05, alpha_eq=0.05)
    assert result.verdict == "equivalent"
    return result


def _noise(low: float, high: float) -> TestNoise:
    return TestNoise(0.9, (low, high), (low, high), 10_000, (), (), ())


@pytest.mark.parametrize(
    ("noise", "says"),
    [
        (_noise(-0.0004, 0.0005), "It holds for the task, not only for this test set"),
        (_noise(-0.0013, 0.0005), "It is shown for this test set only"),
        (None, "Whether it holds beyond this test set is not known"),
    ],
)
def test_an_equivalence_says_whether_it_holds_beyond_this_test_set(
    noise: TestNoise | None, says: str
) -> None:
    text = claim_sentence(CLAIM, _equivalent(), 10, 20, None, noise)
    assert "practically equivalent" in text and says in text


def test_a_futility_stop_is_worded_as_a_stop_not_as_no_difference() -> None:
    data = ClaimData("a beats b", (0.001, -0.002, 0.0005, 0.003, -0.001), 0.001)
    result = decide_claim(data, alpha=0.003, alpha_eq=0.0015)
    assert result.verdict == "inconclusive"
    standing = SequentialClaim("a beats b", "futile", 1, 5, result, ((1, "inconclusive"),), None)
    text = claim_sentence(CLAIM, result, 3, 5, standing)
    assert "more seeds were unlikely to decide it" in text
    assert "not evidence of no difference" in text
    for overreach in ("no effect", "did no better", "equally", "does not matter"):
        assert overreach not in text.lower()


def test_a_report_says_when_its_claims_were_judged_after_the_data_were_seen() -> None:
    from pathlib import Path

    reports = Path(__file__).resolve().parents[2] / "reports"
    note = "judged under the revised rule (t-calibrated-2026-12) after the data were seen"
    assert note in (reports / "dropout" / "README.md").read_text()  # a study from before it
    assert note not in (reports / "pooling" / "README.md").read_text()  # rerun under it
