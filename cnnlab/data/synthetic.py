"""Tiny synthetic image data with a learnable signal, for fast tests.

Each class is a bright bar at its own position on a noisy 28×28 background, so a small CNN
separates the classes within an epoch or two while the data stays cheap to make.
"""

from __future__ import annotations

import numpy as np

from cnnlab.data.load import LoadedDataset


def _images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        row = 2 + 2 * int(label)  # classes 0–9 → rows 2–20
        images[i, row : row + 3, 4:24] = 255
    return images


def synthetic_dataset(n_train: int = 512, n_test: int = 128, seed: int = 0) -> LoadedDataset:
    """A LoadedDataset of `n_train` + `n_test` synthetic images over 10 balanced classes."""
    rng = np.random.default_rng(seed)
    y_train = (np.arange(n_train) % 10).astype(np.uint8)
    y_test = (np.arange(n_test) % 10).astype(np.uint8)
    return LoadedDataset(
        name="synthetic",
        x_train=_images(y_train, rng),
        y_train=y_train,
        x_test=_images(y_test, rng),
        y_test=y_test,
        source="synthetic",
    )
