"""The old import path of `cnnlab.spec.presets`: the seed models (small, geron).

Sweep files written before the package was laid out by pipeline stage import from here
(`from cnnlab.presets import ...`); they keep loading unchanged. New code imports
`cnnlab.spec` (`from cnnlab.spec import ...`).
"""

from cnnlab.spec.presets import *  # noqa: F403
