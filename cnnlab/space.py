"""Deprecated: the old import path of `cnnlab.spec.specs` (ArchSpec, TrainSpec, TrialSpec, ...).

Sweep files written before the package was laid out by pipeline stage import from here
(`from cnnlab.space import ...`); they keep loading unchanged for one more release, with a
DeprecationWarning that names the new import. New code imports `cnnlab.spec`
(`from cnnlab.spec import ...`). No shipped sweep or committed report uses this path.
"""

import warnings

from cnnlab.spec.specs import (
    DATASETS,
    HEADS,
    MAX_AUGMENT_ROTATION,
    MAX_AUGMENT_SHIFT,
    OPTIMIZERS,
    PADDINGS,
    POOLINGS,
    PRECISIONS,
    TEST_IMAGES,
    ArchSpec,
    Augmentation,
    ConvBlock,
    Dataset,
    DataSpec,
    Head,
    Optimizer,
    Padding,
    Pooling,
    Precision,
    TrainSpec,
    TrialSpec,
    check_choice,
    check_float,
    check_int,
    definition_params,
    flat_params,
)

warnings.warn(
    "`cnnlab.space` is deprecated and goes in the next release: write "
    "`from cnnlab.spec import ...` (or `from cnnlab.spec.specs import ...`) instead.",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "DATASETS",
    "HEADS",
    "MAX_AUGMENT_ROTATION",
    "MAX_AUGMENT_SHIFT",
    "OPTIMIZERS",
    "PADDINGS",
    "POOLINGS",
    "PRECISIONS",
    "TEST_IMAGES",
    "ArchSpec",
    "Augmentation",
    "ConvBlock",
    "DataSpec",
    "Dataset",
    "Head",
    "Optimizer",
    "Padding",
    "Pooling",
    "Precision",
    "TrainSpec",
    "TrialSpec",
    "check_choice",
    "check_float",
    "check_int",
    "definition_params",
    "flat_params",
]
