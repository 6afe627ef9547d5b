"""cnnlab: architecture experiments and ablations for small CNNs on MNIST.

Importing the package is cheap on purpose: it pulls in neither TensorFlow nor MLflow,
so specs and experiment declarations can be read and validated without them.
"""

from __future__ import annotations

from cnnlab.version import __version__

__all__ = ["__version__"]
