"""Seeded train/validation splits and per-epoch data order: the data side of paired seeds.

For one seed, every arm of a sweep gets the same validation images, the same training
subset and the same order of training images in every epoch; another seed changes all three.
The random streams are derived from the seed with numpy's SeedSequence, separately for the
split, for each epoch's order and for each epoch's augmentation moves, so none depends on how
much randomness anything else used, and an augmented arm sees the same images in the same
order as an arm without augmentation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from cnnlab.data.load import LoadedDataset
from cnnlab.errors import SpecError

_SPLIT_STREAM = 1
_ORDER_STREAM = 2
_AUGMENT_STREAM = 3


@dataclass(frozen=True, eq=False)
class Splits:
    """uint8 images (N×28×28) and labels for training, validation and test."""

    dataset: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    seed: int
    split_hash: str  # identifies the validation images and the training subset


def make_splits(
    data: LoadedDataset, seed: int, *, validation_size: int = 5_000, train_subset: int | None = None
) -> Splits:
    """Hold out `validation_size` training images (seeded); keep `train_subset` of the rest."""
    n = len(data.y_train)
    if validation_size >= n:
        raise SpecError(
            "data.validation_size",
            f"`data.validation_size` = {validation_size:,} leaves no training images: "
            f"{data.name} has {n:,}. Use fewer than {n:,}.",
        )
    available = n - validation_size
    if train_subset is not None and train_subset > available:
        raise SpecError(
            "data.train_subset",
            f"`data.train_subset` = {train_subset:,} is more than the {available:,} training "
            f"images left after holding out {validation_size:,} for validation.",
        )
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SPLIT_STREAM]))
    order = rng.permutation(n)
    val_idx = np.sort(order[:validation_size])
    train_idx = np.sort(order[validation_size:][: train_subset or available])
    digest = hashlib.sha256(val_idx.tobytes() + b"|" + train_idx.tobytes()).hexdigest()[:16]
    return Splits(
        dataset=data.name,
        x_train=data.x_train[train_idx],
        y_train=data.y_train[train_idx],
        x_val=data.x_train[val_idx],
        y_val=data.y_train[val_idx],
        x_test=data.x_test,
        y_test=data.y_test,
        seed=seed,
        split_hash=digest,
    )


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order in which the `n` training images are visited in `epoch` (0-based)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, _ORDER_STREAM, epoch]))
    return rng.permutation(n)


def augmentation_draws(
    seed: int, epoch: int, n: int, *, max_shift: int, max_rotation: float
) -> tuple[np.ndarray, np.ndarray]:
    """The moves of `epoch` (0-based) for the `n` images in the order they are visited.

    Returns (shifts, angles): an n×2 int array of (rows, cols) shifts drawn uniformly from
    -max_shift..max_shift, and n angles in degrees drawn uniformly from [-max_rotation,
    max_rotation]. Shifts and angles come from separate child streams, so changing one bound
    leaves the other's draws as they were (an arm with shifts only sees the same shifts as an
    arm with shifts and rotations).
    """
    shift_stream, angle_stream = np.random.SeedSequence([seed, _AUGMENT_STREAM, epoch]).spawn(2)
    shifts = np.random.default_rng(shift_stream).integers(
        -max_shift, max_shift, size=(n, 2), endpoint=True
    )
    angles = np.random.default_rng(angle_stream).uniform(-max_rotation, max_rotation, size=n)
    return shifts, angles


def data_order_hash(seed: int, epochs: int, n: int) -> str:
    """A short fingerprint of the data order over all epochs (equal across arms of one seed)."""
    digest = hashlib.sha256()
    for epoch in range(epochs):
        digest.update(epoch_order(seed, epoch, n).tobytes())
    return digest.hexdigest()[:16]
