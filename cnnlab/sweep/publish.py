"""The end of a sweep: its report written to `reports/<study>/` and attached to the parent run.

The report is rebuilt from the results.csv the sweep just wrote (the same file
`python -m cnnlab.report` reads later, so both give byte-identical verdicts). Provenance is
gathered here, where the run's dataset, study and options are known. The parent MLflow run
gets the report's files as artifacts under `report/` and each claim's verdict as a tag.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab.data import LoadedDataset, class_counts
from cnnlab.report.analysis import Analysis
from cnnlab.report.build import ReportError, WrittenReport, write_report
from cnnlab.report.provenance import Provenance
from cnnlab.spec.design import Sweep, config_hash
from cnnlab.sweep.provenance import machine, package_versions
from cnnlab.sweep.stores.keys import Key, claim_key, verdict_key
from cnnlab.sweep.stores.opening import Stores


@dataclass(frozen=True)
class StudyFacts:
    """What the report needs of the Optuna study (this module stays out of Optuna)."""

    study_name: str
    claims_hash_at_start: str | None  # hashed when the study was created: pre-registration
    plan_hash_at_start: str | None = None  # the sequential plan's ("fixed": none), likewise
    rule_at_start: str | None = None  # the verdict rule when the study was created, likewise


@dataclass(frozen=True)
class TrainedWith:
    """What the trials trained with: the code, the workers, and the thread settings the trials
    reported (a worker pool's, not the sweep process's own)."""

    git_commit: str  # as the sweep started: a tree edited while it ran must not be "-dirty" here
    workers: str  # Parallelism.describe(), e.g. "2 worker processes, 1 thread each (2 cores)"
    threads: dict[str, int]


@dataclass(frozen=True)
class RunFacts:
    """What the end of a run knows of it, for its provenance: the sweep and study, the data,
    how it was asked for, how long it took and what trained it."""

    sweep: Sweep  # the effective sweep (the run's seeds, epochs, dataset)
    study: StudyFacts
    dataset: LoadedDataset
    quick: bool
    sweep_source: str  # how the sweep was named (name or path), for rebuilds
    sweep_seconds: float
    trial_seconds: float
    trained_with: TrainedWith

    def provenance(self) -> Provenance:
        """What ran, on what, where: stored as provenance.json and shown in the report.

        Every field is given, the later additions too (a null plan hash or plan where there
        is none): only files written before those fields existed lack them.
        """
        sweep, study, data = self.sweep, self.study, self.sweep.base.data
        return Provenance(
            report=study.study_name,
            sweep=sweep.name,
            sweep_source=self.sweep_source,
            study=study.study_name,
            quick=self.quick,
            seeds=tuple(sweep.seed_values),
            n_backgrounds=sweep.n_backgrounds,
            epochs=sweep.base.train.epochs,
            batch_size=sweep.base.train.batch_size,
            train_images=data.train_subset or len(self.dataset.y_train) - data.validation_size,
            dataset=data.name,
            data_source=self.dataset.source,
            data_sha256=dict(self.dataset.sha256),
            config_hash=config_hash(sweep),
            claims_hash_at_start=study.claims_hash_at_start,
            plan_hash_at_start=study.plan_hash_at_start,
            rule_at_start=study.rule_at_start,
            sequential_plan=sweep.plan,
            git_commit=self.trained_with.git_commit,
            versions=package_versions(),
            workers=self.trained_with.workers,
            threads=dict(self.trained_with.threads),
            machine=machine(),
            trial_wall_seconds=round(self.trial_seconds, 1),
            sweep_wall_seconds=round(self.sweep_seconds, 1),
            finished=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            data_facts=data_facts(self.dataset),
        )


def data_facts(dataset: LoadedDataset) -> dict[str, Any]:
    """The form, scaling, image shape and per-class counts of the dataset, for the report."""
    return {
        "format": dataset.data_format,
        "scaling": dataset.scaling,
        "image_shape": list(dataset.image_shape),
        "test_images": len(dataset.y_test),
        "classes": class_counts(dataset),
    }


def publish_report(
    analysis: Analysis,
    facts: RunFacts,
    stores: Stores,
    *,
    results_csv: Path,
    reports_dir: Path,
) -> WrittenReport | None:
    """Write the report of `analysis` (the end's one analysis of `results_csv`, made with
    `analysis.provenance`) and attach it to the parent run; None (with a message) if it
    cannot be written."""
    provenance = analysis.provenance or facts.provenance()
    try:
        written = write_report(
            facts.sweep,
            reports_dir / facts.study.study_name,
            quick=facts.quick,
            provenance=provenance,
            results_csv=results_csv,
            epochs_csv=results_csv.with_name("epochs.csv"),
            analysis=analysis,
        )
    except ReportError as error:
        # The results are safe in results.csv; say why there is no report and how to make one.
        sys.stderr.write(f"No report written: {error}\n")
        return None
    tags: dict[str, Any] = {Key.REPORT: str(written.index_html)}
    replications = written.analysis.judgement.replications
    if replications:  # a sweep with conditions: each claim's verdict across them
        for i, replication in enumerate(replications, start=1):
            tags[claim_key(i)] = replication.statement
            tags[verdict_key(i)] = replication.verdict
    for i, outcome in enumerate(() if replications else written.analysis.claims, start=1):
        tags[claim_key(i)] = outcome.claim.statement
        tags[verdict_key(i)] = outcome.result.verdict if outcome.result else "not judged"
    stores.tracker.set_tags(stores.parent_run_id, tags)
    stores.tracker.log_artifacts(stores.parent_run_id, written.files(), subdir="report")
    return written
