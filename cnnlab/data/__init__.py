"""Data: locate, verify and load MNIST / Fashion-MNIST; seeded splits; synthetic test data.

Arrays stay uint8 here; scaling to [0, 1] happens in `cnnlab.training.inputs`. TensorFlow is
imported only when Keras has to download a dataset.
"""

from __future__ import annotations

from cnnlab.data.catalog import DATASETS, FASHION_MNIST, MNIST, DatasetInfo
from cnnlab.data.load import LoadedDataset, load_dataset
from cnnlab.data.splits import (
    Splits,
    augmentation_draws,
    data_order_hash,
    epoch_order,
    make_splits,
)
from cnnlab.data.synthetic import synthetic_dataset

__all__ = [
    "DATASETS",
    "FASHION_MNIST",
    "MNIST",
    "DatasetInfo",
    "LoadedDataset",
    "Splits",
    "augmentation_draws",
    "data_order_hash",
    "epoch_order",
    "load_dataset",
    "make_splits",
    "synthetic_dataset",
]
