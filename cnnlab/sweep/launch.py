"""The start of a run, before its stores open: the plan line, the dataset and the workers.

`launch` applies the options to the declared sweep, prints what the run will do with its time
estimate, loads the dataset and starts the worker processes without waiting for them. It
imports nothing heavy (no Optuna, MLflow, pandas, SciPy or matplotlib) on purpose:
`python -m cnnlab.sweep` calls it before importing the rest of the sweep stage, so that the
workers start importing TensorFlow about a second after the command instead of after this
process's own ~10 s of imports, which then overlap theirs (benchmarks/README.md).

`Trainers` is where a run's trials train: in this process, or in one pool of worker
processes kept for the whole run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cnnlab.data import LoadedDataset, load_data, make_splits
from cnnlab.errors import CnnlabError, SpecError
from cnnlab.report.durations import format_duration
from cnnlab.spec.design import Cell, Sweep, cells, trial_count
from cnnlab.spec.metrics import probe_shifts, shift_metrics
from cnnlab.spec.network import Network
from cnnlab.spec.sequential import SequentialPlan
from cnnlab.spec.specs import ArchSpec
from cnnlab.sweep.console.calibration import machine_speed
from cnnlab.sweep.console.estimate import (
    MachineSpeed,
    Measured,
    SweepEstimate,
    estimate_sweep,
    first_look_cells,
)
from cnnlab.sweep.fingerprint import content_checksums
from cnnlab.sweep.options import StudyIdentity, SweepOptions, effective_sweep
from cnnlab.sweep.parallelism import Parallelism, resolve
from cnnlab.sweep.stores.preflight import check_run_inputs
from cnnlab.sweep.trials.workers import WorkerPool

if TYPE_CHECKING:
    from cnnlab.sweep.stores.cache import CachedCell
    from cnnlab.sweep.trials.book import TrialBook


class Trainers:
    """Where this run's trials train: in this process, or in one pool of worker processes
    kept for the whole run (every look of a plan), so its start-up (importing TensorFlow in
    each worker, ~11 s) is paid once. `start` launches the workers without waiting, as soon as
    the dataset is loaded, so that their start-up overlaps the sweep process importing the
    rest of cnnlab and opening its stores; `pool` waits for them when the first cell needs
    them."""

    def __init__(
        self, parallelism: Parallelism, dataset: LoadedDataset, scratch: Path, most_cells: int
    ) -> None:
        self.parallelism, self.dataset, self.scratch = parallelism, dataset, scratch
        self.most_cells = most_cells  # the most cells this run may train (caps the workers)
        self._pool: WorkerPool | None = None

    def start(self) -> None:
        """Start the worker processes (not in-process runs, not with nothing to train)."""
        if self.parallelism.in_process or self._pool is not None or self.most_cells < 1:
            return
        count = min(self.parallelism.workers, self.most_cells)
        threads = self.parallelism.threads
        sys.stderr.write(
            f"Starting {count} worker process{'es' if count != 1 else ''} "
            f"({threads} thread{'s' if threads != 1 else ''} each)…\n"
        )
        self._pool = WorkerPool(count, threads, self.dataset, self.scratch, wait=False)

    def pool(self, book: TrialBook) -> WorkerPool:
        """The ready pool (started now if `start` was not called); `book` learns its threads."""
        self.start()
        assert self._pool is not None, "pool() on an in-process run"
        if self._pool.thread_settings is None:  # the first call: wait, then say so once
            book.set_threads(self._pool.wait_ready())
            book.progress.note(
                f"Workers ready {self._pool.startup_seconds:.1f} s after they started "
                "(each imported TensorFlow and received the dataset)."
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


@dataclass(frozen=True)
class Launched:
    """A run whose plan is printed, whose dataset is loaded and whose workers are starting."""

    sweep: Sweep  # the declared sweep with the options applied
    identity: StudyIdentity  # its study's name and hashes, built once here
    design_cells: list[Cell]
    parallelism: Parallelism
    speed: MachineSpeed
    dataset: LoadedDataset
    trainers: Trainers
    measured: Measured  # the dataset's sizes and your networks' FLOPs, for every estimate
    # Finished trainings read from `--cells-from` archives, by fingerprint (the cell cache's)
    archived: dict[str, CachedCell] = dataclasses.field(default_factory=dict)


def import_tensorflow_after_drivers() -> None:
    """TensorFlow, quietly, in a process that also talks to a database: PostgreSQL's driver
    first. TensorFlow's bundled TLS library exports its symbols process-wide, and a libpq
    loaded after it binds to them and aborts the process on its first TLS connection
    (`free(): invalid pointer`, SIGABRT: `sslmode=require` or stricter). Loaded first, libpq
    keeps its own OpenSSL. Absent (no `postgres` extra), there is nothing to protect."""
    with contextlib.suppress(ImportError):
        import psycopg  # noqa: F401

    from cnnlab.training.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()


def launch(
    declared: Sweep, options: SweepOptions, *, dataset: LoadedDataset | None = None
) -> Launched:
    """Print the plan, load the dataset (unless given) and start the workers (not waiting).

    A dry run or an in-process run (`--workers 1`) imports TensorFlow here, since this process
    trains; the caller closes `trainers` on every path (`Trainers.close`).
    """
    check_run_inputs(options)  # before the dataset, the workers and TensorFlow
    archived = _archived(options)
    sweep = effective_sweep(declared, options)
    identity = StudyIdentity.of(sweep, options)
    if options.joins:
        # A worker joins an existing study: refuse a missing one before loading data. Optuna is
        # imported only on this path (a sweep's own start stays light: see the docstring).
        from cnnlab.sweep.stores.studies import check_joinable

        check_joinable(identity, options)
    design_cells = cells(sweep)
    if dataset is None:  # NumPy only: a size that does not fit is refused before TensorFlow
        dataset = load_data(
            sweep.base.data,
            data_dir=options.data_dir,
            only_data_dir=options.only_data_dir,
            keras_home=options.keras_home,
        )
    check_split_sizes(sweep.name, design_cells, dataset)  # not mid-run: before any cell
    check_networks_fit(sweep.name, design_cells, dataset)
    check_probe_claims(sweep, dataset)
    identity = identity.with_data(content_checksums(dataset))
    parallelism = resolve(options.workers)
    if options.dry_run or parallelism.in_process:  # this process trains: TensorFlow, quietly
        import_tensorflow_after_drivers()
    flops = built_networks(design_cells, dataset) if _brought(design_cells) else {}
    speed = machine_speed(options.runs_dir, parallelism)
    size = Measured(train=len(dataset.y_train), test=len(dataset.y_test), network_flops=flops)
    estimate = estimate_sweep(
        sweep, parallelism, speed, report=options.reports_dir is not None, size=size
    )
    sys.stderr.write(describe_plan(sweep, design_cells, parallelism, estimate, dataset) + "\n")
    if parallelism.warning():
        sys.stderr.write(f"{parallelism.warning()}\n")
    if options.quick:
        sys.stderr.write("Quick smoke run: its own study and report; no evidence for any claim.\n")
    scratch = options.runs_dir / ".work" / f"{sweep.name}-{os.getpid()}"
    most_cells = 0 if options.dry_run else trial_count(sweep)
    trainers = Trainers(parallelism, dataset, scratch, most_cells=most_cells)
    trainers.start()
    if sweep.compute_cap is not None:  # after the workers start: it imports SciPy
        sys.stderr.write(describe_cap(sweep, parallelism, speed, size) + "\n")
    return Launched(
        sweep, identity, design_cells, parallelism, speed, dataset, trainers, size, archived
    )


def check_split_sizes(name: str, design_cells: list[Cell], dataset: LoadedDataset) -> None:
    """Every cell's validation and training sizes fit the dataset, checked by the split itself
    on each distinct data spec: a size too large would otherwise fail every cell, one by one."""
    for data in {cell.spec.data for cell in design_cells}:
        try:
            make_splits(
                dataset, 0, validation_size=data.validation_size, train_subset=data.train_subset
            )
        except SpecError as error:
            fix = f"Change `{error.field}` in the sweep's DataSpec (its `base`)."
            raise SpecError(error.field, f"Sweep {name!r}: {error} {fix}") from None


def _brought(design_cells: list[Cell]) -> bool:
    return any(isinstance(cell.spec.arch, Network) for cell in design_cells)


def built_networks(design_cells: list[Cell], dataset: LoadedDataset) -> dict[Network, int]:
    """Every network you bring, built once here (this imports TensorFlow, and says so): its
    function must run, return a keras.Model that takes the dataset's images and gives one
    output per class; its forward FLOPs for the estimate. Before any worker starts."""
    import_tensorflow_after_drivers()
    from cnnlab.training.network import call_build, check_fits, network_cost
    from cnnlab.training.runtime import seed_everything

    networks = {c.spec.arch: c.spec.train.precision for c in design_cells}
    flops: dict[Network, int] = {}
    lines = []
    for network, precision in networks.items():
        if not isinstance(network, Network):
            continue
        seed_everything(0)
        model = call_build(network, precision)
        check_fits(network, model, dataset.image_shape, dataset.num_classes)
        cost = network_cost(model)
        flops[network] = cost.flops
        uncounted = f"; FLOPs of {', '.join(cost.uncounted)} not counted" if cost.uncounted else ""
        lines.append(
            f"  {network.hp.as_dict()}: {cost.params:,} parameters, {cost.flops:,} FLOPs per "
            f"image{uncounted}"
        )
    first = next(iter(flops))
    sys.stderr.write(
        f"Your network {first.function} ({first.file}), built once per arm to check it and "
        "count its cost (this imports TensorFlow before the plan):\n" + "\n".join(lines) + "\n"
    )
    return flops


def check_networks_fit(name: str, design_cells: list[Cell], dataset: LoadedDataset) -> None:
    """Every arm's network takes the dataset's images and predicts its classes: a mismatch
    would otherwise fail every cell at its first batch (or, for classes, train silently on a
    wrong output). A network you bring is checked once built (`built_networks`)."""
    shape = dataset.image_shape
    for arch in {cell.spec.arch for cell in design_cells}:
        if not isinstance(arch, ArchSpec):
            continue
        if tuple(arch.input_shape) != shape:
            h, w, c = shape
            raise SpecError(
                "arch.input_shape",
                f"Sweep {name!r}: the network takes {_shape(arch.input_shape)} images "
                f"(`arch.input_shape` = {tuple(arch.input_shape)}), but {dataset.name} "
                f"({dataset.source}) has {_shape(shape)} images. Set input_shape=({h}, {w}, {c}) "
                "in the sweep's ArchSpec, e.g. dataclasses.replace(small, input_shape="
                f"({h}, {w}, {c}), num_classes={dataset.num_classes}).",
            )
        if arch.num_classes != dataset.num_classes:
            raise SpecError(
                "arch.num_classes",
                f"Sweep {name!r}: the network predicts {arch.num_classes} classes "
                f"(`arch.num_classes`), but {dataset.name} has {dataset.num_classes}. Set "
                f"num_classes={dataset.num_classes} in the sweep's ArchSpec.",
            )


def check_probe_claims(sweep: Sweep, dataset: LoadedDataset) -> None:
    """A claim on a shift metric names one the probe measures at this image width (MNIST's
    1-3 pixels at 28; other widths scale them, `cnnlab.spec.metrics.probe_shifts`)."""
    width = dataset.image_shape[1]
    measured = shift_metrics(width)
    for claim in sweep.claims:
        if claim.metric.startswith("shift") and claim.metric not in measured:
            shifts = ", ".join(map(str, probe_shifts(width)))
            raise SpecError(
                "claims",
                f"Claim {claim.statement!r} is about `{claim.metric}`, but on {dataset.name}'s "
                f"{width}-pixel-wide images the translation probe shifts by {shifts} pixel(s) "
                f"(MNIST's 1, 2, 3 scaled by {width}/28), measuring {', '.join(measured)}. "
                "Claim one of those.",
            )


def _shape(shape: tuple[int, ...]) -> str:
    h, w, c = shape
    return f"{h}×{w}×{c}"


def _archived(options: SweepOptions) -> dict[str, CachedCell]:
    """The `--cells-from` archives (and an `--archive` written before), read and checked whole
    before any work."""
    if options.cells_from and not options.reuse:
        raise CnnlabError(
            "--cells-from and --retrain contradict each other: --retrain trains every cell, so "
            "no archived cell would be used. Drop one of them."
        )
    own = options.archive
    if own is not None and own.exists() and not own.is_file():
        raise CnnlabError(
            f"--archive {own} is a folder; name a file, e.g. --archive {own / 'cells.jsonl'}."
        )
    paths = [("--cells-from", path) for path in options.cells_from]
    paths += [("--archive", own)] if own is not None and own.is_file() else []
    if not paths or not options.reuse:
        return {}
    from cnnlab.sweep.stores.cache import read_archives  # imports Optuna: only when asked

    return read_archives(paths)


def _epochs(sweep: Sweep, design_cells: list[Cell]) -> str:
    """`3 epochs`, or per condition where conditions set the epochs (`3 or 9 epochs`)."""
    counts = sorted({cell.spec.train.epochs for cell in design_cells} or {sweep.base.train.epochs})
    words = " or ".join(map(str, counts))
    return f"{words} epoch{'s' if counts != [1] else ''}" + (
        " (by condition)" if len(counts) > 1 and sweep.conditions is not None else ""
    )


def _data(dataset: LoadedDataset) -> str:
    """`mnist`, or your data with its shape, classes and scaling."""
    if dataset.data_format == "idx":
        return dataset.name
    h, w, c = dataset.image_shape
    return (
        f"{dataset.name} ({h}×{w}×{c}, {dataset.num_classes} classes, {dataset.scaling}; "
        f"{len(dataset.y_test):,} test images)"
    )


def _looks(plan: SequentialPlan) -> str:
    """The plan in words a user reads before the run (the report gives the levels per look)."""
    looks = ", ".join(str(n) for n in plan.looks)
    return (
        f"added in looks at {looks} paired seeds; each claim stops being trained once it is "
        f"decided ({plan.describe_levels()})"
    )


def describe_cap(
    sweep: Sweep, parallelism: Parallelism, speed: MachineSpeed, size: Measured | None = None
) -> str:
    """The compute cap: both plans' worst cases on this machine and their power at dz 1."""
    from cnnlab.stats.sequential import power_at

    cap, plan = sweep.compute_cap, sweep.plan
    assert cap is not None and plan is not None  # Sweep checks both
    full = dataclasses.replace(sweep, seeds=cap.full_plan, compute_cap=None)
    full_cost = estimate_sweep(full, parallelism, speed, size=size).total
    own_cost = estimate_sweep(sweep, parallelism, speed, size=size).total
    claims = len(sweep.claims)
    fits = (
        "within it"
        if own_cost <= cap.hours * 3600
        else "MORE than the cap: shorten the plan, or stop it with --max-time"
    )
    full_looks = ", ".join(map(str, cap.full_plan.looks))
    power = (
        "Power at a true dz of 1 (P(supported) by the last look; 20,000 simulated runs, no "
        f"ROPE stop): this plan {power_at(plan, claims):.2f}"
    )
    if plan.looks == cap.full_plan.looks:
        return (
            f"Compute cap: {cap.hours:g} h of training. The full plan (looks at {full_looks}) "
            f"takes up to {format_duration(full_cost)} ({fits}), so this sweep runs it.\n"
            f"{power}."
        )
    return (
        f"Compute cap: {cap.hours:g} h of training. The full plan (looks at {full_looks}) "
        f"would take up to {format_duration(full_cost)}; this sweep runs looks at "
        f"{', '.join(map(str, plan.looks))}, up to {format_duration(own_cost)} ({fits}).\n"
        f"{power}, the full plan {power_at(cap.full_plan, claims):.2f}."
    )


def describe_plan(
    sweep: Sweep,
    design_cells: list[Cell],
    parallelism: Parallelism,
    estimate: SweepEstimate,
    dataset: LoadedDataset,
) -> str:
    """What the run will do, on what, and how long it should take (`cnnlab list` agrees)."""
    spec = sweep.base
    images = spec.data.train_subset or len(dataset.y_train) - spec.data.validation_size
    arms = sweep.arm_labels()
    plan = sweep.plan
    if sweep.design == "search":
        size = f"{sweep.n_trials} sampled trials over {len(arms)} combinations"
    elif plan is not None:
        first = first_look_cells(sweep)
        size = (
            f"{len(arms)} arms × {plan.looks[0]}–{plan.seed_count} paired seeds: the first look "
            f"trains {len(first)} trials, the last at most {len(design_cells)}"
        )
    else:
        bgs = f" × {sweep.n_backgrounds} backgrounds" if sweep.design == "randomized" else ""
        size = (
            f"{len(arms)} arms × {len(sweep.seed_values)} paired seeds{bgs} = "
            f"{len(design_cells)} trials"
        )
    return (
        f"{sweep.name} ({sweep.design}): {size}; {_epochs(sweep, design_cells)} "
        f"each on {images:,} training images of {_data(dataset)}, batch {spec.train.batch_size}.\n"
        f"Arms: {', '.join(arms) if len(arms) <= 12 else f'{len(arms)} combinations'}.\n"
        + (f"Seeds: {_looks(plan)}.\n" if plan is not None else "")
        + f"Training: {parallelism.describe()}.\n"
        f"Estimated time on this machine: {estimate.describe()} ({estimate.speed.describe()}; "
        "the ETA below uses measured times)."
    )
