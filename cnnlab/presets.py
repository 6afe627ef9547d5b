"""Deprecated: the old import path of `cnnlab.spec.presets` (the seed models (small, geron)).

Sweep files written before the package was laid out by pipeline stage import from here
(`from cnnlab.presets import ...`); they keep loading unchanged for one more release, with a
DeprecationWarning that names the new import. New code imports `cnnlab.spec`
(`from cnnlab.spec import ...`). No shipped sweep or committed report uses this path.
"""

import warnings

from cnnlab.spec.presets import (
    PRESETS,
    geron,
    get_preset,
    small,
)

warnings.warn(
    "`cnnlab.presets` is deprecated and goes in the next release: write "
    "`from cnnlab.spec import ...` (or `from cnnlab.spec.presets import ...`) instead.",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "PRESETS",
    "geron",
    "get_preset",
    "small",
]
