"""Training one cell of a sweep: its seed's splits, the training itself, then its probes.

The same function runs in the sweep process and in worker processes, so a cell trains the
same way wherever it runs. It computes and returns; the caller records the result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from cnnlab.data import LoadedDataset, make_splits
from cnnlab.spec.design import Cell
from cnnlab.spec.metrics import probe_shifts
from cnnlab.training.result import EpochRecord, TrainingResult
from cnnlab.training.reuse import process_models
from cnnlab.training.train import train_and_evaluate


def train_cell(
    cell: Cell,
    dataset: LoadedDataset,
    *,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Train one cell on its seed's splits of `dataset`, then run the cell's probes.

    Cells reuse this process's compiled models (`cnnlab.training.reuse`): the result's model
    is valid until the next cell trains, so the caller saves what it needs from it first.
    """
    data = cell.spec.data
    splits = make_splits(
        dataset, cell.seed, validation_size=data.validation_size, train_subset=data.train_subset
    )
    result = train_and_evaluate(
        cell.spec,
        splits,
        cell.seed,
        on_epoch=on_epoch,
        progress=progress,
        models=process_models(),
        pair_with=cell.pair_with,
    )
    if "translation" in cell.probes:
        from cnnlab.training.probes import shift_and_rotation_accuracy

        count = cell.probe_images or len(splits.y_test)
        measured = shift_and_rotation_accuracy(
            result.model,
            splits.x_test[:count],
            splits.y_test[:count],
            shifts=probe_shifts(splits.x_test.shape[2]),  # MNIST's at 28 pixels, else scaled
        )
        result = dataclasses.replace(result, probes=measured)
    return result
