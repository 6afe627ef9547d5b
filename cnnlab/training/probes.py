"""Extra measurements on a trained model: accuracy on shifted and rotated test images.

The seeds claim that max pooling gives "some invariance to small translations". The probe
measures it: test images moved by 1, 2 and 3 pixels in each of the four directions,
zero-filled (never wrapped around: a wrapped digit is a different picture), and rotated by a
few degrees; reported as accuracy and as the drop from the unshifted accuracy, averaged over
directions. Pure numpy/scipy on uint8 images, plus one batched `model.predict` per variant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from cnnlab.spec.metrics import ANGLES, SHIFTS, rotation_name, shift_name
from cnnlab.training.inputs import as_inputs

DIRECTIONS = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}


def shift_images(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Move N×H×W[×C] images by (rows, cols) pixels; uncovered pixels are 0, nothing wraps."""
    out = np.zeros_like(images)
    height, width = images.shape[1:3]
    src_r = slice(max(0, -rows), height - max(0, rows))
    dst_r = slice(max(0, rows), height - max(0, -rows))
    src_c = slice(max(0, -cols), width - max(0, cols))
    dst_c = slice(max(0, cols), width - max(0, -cols))
    out[:, dst_r, dst_c] = images[:, src_r, src_c]
    return out


def rotate_images(images: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate N×H×W[×C] images about their centre (bilinear, zero outside); uint8 images are
    rounded back to uint8, float images stay float."""
    rotated: np.ndarray = ndimage.rotate(
        images.astype(np.float32), degrees, axes=(1, 2), reshape=False, order=1, cval=0.0
    )
    if images.dtype != np.uint8:
        return rotated
    result: np.ndarray = np.clip(np.rint(rotated), 0, 255).astype(np.uint8)
    return result


def _accuracy(model: Any, images: np.ndarray, labels: np.ndarray) -> float:
    predictions = model.predict(as_inputs(images), batch_size=1024, verbose=0).argmax(axis=1)
    return float((predictions == labels).mean())


def shift_and_rotation_accuracy(
    model: Any,
    images: np.ndarray,
    labels: np.ndarray,
    shifts: Sequence[int] = SHIFTS,
    angles: Sequence[float] = ANGLES,
) -> dict[str, float]:
    """`shift{k}_accuracy` / `shift{k}_drop` (mean over the 4 directions) and the same per angle.

    A drop is unshifted accuracy minus shifted accuracy, as a fraction (0.01 = 1 pp).
    """
    base = _accuracy(model, images, labels)
    out = {"unshifted_accuracy": base}
    for k in shifts:
        accuracies = [
            _accuracy(model, shift_images(images, dr * k, dc * k), labels)
            for dr, dc in DIRECTIONS.values()
        ]
        name = shift_name(k)
        out[f"{name}_accuracy"] = float(np.mean(accuracies))
        out[f"{name}_drop"] = base - out[f"{name}_accuracy"]
    for angle in angles:
        name = rotation_name(angle)
        out[f"{name}_accuracy"] = _accuracy(model, rotate_images(images, angle), labels)
        out[f"{name}_drop"] = base - out[f"{name}_accuracy"]
    return out
