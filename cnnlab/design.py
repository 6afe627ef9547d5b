"""The old import path of `cnnlab.spec.design`: Sweep, Factor, Background, Claim, cells, hashes.

Sweep files written before the package was laid out by pipeline stage import from here
(`from cnnlab.design import ...`); they keep loading unchanged. New code imports
`cnnlab.spec` (`from cnnlab.spec import ...`).
"""

from cnnlab.spec.design import *  # noqa: F403
