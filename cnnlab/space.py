"""The old import path of `cnnlab.spec.specs`: ArchSpec, ConvBlock, TrainSpec, TrialSpec, ...

Sweep files written before the package was laid out by pipeline stage import from here
(`from cnnlab.space import ...`); they keep loading unchanged. New code imports
`cnnlab.spec` (`from cnnlab.spec import ...`).
"""

from cnnlab.spec.specs import *  # noqa: F403
