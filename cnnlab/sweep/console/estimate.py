"""Time estimates for a sweep before it runs: a cost model calibrated on the clock.

A trial's seconds are modelled part by part: building the model, each epoch's training steps
(FLOPs at a measured throughput, plus a per-step overhead), each epoch's evaluation of the
validation and test images, the final correctness pass, the probes, and the sweep process's
bookkeeping (Optuna, MLflow, artifacts). A run adds its start-up (importing TensorFlow and
MLflow, opening the stores), its worker processes' start-up, and its report; trials are
scheduled on the run's workers in order (each cell to the first free worker), look by look for a
sequential plan, whose looks wait for their slowest cell.

The constants were measured on this project's 2-core machine (benchmarks/README.md: the
`throughput` benchmark and a calibration run of every pooling arm). On another machine, trials
already finished in the runs folder refine the model: each trial records the estimate it was
given (`Key.ESTIMATE`), and the median ratio of measured to estimated seconds, over recent
trials with the same threads, scales every estimate (`MachineSpeed`).
"""

from __future__ import annotations

import heapq
import itertools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cnnlab.errors import CnnlabError
from cnnlab.report.durations import format_duration
from cnnlab.spec.design import Cell, Sweep, cells
from cnnlab.spec.geometry import forward_flops
from cnnlab.spec.metrics import ANGLES, SHIFTS
from cnnlab.spec.network import Network
from cnnlab.spec.specs import TrialSpec
from cnnlab.sweep.parallelism import Parallelism

# --- measured constants (2-core AMD EPYC, AVX-512; see benchmarks/README.md) ----------------
# Start-up. With --workers 1 (timed 2026-12-03) the run's wall time exceeded its trials' by
# 25.1 and 26.7 s: the sweep process imports TensorFlow, then Optuna, MLflow and the analysis.
# With workers, `cnnlab.sweep.launch` starts them ~0.7 s after the command, before the sweep
# process's own imports, and the first trial started 18.4 and 18.5 s after the command
# (`max_vs_avg --seeds 1 --epochs 1`, fresh runs folder; it was 24.0 s when the workers were
# started after those imports).
STARTUP_S = 11.0  # --workers 1: importing Optuna, MLflow and the analysis, MNIST, the stores
TENSORFLOW_IMPORT_S = 11.0  # --workers 1 only: the sweep process imports TensorFlow itself
WORKERS_READY_S = 18.5  # with workers: from the command to the first trial, all of the above
END_S = 4.0  # the results tables, the analysis and the summary at the end
REPORT_S = 12.0  # the report's figures and pages, when one is written
# Per trial: building (compiling and tracing once per network and process: training.reuse)
# and resetting the model; trials' model_and_probes_s was 1.3-4.5 s, median ~1.8 with the
# final test pass (modelled below).
BUILD_S = 1.3
BOOKKEEPING_S = 0.35  # Optuna + MLflow + artifacts per trial, sweep process (0.27-0.33 s measured)
STEP_OVERHEAD_S = 0.001  # per training step beyond its FLOPs, at 16 steps per call
AUGMENT_S_PER_IMAGE = 9e-6  # rotating and shifting one 28×28 image
PROBE_S_PER_IMAGE = 5e-6  # shifting or rotating one test image for a probe (numpy/scipy)
# Training throughput (forward + backward = 3 × forward FLOPs) of one training on one thread
# while the other core trains too, for `small` (2.83 forward MFLOPs per image): 36.4 GFLOP/s
# measured with max/avg pooling in the committed pooling run (14.1 s per epoch, before batches
# were drawn from one uint8 tensor and before 16 steps per call); the throughput benchmark's
# max-arm epochs with both took 9.8 s (a fast period) and 12.7 s (a slow one), so the model
# now assumes 11.5 s: 42 GFLOP/s. The `none` arm (15.7 MFLOPs) ran at 66 GFLOP/s, so bigger
# convolutions use a core better, as (MFLOPs / 2.83)^0.35, up to `PEAK_GFLOPS_1T`.
GFLOPS_1T = 42.0
REFERENCE_MFLOPS = 2.83
PEAK_GFLOPS_1T = 200.0
SIZE_EXPONENT = 0.35
# Evaluation did not get faster with training: 1.45-1.6 s per epoch for 15,000 images, 0.67 of
# training's FLOP/s (Keras evaluate's overhead; no backward pass to amortise it).
EVAL_SPEEDUP = 0.67
# One training alone in the sweep process on TensorFlow's default threads (all cores), against
# one thread beside another training: 1.44× measured for `small` on 2 cores (9.5 s against
# 13.7 s per epoch; a 2-thread fit is bimodal).
ALL_CORES_SPEEDUP = {1: 1.0, 2: 1.44}
ALL_CORES_SPEEDUP_PER_EXTRA_CORE = 0.3


def _speedup(parallelism: Parallelism) -> float:
    """How much faster one training runs on this run's threads than on one thread."""
    if not parallelism.in_process:
        return float(max(1, parallelism.threads) ** 0.5)  # assumed, not measured
    cores = parallelism.cores
    return ALL_CORES_SPEEDUP.get(cores, 1.0 + ALL_CORES_SPEEDUP_PER_EXTRA_CORE * (cores - 1))


def training_flops_per_second(flops_per_image: float) -> float:
    """FLOP/s of one single-threaded training of a network of this many forward FLOPs."""
    mflops = max(flops_per_image / 1e6, 1e-3)
    rate = GFLOPS_1T * (mflops / REFERENCE_MFLOPS) ** SIZE_EXPONENT
    return 1e9 * float(min(PEAK_GFLOPS_1T, max(GFLOPS_1T / 4, rate)))


@dataclass(frozen=True)
class MachineSpeed:
    """How much slower (> 1) or faster this machine is than the shipped calibration."""

    factor: float = 1.0
    trials: int = 0  # finished trials it was measured on (0: the shipped calibration)

    def describe(self) -> str:
        if not self.trials:
            return "the shipped calibration"
        return f"calibrated on {self.trials} finished trials here (×{self.factor:.2f})"


def measured_speed(ratios: Iterable[float], recent: int = 50) -> MachineSpeed:
    """The median measured / estimated ratio of the most recent `recent` trials."""
    usable = [r for r in ratios if math.isfinite(r) and r > 0][-recent:]
    if len(usable) < 3:  # one slow trial on a noisy machine must not rescale everything
        return MachineSpeed()
    return MachineSpeed(factor=statistics.median(usable), trials=len(usable))


@dataclass(frozen=True)
class Measured:
    """What a run knows before its estimate that `cnnlab list` does not: the images in the
    dataset's official training and test sets (MNIST's by default), and the forward FLOPs of
    each network you bring (counted from the built model, so only where one was built)."""

    train: int = 60_000
    test: int = 10_000
    network_flops: Mapping[Network, int] = field(default_factory=dict)


class CostUnknown(CnnlabError):
    """A network you bring has no FLOP count until it is built (`cnnlab list` builds none)."""


def spec_flops(spec: TrialSpec, measured: Measured) -> int:
    if isinstance(spec.arch, Network):
        if spec.arch not in measured.network_flops:
            raise CostUnknown(f"{spec.arch.function}: its cost is measured when the sweep starts")
        return measured.network_flops[spec.arch]
    return forward_flops(spec.arch)


def trial_seconds(
    spec: TrialSpec,
    parallelism: Parallelism,
    *,
    probes: Sequence[str] = (),
    probe_images: int | None = None,
    size: Measured | None = None,
) -> float:
    """Estimated seconds of one trial of `spec` on one of the run's trainings, bookkeeping
    included, at the shipped calibration (scale by `MachineSpeed.factor`). `size`: the loaded
    dataset's (else the shipped datasets', or your data's declared test size)."""
    size = size or Measured(test=spec.data.test_images or Measured.test)
    n_train = size.train
    flops = spec_flops(spec, size)
    rate = training_flops_per_second(flops) * _speedup(parallelism)
    images = spec.data.train_subset or (n_train - spec.data.validation_size)
    steps = math.ceil(images / spec.train.batch_size)
    train = steps * STEP_OVERHEAD_S + images * 3 * flops / rate
    if spec.train.augmentation.active:
        train += images * AUGMENT_S_PER_IMAGE
    inference = flops / (rate * EVAL_SPEEDUP)
    test_images = size.test
    evaluate = (spec.data.validation_size + test_images) * inference
    final_pass = test_images * inference
    probe = 0.0
    if "translation" in probes:  # the unshifted images, 4 directions × shifts, each angle
        passes = 1 + 4 * len(SHIFTS) + len(ANGLES)
        probe = passes * (probe_images or test_images) * (inference + PROBE_S_PER_IMAGE)
    return BUILD_S + BOOKKEEPING_S + spec.train.epochs * (train + evaluate) + final_pass + probe


def cell_seconds(cell: Cell, parallelism: Parallelism, size: Measured | None = None) -> float:
    return trial_seconds(
        cell.spec, parallelism, probes=cell.probes, probe_images=cell.probe_images, size=size
    )


def makespan(durations: Sequence[float], workers: int) -> float:
    """Wall time of `durations` run in order, each on the first free of `workers` workers."""
    free = [0.0] * max(1, workers)
    for seconds in durations:
        heapq.heappush(free, heapq.heappop(free) + seconds)
    return max(free)


@dataclass(frozen=True)
class SweepEstimate:
    """Estimated wall seconds of a run, start-up and report included."""

    total: float  # all of it (a sequential plan: its worst case, every look)
    first_look: float | None  # a sequential plan's first look alone; None without a plan
    workers: int
    speed: MachineSpeed

    def describe(self) -> str:
        if self.first_look is None:
            return format_duration(self.total)
        return (
            f"{format_duration(self.first_look)} for the first look, "
            f"{format_duration(self.total)} at most"
        )

    def short(self) -> str:
        if self.first_look is None:
            return format_duration(self.total)
        return f"{format_duration(self.first_look)} – {format_duration(self.total)}"


def looks(sweep: Sweep) -> list[list[Cell]]:
    """The cells each look trains when no claim stops early (without a plan: one look)."""
    design = cells(sweep)
    plan = sweep.plan
    if plan is None:
        return [design]
    bounds = (0, *plan.looks)
    return [[c for c in design if lo <= c.seed < hi] for lo, hi in itertools.pairwise(bounds)]


def first_look_cells(sweep: Sweep) -> list[Cell]:
    """A sequential plan's first look: every arm at the first look's seeds (all cells without
    a plan). The last look is `cells(sweep)`: a plan's worst case."""
    return looks(sweep)[0]


def estimate_sweep(
    sweep: Sweep,
    parallelism: Parallelism,
    speed: MachineSpeed | None = None,
    *,
    report: bool = True,
    size: Measured | None = None,
) -> SweepEstimate:
    """The run's estimate: start-up, each look's makespan on the workers, the end (and report).
    `size`: the loaded dataset's sizes (without it, MNIST's: `cnnlab list` loads no data)."""
    speed = speed or MachineSpeed()
    workers = parallelism.workers
    fixed = END_S + (REPORT_S if report else 0.0)
    fixed += STARTUP_S + TENSORFLOW_IMPORT_S if parallelism.in_process else WORKERS_READY_S
    if sweep.design == "search":
        trial = trial_seconds(sweep.base, parallelism, size=size)
        total = fixed + makespan([trial] * sweep.n_trials, workers) * speed.factor
        return SweepEstimate(total, None, workers, speed)
    spans = [
        makespan([cell_seconds(c, parallelism, size) for c in look], workers) * speed.factor
        for look in looks(sweep)
    ]
    first = fixed + spans[0] if sweep.plan is not None else None
    return SweepEstimate(fixed + sum(spans), first, workers, speed)
