"""What an experiment is: specs, presets, layer geometry, sweep declarations, metric names.

Standard library only: importing it (or any module under it) never imports TensorFlow,
Optuna or MLflow, so a sweep file is read and validated in a moment. A sweep file needs one
import line::

    from cnnlab.spec import Claim, Factor, Sweep, TrainSpec, TrialSpec, small

Modules: `specs` (the frozen, validated dataclasses of one trial), `geometry` (the layer
plan: shapes, parameters, FLOPs), `presets` (the seeds' `small` and `geron`), `design` (sweeps,
factors, claims, cells, definition hashes), `sequential` (a sweep's sequential seed plan),
`metrics` (what a trial measures, by name) and `loading` (finding and importing sweep files).
"""

from __future__ import annotations

from cnnlab.spec import presets
from cnnlab.spec.design import Background, Cell, Claim, Factor, Sweep, cells
from cnnlab.spec.network import Network
from cnnlab.spec.presets import geron, small
from cnnlab.spec.sequential import ComputeCap, SequentialPlan
from cnnlab.spec.specs import (
    ArchSpec,
    Augmentation,
    ConvBlock,
    DataSpec,
    OwnData,
    TrainSpec,
    TrialSpec,
)

__all__ = [
    "ArchSpec",
    "Augmentation",
    "Background",
    "Cell",
    "Claim",
    "ComputeCap",
    "ConvBlock",
    "DataSpec",
    "Factor",
    "Network",
    "OwnData",
    "SequentialPlan",
    "Sweep",
    "TrainSpec",
    "TrialSpec",
    "cells",
    "geron",
    "presets",
    "small",
]
