"""Rough time estimates for a sweep before it runs, from FLOPs, steps and fixed overheads.

The model is calibrated on this project's 2-core CPU machine (see benchmarks/README.md):
about 4 ms of overhead per training step, a training throughput (forward + backward = 3 ×
forward FLOPs) of about 100 GFLOP/s for small networks rising to about 400 GFLOP/s for
geron-sized ones, and about 20 s to start (importing TensorFlow and MLflow). It is meant to
tell minutes from hours; once trials finish, the progress display's ETA uses measured times.
"""

from __future__ import annotations

import math

from cnnlab.spec.design import Cell, Sweep, cells
from cnnlab.spec.geometry import forward_flops
from cnnlab.spec.specs import TrialSpec

STARTUP_S = 20.0
PER_TRIAL_S = 1.5  # building the model, logging, saving weights and figures
STEP_OVERHEAD_S = 0.004
AUGMENT_S_PER_IMAGE = 9e-6  # rotating and shifting one 28×28 image: ~0.5 s per 55,000 here
TEST_IMAGES = 10_000


def _throughput(flops_per_image: float) -> float:
    """Effective FLOP/s: bigger convolutions use the cores better."""
    mflops = flops_per_image / 1e6
    if mflops <= 20:
        return 100e9
    return float(min(400e9, 100e9 * (mflops / 20) ** (math.log(4) / math.log(9))))


def trial_seconds(spec: TrialSpec, n_train: int = 60_000) -> float:
    """Estimated seconds to train and evaluate one trial of `spec`."""
    flops = forward_flops(spec.arch)
    images = spec.data.train_subset or (n_train - spec.data.validation_size)
    rate = _throughput(flops)
    steps = math.ceil(images / spec.train.batch_size)
    train = steps * STEP_OVERHEAD_S + images * 3 * flops / rate
    if spec.train.augmentation.active:
        train += images * AUGMENT_S_PER_IMAGE
    evaluate = (spec.data.validation_size + TEST_IMAGES) * flops / rate
    return PER_TRIAL_S + spec.train.epochs * (train + evaluate)


def sweep_seconds(sweep: Sweep) -> float:
    """Estimated seconds for a whole sweep, start-up included."""
    if sweep.design == "search":
        return STARTUP_S + sweep.n_trials * trial_seconds(sweep.base)
    return STARTUP_S + sum(trial_seconds(cell.spec) for cell in cells(sweep))


def first_look_cells(sweep: Sweep) -> list[Cell]:
    """A sequential plan's first look: every arm at the first look's seeds (all cells without
    a plan). The last look is `cells(sweep)`: a plan's worst case."""
    plan = sweep.plan
    design = cells(sweep)
    return design if plan is None else [c for c in design if c.seed < plan.looks[0]]


def first_look_seconds(sweep: Sweep) -> float:
    """Estimated seconds for the first look of a sequential plan, start-up included."""
    return STARTUP_S + sum(trial_seconds(cell.spec) for cell in first_look_cells(sweep))


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
