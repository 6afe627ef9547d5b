"""What a run of a sweep is asked to do: its options, and the effective sweep they make.

`SweepOptions` is the typed record of the command line (`python -m cnnlab.sweep`); the CLI
reads the environment and fills it. `effective_sweep` applies `--quick`, `--seeds`,
`--epochs` and `--dataset` to the declared sweep; everything downstream sees only the result.
`StudyIdentity` is that sweep's study (name and hashes), built once at launch and passed on.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab.errors import SpecError
from cnnlab.spec.design import (
    Sweep,
    claims_hash,
    config_hash,
    definition,
    seeds_hash,
    study_name,
)
from cnnlab.spec.sequential import SequentialPlan
from cnnlab.spec.specs import DataSpec, OwnData
from cnnlab.sweep.parallelism import AUTO, WorkersRequest

QUICK_SEEDS = 3
QUICK_EPOCHS = 1
QUICK_TRAIN_IMAGES = 5_000
QUICK_SEARCH_TRIALS = 4
# Heartbeat age after which another host's trial counts as dead (`--dead-after`, kept in the
# study: cnnlab.sweep.stores.studies). Ten minutes: a host that loses the database for less
# than that keeps its trials; a dead one's cell waits at most that long (plus a poll) to be rerun.
DEAD_AFTER_S = 600.0
# The shortest `--dead-after`: heartbeats come every tenth of it, and a beat that a busy
# database delays by a few seconds must not make a live trial look dead to another host.
MIN_DEAD_AFTER_S = 10.0
QUICK_PROBE_IMAGES = 2_000  # 17 probe passes over all 10,000 test images would triple a smoke run


@dataclass(frozen=True, kw_only=True)
class SweepOptions:
    quick: bool = False
    dry_run: bool = False
    seeds: int | None = None
    epochs: int | None = None
    max_time: float | None = None  # seconds
    dataset: str | None = None
    data_dir: Path | None = None
    only_data_dir: bool = False
    keras_home: Path | None = None
    storage: str | None = None
    tracking_uri: str | None = None
    workers: WorkersRequest = AUTO  # cnnlab.sweep.parallelism: one 1-thread worker per core
    runs_dir: Path = Path("runs")
    new_study: bool = False
    reports_dir: Path | None = None  # where to write the report (the CLI: reports/); None: none
    sweep_source: str | None = None  # how the sweep was named (name or path), for rebuilds
    # A process that joins a running sweep (`cnnlab worker`): it opens the existing study and
    # parent run, trains cells, and leaves results and report to the sweep's own process.
    joins: bool = False
    # Seconds of heartbeat silence before another host's trial is reaped (`--dead-after`):
    # stored on the study, so every process on it agrees; None keeps the study's.
    dead_after: float | None = None
    # Copy a cell from an identical training already in the store instead of training it
    # (cnnlab.sweep.stores.cache); `--retrain` turns it off.
    reuse: bool = True
    # Cell archives (`cnnlab studies --export`) whose trainings the cache may also take: a
    # study continued in another session or on another machine without a shared store.
    cells_from: tuple[Path, ...] = ()
    # A cell archive read at the start (when it exists) and rewritten at the end with every
    # finished cell of the study, even after `--max-time` or a stop: one run over sessions.
    archive: Path | None = None


# --- the effective sweep -------------------------------------------------------------------


def effective_sweep(sweep: Sweep, options: SweepOptions) -> Sweep:
    """The declared sweep with `--quick`, `--seeds`, `--epochs` and `--dataset` applied.

    On a sweep with a sequential plan, `--quick` runs QUICK_SEEDS fixed seeds (a smoke run has
    nothing to stop early for) and `--seeds N` replaces the plan by N fixed seeds.
    """
    base, changes = sweep.base, dict[str, Any]()
    if options.quick:
        subset = base.data.train_subset
        if isinstance(base.data.dataset, OwnData):
            # Your data's size is unknown until it is loaded, and may be below the quick
            # subset: a smoke run on it trains on the declared subset (or all of it).
            quick_subset = subset
        else:
            quick_subset = QUICK_TRAIN_IMAGES if subset is None else min(subset, QUICK_TRAIN_IMAGES)
        base = dataclasses.replace(
            base,
            train=dataclasses.replace(base.train, epochs=QUICK_EPOCHS),
            data=dataclasses.replace(base.data, train_subset=quick_subset),
        )
        changes["seeds"] = (
            tuple(sweep.seed_values[:QUICK_SEEDS])
            if len(sweep.seed_values) >= QUICK_SEEDS
            else QUICK_SEEDS
        )
        changes["n_backgrounds"] = 1
        changes["n_trials"] = min(sweep.n_trials, QUICK_SEARCH_TRIALS)
        changes["probe_images"] = QUICK_PROBE_IMAGES
    if options.seeds is not None:
        changes["seeds"] = seeds_for_count(sweep.seeds, options.seeds)
    if options.epochs is not None:
        base = dataclasses.replace(
            base, train=dataclasses.replace(base.train, epochs=options.epochs)
        )
    if options.dataset is not None:
        base = dataclasses.replace(
            base,
            data=dataclasses.replace(base.data, dataset=options.dataset),  # type: ignore[arg-type]
        )
    return dataclasses.replace(sweep, base=base, **changes)


def seeds_for_count(
    declared: int | tuple[int, ...] | SequentialPlan, count: int
) -> int | tuple[int, ...]:
    """`--seeds N` applied to the sweep's declared `seeds`.

    A declared count, or a sequential plan, becomes N fixed seeds (0..N-1): `--seeds` asks for
    a fixed design, judged once with Holm across the claims (a plan's seeds are 0, 1, ... too,
    so results pair with a sequential run's). Declared explicit seeds are kept, so results
    already in the study still pair: the first N of them, or all of them followed by the
    smallest integers not among them (as `seeds=N` counts up from 0).
    """
    if count < 1:
        raise SpecError("seeds", f"`--seeds` must be at least 1, but {count} was passed.")
    if isinstance(declared, int | SequentialPlan):
        return count
    if count <= len(declared):
        return declared[:count]
    used = set(declared)
    unused = (seed for seed in itertools.count() if seed not in used)
    return (*declared, *itertools.islice(unused, count - len(declared)))


def study_base_name(sweep: Sweep, options: SweepOptions) -> str:
    """The study (and report folder) of this run: `pooling`, `pooling-quick`, ..."""
    data = sweep.base.data
    # Your own data is part of the sweep file, so it needs no suffix; a shipped dataset other
    # than MNIST gets one (`pooling-fashion_mnist`), since `--dataset` can swap it in.
    dataset = data.dataset if isinstance(data.dataset, str) else DataSpec().name
    return study_name(sweep.name, quick=options.quick, dataset=dataset)


@dataclass(frozen=True)
class StudyIdentity:
    """What a run's study is, built once from the effective sweep and passed as one value:
    its base name (`pooling`, `pooling-quick`; versions add `-v2`), the sweep, whether it is a
    smoke run, and the hashes of its definition, claims and seed plan."""

    base_name: str
    sweep_name: str
    quick: bool
    config_hash: str
    claims_hash: str
    plan_hash: str
    definition: dict[str, Any]
    # The dataset's content checksums, once it is loaded (`with_data`): a study keeps them,
    # and a changed dataset refuses resume. Empty before loading (a worker's early check).
    data_sha256: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, sweep: Sweep, options: SweepOptions) -> StudyIdentity:
        return cls(
            base_name=study_base_name(sweep, options),
            sweep_name=sweep.name,
            quick=options.quick,
            config_hash=config_hash(sweep),
            claims_hash=claims_hash(sweep),
            plan_hash=seeds_hash(sweep),
            definition=definition(sweep),
        )

    def with_data(self, data_sha256: dict[str, str]) -> StudyIdentity:
        return dataclasses.replace(self, data_sha256=dict(data_sha256))
