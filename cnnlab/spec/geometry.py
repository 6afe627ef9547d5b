"""The layer plan of an architecture: every layer's name, output shape, parameters and cost.

The plan is the single description from which the Keras model is built (`cnnlab.training.model`) and
from which parameters and FLOPs are counted, so the counts cannot drift from the model.
It is computed with plain arithmetic (no TensorFlow), which is what lets specs check their
geometry at construction time.

FLOPs convention: forward FLOPs per image = 2 × the multiply-accumulates (MACs) of the
convolution and dense layers. Bias additions, activations, pooling, dropout and softmax are
not counted. With it, the seed models cost `small` 2,827,008 and `geron` 178,932,992.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from cnnlab.errors import SpecError

if TYPE_CHECKING:
    from cnnlab.spec.specs import ArchSpec

LayerKind = Literal[
    "conv", "max_pool", "avg_pool", "flatten", "global_avg_pool", "dense", "dropout"
]


@dataclass(frozen=True, kw_only=True)
class PlannedLayer:
    """One layer of the plan; `output_shape` excludes the batch dimension."""

    name: str
    kind: LayerKind
    output_shape: tuple[int, ...]
    params: int = 0
    macs: int = 0
    filters: int | None = None  # conv: filters; dense: units
    kernel_size: int | None = None  # conv kernel or pooling window
    strides: int = 1
    dilation: int = 1  # conv: spacing of the kernel's taps
    padding: str = "valid"
    activation: str | None = None
    rate: float | None = None  # dropout rate


def plan_layers(arch: ArchSpec) -> tuple[PlannedLayer, ...]:
    """The layers `arch` builds, in order; SpecError where a window does not fit its input."""
    height, width, channels = arch.input_shape
    plan: list[PlannedLayer] = []
    poolings_so_far = 0

    def where() -> str:
        return (
            f"the {arch.input_shape[0]}×{arch.input_shape[1]} input after "
            f"{poolings_so_far} downsampling step{'s' if poolings_so_far != 1 else ''}"
        )

    for b, block in enumerate(arch.blocks, start=1):
        for c in range(1, block.convs + 1):
            name = f"block{b}_conv{c}"
            k, d = block.kernel_size, block.dilation
            span = d * (k - 1) + 1  # the window a dilated kernel covers
            if span > height or span > width:
                dilated = f" at dilation {d} (a {span}×{span} window)" if d > 1 else ""
                raise SpecError(
                    f"arch.blocks.{b - 1}.kernel_size",
                    f"Layer `{name}`: the {k}×{k} kernel (`arch.blocks.{b - 1}.kernel_size` = {k})"
                    f"{dilated} is larger than the {height}×{width} feature map that reaches it "
                    f"({where()}). Use a smaller kernel, fewer blocks, or less downsampling "
                    f"(`arch.pooling` = 'none').",
                )
            if arch.padding == "valid":
                height, width = height - span + 1, width - span + 1
            params = k * k * channels * block.filters + block.filters
            macs = height * width * block.filters * k * k * channels
            channels = block.filters
            plan.append(
                PlannedLayer(
                    name=name,
                    kind="conv",
                    output_shape=(height, width, channels),
                    params=params,
                    macs=macs,
                    filters=block.filters,
                    kernel_size=k,
                    dilation=d,
                    padding=arch.padding,
                    activation="relu",
                )
            )
        if arch.pooling == "none":
            continue
        p = arch.pool_size
        name = f"block{b}_pool"
        if p > height or p > width:
            raise SpecError(
                "arch.pool_size",
                f"Layer `{name}`: a {p}×{p} {arch.pooling} downsampling cannot reduce the "
                f"{height}×{width} feature map that reaches it ({where()}). Use fewer blocks, "
                f"a smaller `arch.pool_size`, padding='same', or `arch.pooling` = 'none'.",
            )
        height, width = height // p, width // p
        poolings_so_far += 1
        if arch.pooling == "strided":
            # A learned downsampling with exactly the pooling's geometry (window p, stride p).
            plan.append(
                PlannedLayer(
                    name=name,
                    kind="conv",
                    output_shape=(height, width, channels),
                    params=p * p * channels * channels + channels,
                    macs=height * width * channels * p * p * channels,
                    filters=channels,
                    kernel_size=p,
                    strides=p,
                    padding="valid",
                    activation="relu",
                )
            )
        else:
            plan.append(
                PlannedLayer(
                    name=name,
                    kind="max_pool" if arch.pooling == "max" else "avg_pool",
                    output_shape=(height, width, channels),
                    kernel_size=p,
                    strides=p,
                )
            )

    if arch.head == "flatten":
        features = height * width * channels
        plan.append(PlannedLayer(name="flatten", kind="flatten", output_shape=(features,)))
    else:
        features = channels
        plan.append(
            PlannedLayer(name="global_pool", kind="global_avg_pool", output_shape=(features,))
        )

    for d, units in enumerate(arch.dense_units, start=1):
        plan.append(
            PlannedLayer(
                name=f"dense{d}",
                kind="dense",
                output_shape=(units,),
                params=features * units + units,
                macs=features * units,
                filters=units,
                activation="relu",
            )
        )
        features = units
        if arch.dropout > 0:
            plan.append(
                PlannedLayer(
                    name=f"dropout{d}", kind="dropout", output_shape=(units,), rate=arch.dropout
                )
            )
    plan.append(
        PlannedLayer(
            name="output",
            kind="dense",
            output_shape=(arch.num_classes,),
            params=features * arch.num_classes + arch.num_classes,
            macs=features * arch.num_classes,
            filters=arch.num_classes,
            activation="softmax",
        )
    )
    return tuple(plan)


def receptive_field(arch: ArchSpec) -> int:
    """The side, in input pixels, of the window one position of the last feature map sees
    (before the head): each layer adds (its window − 1) × the stride accumulated so far."""
    field, jump = 1, 1
    for layer in plan_layers(arch):
        if layer.kind in ("conv", "max_pool", "avg_pool") and layer.kernel_size is not None:
            field += layer.dilation * (layer.kernel_size - 1) * jump
            jump *= layer.strides
    return field


def count_params(arch: ArchSpec) -> int:
    """Trainable parameters of the model `arch` builds."""
    return sum(layer.params for layer in plan_layers(arch))


def forward_flops(arch: ArchSpec) -> int:
    """Forward FLOPs per image under the convention in this module's docstring."""
    return 2 * sum(layer.macs for layer in plan_layers(arch))
