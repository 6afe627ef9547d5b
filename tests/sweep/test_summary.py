"""The end-of-sweep summary's claim lines, on a committed real run."""

from __future__ import annotations

from pathlib import Path

from cnnlab.report.build import analyse_results_csv, run_sweep_of
from cnnlab.report.provenance import Provenance
from cnnlab.sweep.console.summary import claim_lines

REPORTS = Path(__file__).resolve().parents[2] / "reports"


def test_a_claim_the_plan_stopped_says_why_it_stayed_open() -> None:
    # first_kernel: both claims inconclusive, one stopped for futility at look 1, one at
    # look 2. The summary printed "INCONCLUSIVE" with the seeds it would need and no word of
    # the stop, while the report said "stopped for futility".

    folder = REPORTS / "first_kernel"
    provenance = Provenance.read(folder / "provenance.json")
    sweep = run_sweep_of(provenance, folder, None)
    analysis = analyse_results_csv(sweep, folder / "results.csv", quick=False)
    lines = claim_lines(analysis.judgement, quick=False)
    assert lines[0] == "Claims:"
    five, seven = lines[1:]
    assert five.startswith("  INCONCLUSIVE a 5×5 first kernel beats 3×3: +0.03 pp")
    assert "n = 5; stopped for futility at look 1; ~" in five
    assert "n = 8; stopped for futility at look 2; ~" in seven
