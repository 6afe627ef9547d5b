"""`python -m cnnlab.report NAME [--quick]` (≡ `cnnlab report`): rebuild a report, no training.

It reads `reports/NAME/results.csv` (or `reports/NAME-quick/` with `--quick`) and the run's
`provenance.json`, recomputes every verdict and figure, and rewrites the folder.
`python -m cnnlab.report --index` rewrites the seed-claims table of `reports/README.md` from the
committed reports (`cnnlab.report.index.seed_claims`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cnnlab.cliutil import run_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cnnlab.report",
        description=(
            "Rebuild a sweep's report (verdicts, figures, index.html, README.md) from the "
            "results.csv in its folder, without training."
        ),
    )
    parser.add_argument("name", nargs="?", help="the sweep (or study) name, e.g. pooling")
    parser.add_argument(
        "--index",
        action="store_true",
        help="rewrite the seed-claims table of REPORTS_DIR/README.md and the cost report "
        "REPORTS_DIR/cost/ from the reports in it (after rebuilding NAME, if given)",
    )
    parser.add_argument("--quick", action="store_true", help="the smoke run's report (NAME-quick)")
    parser.add_argument(
        "--reports-dir", type=Path, default=Path("reports"), help="default: reports/"
    )
    parser.add_argument(
        "--sweep",
        help="the sweep definition (name or .py path) if it moved since the run",
    )
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.name is not None:
        _rebuild(args)
    if args.index:
        from cnnlab.report.index.cost import write_cost
        from cnnlab.report.index.readme import write_index

        print(f"Seed claims: {write_index(args.reports_dir)}")
        cost = write_cost(args.reports_dir)
        print(f"Cost of pooling: {cost}" if cost else "Cost of pooling: no pooling report yet")
    return 0


def _rebuild(args: argparse.Namespace) -> None:
    from cnnlab.report.build import rebuild

    written = rebuild(
        args.name, quick=args.quick, reports_dir=args.reports_dir, sweep_path=args.sweep
    )
    judgement = written.analysis.judgement
    for label, part in written.analysis.conditions:
        for outcome in part.claims:
            verdict = outcome.result.verdict if outcome.result else "not judged"
            print(f"{label}: {verdict.upper():<13} {outcome.claim.statement}")
    for replication in judgement.replications:
        print(f"{replication.verdict.upper()}: {replication.statement}")
    for outcome in () if written.analysis.conditions else written.analysis.claims:
        verdict = outcome.result.verdict if outcome.result else "not judged"
        print(f"{verdict.upper():<13} {outcome.claim.statement}")
    convergence = written.analysis.convergence
    if convergence is not None:
        print(
            f"Converged budget: {convergence.epoch} epochs"
            if convergence.epoch is not None
            else "Not converged within the epochs trained"
        )
    if not judgement.judged:
        print("Not judged: " + "; ".join(judgement.reasons))
    print(f"Report: {written.index_html}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.name is None and not args.index:
        parser.error("name a report to rebuild (e.g. pooling), or give --index")
    return run_command(lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())
