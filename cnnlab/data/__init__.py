"""Data: locate, verify and load MNIST / Fashion-MNIST and data you bring; seeded splits;
synthetic test data.

Arrays stay as stored here (uint8, or float for data you bring); scaling to the model's inputs
happens in `cnnlab.training.inputs`. TensorFlow is imported only when Keras has to download a
dataset.
"""

from __future__ import annotations

from cnnlab.data.catalog import DATASETS, FASHION_MNIST, MNIST, DatasetInfo
from cnnlab.data.load import LoadedDataset, load_dataset
from cnnlab.data.own import array_checksums, class_counts, load_data, load_own
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
    "array_checksums",
    "augmentation_draws",
    "class_counts",
    "data_order_hash",
    "epoch_order",
    "load_data",
    "load_dataset",
    "load_own",
    "make_splits",
    "synthetic_dataset",
]
