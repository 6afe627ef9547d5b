"""train_cell: one cell on its seed's splits, with its probe, on tiny synthetic data."""

from __future__ import annotations

import dataclasses

from cnnlab.data import synthetic_dataset
from cnnlab.spec.design import Factor, Sweep, cells
from cnnlab.spec.presets import small
from cnnlab.spec.specs import ConvBlock, DataSpec, TrainSpec, TrialSpec
from cnnlab.training.cell import train_cell

TINY = dataclasses.replace(
    small,
    blocks=(ConvBlock(filters=4, kernel_size=3), ConvBlock(filters=4, kernel_size=3)),
    dense_units=(8,),
)


def _cell(probes: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    sweep = Sweep(
        name="t",
        base=TrialSpec(
            arch=TINY,
            train=TrainSpec(epochs=1, batch_size=64),
            data=DataSpec(dataset="mnist", validation_size=64),
        ),
        factors=(Factor(path="arch.pooling", levels=("max",)),),
        seeds=1,
        probes=probes,
        probe_images=32,
    )
    return cells(sweep)[0]


def test_a_cell_trains_on_its_seeds_splits_and_reports_every_epoch() -> None:
    seen: list[int] = []
    result = train_cell(
        _cell(), synthetic_dataset(256, 64), on_epoch=lambda r: seen.append(r.epoch)
    )
    assert seen == [1] and len(result.history) == 1 and result.probes == {}
    assert 0.0 <= result.final.test_accuracy <= 1.0


def test_a_cell_with_the_translation_probe_measures_it_on_its_probe_images() -> None:
    result = train_cell(_cell(("translation",)), synthetic_dataset(256, 64))
    assert "shift2_drop" in result.probes and all(
        -1.0 <= value <= 1.0 for value in result.probes.values()
    )
