"""Writing a report folder, and rebuilding one from its own results.csv without training.

A report folder `reports/<study>/` holds:
- `results.csv` (one row per finished trial: the source of truth) and `epochs.csv`;
- `provenance.json` (written by the sweep: what ran, where, with what; read back on rebuild
  as a `cnnlab.report.provenance.Provenance`);
- `verdicts.json` (machine-readable verdicts, byte-identical on rebuild), `README.md`,
  `index.html` (self-contained) and `figures/*.png`.

The sweep calls `write_report` at its end; `python -m cnnlab.report NAME` calls `rebuild`,
which reloads the sweep definition named in provenance.json and applies the run's seeds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pandas as pd

from cnnlab.errors import did_you_mean
from cnnlab.report import ReportError as ReportError  # its callers import it from here
from cnnlab.report.analysis import Analysis, Replicate, analyse, verdicts_json
from cnnlab.report.checked_results import read_checked_results, unchecked_accuracies
from cnnlab.report.conditions import draw_conditions
from cnnlab.report.document import build_document
from cnnlab.report.figures import Figure, draw_all
from cnnlab.report.provenance import Provenance
from cnnlab.report.render import to_html, to_markdown
from cnnlab.spec.design import Sweep, make_cell, study_name, sweep_of_study
from cnnlab.spec.geometry import count_params
from cnnlab.spec.loading import load_sweep, question, shipped_names
from cnnlab.spec.sequential import SequentialPlan
from cnnlab.spec.specs import DATASETS, ArchSpec, Dataset
from cnnlab.stats.convergence import converged_epoch
from cnnlab.stats.table import design_rows


@dataclass(frozen=True)
class WrittenReport:
    folder: Path
    analysis: Analysis

    @property
    def index_html(self) -> Path:
        return self.folder / "index.html"

    @property
    def verdicts_json(self) -> Path:
        return self.folder / "verdicts.json"

    def files(self) -> list[Path]:
        names = ["index.html", "README.md", "verdicts.json", "provenance.json", "results.csv"]
        return [self.folder / n for n in names] + sorted((self.folder / "figures").glob("*.png"))


def _read_epochs(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame()
    return pd.read_csv(path, dtype={"arm": str})


def write_report(
    sweep: Sweep,
    folder: Path,
    *,
    quick: bool,
    provenance: Provenance,
    results_csv: Path | None = None,
    epochs_csv: Path | None = None,
    analysis: Analysis | None = None,
) -> WrittenReport:
    """(Re)write the report in `folder` from `results_csv` (default: the folder's own).

    `sweep` is the effective sweep (the run's seeds); `provenance` is stored as provenance.json.
    `analysis`, when the caller has already analysed the same results.csv with the same
    provenance (the end of a sweep), is drawn as it is instead of judging the claims again.
    """
    sources = {"results.csv": results_csv, "epochs.csv": epochs_csv}
    # A table the report cannot trust is refused before anything is copied or staged.
    table = results_csv or folder / "results.csv"
    results = _design_results(sweep, table)
    note = unchecked_accuracies(table, results)
    if note:
        sys.stderr.write(note + "\n")
    with written_whole(folder) as staging:
        for name, source in sources.items():
            if source is not None and source.resolve() != (folder / name).resolve():
                shutil.copyfile(source, staging / name)
        analysis = _write(
            sweep, staging, results, quick=quick, provenance=provenance, analysis=analysis
        )
    return WrittenReport(folder, analysis)


STAGING = ".writing"  # under the reports folder: a report being written, out of every listing
FIGURES = "figures"  # a report's figure folder, drawn afresh by every write


@contextmanager
def written_whole(folder: Path) -> Iterator[Path]:
    """A copy of `folder` to write into, which replaces `folder` once the block ends without
    an error: a report is never half-written. An interrupt (Ctrl-C, SIGTERM) or an error leaves
    the old report whole and the copy removed; files the report does not write (a cell archive,
    `cells.jsonl`) are carried over."""
    staging_root = folder.parent / STAGING
    staging, old = staging_root / folder.name, staging_root / f"{folder.name}.old"
    for leftover in (staging, old):  # a process killed while writing (kill -9)
        if leftover.exists():
            shutil.rmtree(leftover)
    staging_root.mkdir(parents=True, exist_ok=True)
    if folder.exists():
        # The figures are drawn afresh (`_write` removes the old ones): not worth copying.
        shutil.copytree(folder, staging, ignore=shutil.ignore_patterns(FIGURES))
    else:
        staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):
            staging_root.rmdir()  # nothing of this write is left behind
        raise
    if folder.exists():
        folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    with contextlib.suppress(OSError):
        staging_root.rmdir()  # empty unless another report is being written


def _write(
    sweep: Sweep,
    folder: Path,
    results: pd.DataFrame,
    *,
    quick: bool,
    provenance: Provenance,
    analysis: Analysis | None,
) -> Analysis:
    """Write the report's files into `folder` (a staging copy) from `results`, the design's
    rows of the results.csv it holds, read and checked once by `write_report`. Both the sweep
    and a rebuild read that file back, so they analyse identical numbers."""
    (folder / "provenance.json").write_text(provenance.to_json())
    if analysis is None:
        analysis = analyse(sweep, results, quick=quick, provenance=provenance)
    epochs = _read_epochs(folder / "epochs.csv")
    if not epochs.empty and "trial" in epochs and "trial" in results:
        epochs = epochs[epochs["trial"].isin(set(results["trial"]))]
    if sweep.pilot and not epochs.empty:
        analysis = dataclasses.replace(analysis, convergence=converged_epoch(epochs))
    figures_dir = folder / FIGURES
    if figures_dir.exists():
        shutil.rmtree(figures_dir)  # a figure that no longer applies must not linger
    by_condition: dict[str, list[Figure]] = {}
    if analysis.conditions:
        figures, by_condition = draw_conditions(analysis, results, epochs, figures_dir, draw_all)
    else:
        figures = draw_all(analysis, results, epochs, figures_dir)
    blocks = build_document(analysis, figures, question(sweep), by_condition)
    (folder / "verdicts.json").write_text(verdicts_json(analysis))
    (folder / "README.md").write_text(to_markdown(blocks))
    title = f"cnnlab report: {sweep.name}{' (smoke run)' if quick else ''}"
    (folder / "index.html").write_text(to_html(blocks, figures_dir, title))
    return analysis


def analyse_results_csv(
    sweep: Sweep, results_csv: Path, *, quick: bool, provenance: Provenance | None = None
) -> Analysis:
    """The analysis of a results.csv: the design's own cells, once each (see
    `cnnlab.stats.table.design_rows`), so figures, verdicts and summaries describe the same
    trials."""
    results = _design_results(sweep, results_csv)
    analysis = analyse(sweep, results, quick=quick, provenance=provenance)
    _check_draws(sweep, analysis.replicates, results_csv)
    return analysis


def _check_draws(sweep: Sweep, replicates: tuple[Replicate, ...], results_csv: Path) -> None:
    """Refuse a randomized run whose trials were not the architectures the sweep draws now:
    the report would name the wrong backgrounds. Parameter counts are the witness."""
    labels = dict(sweep.arms())
    for replicate in replicates:
        for arm, recorded in replicate.params.items():
            cell = make_cell(sweep, labels[arm], replicate.seed, replicate.background)
            if not isinstance(cell.spec.arch, ArchSpec):
                continue  # a network you bring: its count is the built model's
            expected = count_params(cell.spec.arch)
            if recorded != expected:
                drawn = ", ".join(f"{path} = {value}" for path, value in replicate.drawn.items())
                raise ReportError(
                    f"{results_csv}: the trial {cell.key} has {recorded:,} parameters, but the "
                    f"background the sweep draws for it ({drawn}) has {expected:,}. Its trials "
                    "were drawn under another scheme (before 2026-12-04 every seed repeated the "
                    "same backgrounds); rerun the sweep in a new study: python -m cnnlab.sweep "
                    f"{sweep.name} --new-study"
                )


def _design_results(sweep: Sweep, results_csv: Path) -> pd.DataFrame:
    """results.csv, checked, with the design's own cells once each."""
    return design_rows(sweep, read_checked_results(results_csv, sweep))


def report_folder(reports_dir: Path, name: str, quick: bool) -> Path:
    """`reports/NAME` or `reports/NAME-quick`, which must exist."""
    smoke = quick and name == sweep_of_study(name)  # `NAME --quick`, not `NAME-quick`
    folder = reports_dir / (study_name(name, quick=True) if smoke else name)
    if not (folder / "provenance.json").is_file():
        have = sorted(p.parent.name for p in reports_dir.glob("*/provenance.json"))
        listed = ", ".join(have) if have else "none"
        sweep = sweep_of_study(name)
        shipped = shipped_names()
        hint = did_you_mean(folder.name, have) or (
            did_you_mean(sweep, shipped) if sweep not in shipped else ""
        )
        raise ReportError(
            f"{folder}: no report to rebuild (provenance.json is missing).{hint} Reports in "
            f"{reports_dir}: {listed}. A sweep writes its report when it ends: "
            f"python -m cnnlab.sweep {sweep}{' --quick' if quick else ''}"
        )
    return folder


def run_sweep_of(provenance: Provenance, folder: Path, sweep_path: str | None) -> Sweep:
    """The sweep that produced the report, with the run's seeds and backgrounds applied."""
    source = sweep_path or provenance.sweep_source or provenance.sweep
    if not source:
        raise ReportError(
            f"{folder / 'provenance.json'}: field `sweep_source` is missing; pass --sweep "
            "NAME_OR_PATH to say which sweep definition the report is about."
        )
    declared = load_sweep(source)
    changes: dict[str, Any] = {}
    # A plan's run is rebuilt with its plan; a fixed run (null) or an older one (absent) with
    # its seeds, even when the sweep declares a plan now.
    if isinstance(provenance.sequential_plan, SequentialPlan):
        changes["seeds"] = provenance.sequential_plan
    else:
        changes["seeds"] = provenance.seeds
    changes["n_backgrounds"] = provenance.n_backgrounds
    dataset = provenance.dataset
    # A `--dataset` run (a shipped dataset in place of the declared one): its own band.
    if dataset != declared.base.data.name and dataset in DATASETS:
        data = dataclasses.replace(declared.base.data, dataset=cast(Dataset, dataset))
        changes["base"] = dataclasses.replace(declared.base, data=data)
    return declared.with_changes(**changes)


def rebuild(
    name: str, *, quick: bool, reports_dir: Path, sweep_path: str | None = None
) -> WrittenReport:
    """Rebuild `reports_dir/NAME[-quick]/` from its own results.csv (no training)."""
    folder = report_folder(reports_dir, name, quick)
    provenance = Provenance.read(folder / "provenance.json")
    sweep = run_sweep_of(provenance, folder, sweep_path)
    return write_report(sweep, folder, quick=provenance.quick, provenance=provenance)
