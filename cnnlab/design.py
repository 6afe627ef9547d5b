"""Deprecated: the old import path of `cnnlab.spec.design` (sweeps, factors, claims, cells).

Sweep files written before the package was laid out by pipeline stage import from here
(`from cnnlab.design import ...`); they keep loading unchanged for one more release, with a
DeprecationWarning that names the new import. New code imports `cnnlab.spec`
(`from cnnlab.spec import ...`). No shipped sweep or committed report uses this path.
"""

import warnings

from cnnlab.spec.design import (
    BACKGROUND_DRAW,
    DESIGNS,
    QUICK_SUFFIX,
    Background,
    Cell,
    Claim,
    Design,
    Factor,
    Sweep,
    background_values,
    cells,
    claims_hash,
    config_hash,
    definition,
    definition_changes,
    get_path,
    make_cell,
    replace_path,
    seeds_hash,
    study_name,
    sweep_of_study,
    trial_count,
)

warnings.warn(
    "`cnnlab.design` is deprecated and goes in the next release: write "
    "`from cnnlab.spec import ...` (or `from cnnlab.spec.design import ...`) instead.",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "BACKGROUND_DRAW",
    "DESIGNS",
    "QUICK_SUFFIX",
    "Background",
    "Cell",
    "Claim",
    "Design",
    "Factor",
    "Sweep",
    "background_values",
    "cells",
    "claims_hash",
    "config_hash",
    "definition",
    "definition_changes",
    "get_path",
    "make_cell",
    "replace_path",
    "seeds_hash",
    "study_name",
    "sweep_of_study",
    "trial_count",
]
