"""The one scaling from stored images to model inputs (training, evaluation, probes, dry runs).

Datasets stay uint8 N×H×W everywhere else (`cnnlab.data`); the model sees float32 N×H×W×1 in
[0, 1]. Keeping the scaling in one function keeps training and measuring on the same inputs.
"""

from __future__ import annotations

import numpy as np


def as_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 N×H×W → float32 N×H×W×1 in [0, 1]."""
    scaled: np.ndarray = (images.astype(np.float32) / 255.0)[..., np.newaxis]
    return scaled
