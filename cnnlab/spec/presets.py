"""The two reference architectures of the seed documents, reproduced exactly.

`small` is the Keras tutorial CNN of the first seed (113,386 parameters); `geron` is the
CNN of Géron's *Hands-On Machine Learning*, ch. 14, quoted in the second seed (1,413,834
parameters). Both train with the seeds' settings, which are `TrainSpec`'s defaults: Adam
(lr 1e-3), batch 32, sparse categorical cross-entropy. Sweeps derive their arms from these with
`dataclasses.replace`, so one factor changes while the rest stays put.
"""

from __future__ import annotations

from cnnlab.errors import SpecError, did_you_mean
from cnnlab.spec.specs import ArchSpec, ConvBlock

small = ArchSpec(
    blocks=(ConvBlock(filters=32, kernel_size=3), ConvBlock(filters=32, kernel_size=3)),
    padding="valid",
    pooling="max",
    pool_size=2,
    dense_units=(128,),
    dropout=0.0,
)

geron = ArchSpec(
    blocks=(
        ConvBlock(filters=64, kernel_size=7),
        ConvBlock(filters=128, kernel_size=3, convs=2),
        ConvBlock(filters=256, kernel_size=3, convs=2),
    ),
    padding="same",
    pooling="max",
    pool_size=2,
    dense_units=(128, 64),
    dropout=0.5,
)

PRESETS: dict[str, ArchSpec] = {"small": small, "geron": geron}


def get_preset(name: str) -> ArchSpec:
    """The preset called `name`, or a SpecError listing the presets there are."""
    try:
        return PRESETS[name]
    except KeyError:
        raise SpecError(
            "arch",
            f"There is no architecture preset called {name!r} (`arch`); the presets are "
            f"{sorted(PRESETS)}.{did_you_mean(name, PRESETS)}",
        ) from None
