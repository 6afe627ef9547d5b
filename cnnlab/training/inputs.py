"""The one scaling from stored images to model inputs (training, evaluation, probes, dry runs).

Datasets stay as stored everywhere else (`cnnlab.data`): uint8 or float32, N×H×W for one
channel (MNIST) or N×H×W×3. The model sees float32 N×H×W×C: uint8 pixels divided by 255 (so in
[0, 1]), float pixels as given (data you bring that is already scaled or standardised).
Keeping the scaling here keeps training and measuring on the same inputs.

`as_inputs` scales a NumPy array at once. `TrainingImages` keeps a split's training images as
one uint8 tensor for the whole trial and scales each batch as it is drawn, in the epoch's
order: the same float32 values, bit for bit (a float32 division by 255 either way; checked by
tests/training/test_inputs.py), without building a 4-bytes-per-pixel copy of the training set every
epoch. Those copies cost more than the arithmetic: each is fresh memory (172 MB for 55,000
MNIST images), and first-touching fresh memory took 0.2–2.8 s per copy on the 2-core machine
(benchmarks/README.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf


def as_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 N×H×W[×C] → float32 N×H×W×C in [0, 1]; float images as float32, as given."""
    if images.dtype == np.uint8:
        scaled: np.ndarray = images.astype(np.float32) / 255.0
    else:
        scaled = images.astype(np.float32, copy=False)
    return scaled[..., np.newaxis] if scaled.ndim == 3 else scaled


class TrainingImages:
    """A split's training images (as stored: uint8 or float32, N×H×W[×C]) and labels as
    tensors, made once per trial, and each epoch's batches drawn from them in a given order."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        import tensorflow as tf

        self.scaled = images.dtype == np.uint8  # scaled per batch, as `as_inputs` scales
        self.one_channel = images.ndim == 3
        if not self.scaled:
            images = images.astype(np.float32, copy=False)
        self.images = tf.constant(images)  # uint8: a quarter of the float32 copy's memory
        self.labels = tf.constant(labels.astype(np.int32))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def epoch(self, order: np.ndarray, batch_size: int) -> tf.data.Dataset:
        """Batches of `batch_size` (the last one shorter) visiting the images in `order`,
        scaled as `as_inputs` scales them, with their int32 labels."""
        import tensorflow as tf

        indices = tf.data.Dataset.from_tensor_slices(order.astype(np.int64)).batch(batch_size)
        return indices.map(self._batch).prefetch(2)

    def _batch(self, indices: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        images = tf.gather(self.images, indices)
        if self.scaled:
            images = tf.cast(images, tf.float32) / 255.0
        if self.one_channel:
            images = images[..., tf.newaxis]
        return images, tf.gather(self.labels, indices)
