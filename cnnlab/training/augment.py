"""Training-time augmentation: each epoch's training images rotated and shifted per image.

The moves come from the seed's own stream (`cnnlab.data.augmentation_draws`), so augmented
batches are as reproducible, and as paired across arms, as the data order. The geometry is the
translation probe's (`cnnlab.training.probes`). Validation and test images are never augmented.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from cnnlab.data import augmentation_draws
from cnnlab.spec.specs import Augmentation

_AUGMENT_CHUNK = 8192  # images per resampling call: TensorFlow's copies stay ~50 MB


def augment_images(images: np.ndarray, shifts: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotate image i about its centre by `angles[i]` degrees, then move it `shifts[i]` pixels.

    `images` is N×H×W×C float; `shifts` is N×2 (rows, cols; positive = down, right). One
    bilinear resampling per image with zeros outside, in the geometry of
    `cnnlab.training.probes.rotate_images` (same centre, same sense of rotation) and
    `cnnlab.training.probes.shift_images` (a whole-pixel move is an exact, zero-filled copy).
    Unlike the probe it does not round to uint8: the model's inputs are floats anyway. One more
    difference only shows where strokes touch the image's edge (rare in MNIST): a point that
    falls just outside the image blends with the zeros beyond it here, where scipy's rotation
    sets it to 0.

    TensorFlow's projective-transform kernel does all images in one vectorised call; per-image
    scipy calls or a numpy gather cost 4-6× more, a large share of a `small` epoch.
    """
    n, height, width = images.shape[:3]
    if len(shifts) != n or len(angles) != n:
        raise ValueError(f"{n} images need {n} shifts and angles; got {len(shifts)}, {len(angles)}")
    cy, cx = (height - 1) / 2, (width - 1) / 2
    theta = np.deg2rad(np.asarray(angles, dtype=np.float64))
    cos, sin = np.cos(theta), np.sin(theta)
    # Output pixel (y, x) reads input pixel R(y - dy - cy, x - dx - cx) + (cy, cx), where R is
    # scipy.ndimage.rotate's output-to-input matrix [[cos, sin], [-sin, cos]] in (row, col).
    oy = -np.asarray(shifts[:, 0], dtype=np.float64) - cy
    ox = -np.asarray(shifts[:, 1], dtype=np.float64) - cx
    zeros = np.zeros(n)
    # The kernel's transform [a0 a1 a2 b0 b1 b2 c0 c1] maps output (x, y) to input
    # x' = a0·x + a1·y + a2 and y' = b0·x + b1·y + b2 (x is the column).
    transforms = np.stack(
        [cos, -sin, -sin * oy + cos * ox + cx, sin, cos, cos * oy + sin * ox + cy, zeros, zeros],
        axis=1,
    ).astype(np.float32)
    out = np.empty_like(images)
    for start in range(0, n, _AUGMENT_CHUNK):
        stop = start + _AUGMENT_CHUNK
        out[start:stop] = tf.raw_ops.ImageProjectiveTransformV3(
            images=images[start:stop],
            transforms=transforms[start:stop],
            output_shape=np.array([height, width], dtype=np.int32),
            fill_value=np.array(0, dtype=images.dtype),
            interpolation="BILINEAR",
            fill_mode="CONSTANT",
        ).numpy()
    return out


def augmented(images: np.ndarray, augmentation: Augmentation, seed: int, epoch: int) -> np.ndarray:
    """The training images of `epoch` (0-based, already in that epoch's order), augmented."""
    if not augmentation.active:
        return images
    shifts, angles = augmentation_draws(
        seed,
        epoch,
        len(images),
        max_shift=augmentation.shift,
        max_rotation=augmentation.rotation,
    )
    return augment_images(images, shifts, angles)
