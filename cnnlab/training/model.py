"""Builds the Keras model an `ArchSpec` describes, layer by layer from its plan.

`build_model` is pure: it neither compiles nor trains, and it touches no global Keras state
(precision is set per layer, not through the global mixed-precision policy). Given a seed,
every layer's initial weights are drawn from a stream derived from (seed, layer name), so
two architectures that share a layer name and shape start with identical weights there:
`max` and `avg` pooling arms of one seed begin from the same network (physical pairing).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import keras

from cnnlab.spec.geometry import PlannedLayer, forward_flops, plan_layers

if TYPE_CHECKING:
    from cnnlab.spec.specs import ArchSpec, Precision


def layer_seed(seed: int, layer_name: str) -> int:
    """A 31-bit seed for one layer's initializer, stable across processes and arms."""
    digest = hashlib.sha256(f"cnnlab/{seed}/{layer_name}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFF_FFFF


def _kernel_init(seed: int | None, name: str) -> Any:
    if seed is None:
        return "glorot_uniform"  # Keras' default, as in the seed models
    return keras.initializers.GlorotUniform(seed=layer_seed(seed, name))


def _keras_layer(layer: PlannedLayer, seed: int | None, dtype: str) -> keras.layers.Layer:
    if layer.kind == "conv":
        return keras.layers.Conv2D(
            layer.filters,
            layer.kernel_size,
            strides=layer.strides,
            dilation_rate=layer.dilation,
            padding=layer.padding,
            activation=layer.activation,
            kernel_initializer=_kernel_init(seed, layer.name),
            name=layer.name,
            dtype=dtype,
        )
    if layer.kind == "max_pool":
        return keras.layers.MaxPooling2D(layer.kernel_size, name=layer.name, dtype=dtype)
    if layer.kind == "avg_pool":
        return keras.layers.AveragePooling2D(layer.kernel_size, name=layer.name, dtype=dtype)
    if layer.kind == "flatten":
        return keras.layers.Flatten(name=layer.name, dtype=dtype)
    if layer.kind == "global_avg_pool":
        return keras.layers.GlobalAveragePooling2D(name=layer.name, dtype=dtype)
    if layer.kind == "dense":
        # The softmax output stays float32 under mixed precision, as Keras' guide advises.
        is_output = layer.activation == "softmax"
        return keras.layers.Dense(
            layer.filters,
            activation=layer.activation,
            kernel_initializer=_kernel_init(seed, layer.name),
            name=layer.name,
            dtype="float32" if is_output else dtype,
        )
    if layer.kind == "dropout":
        return keras.layers.Dropout(
            layer.rate,
            seed=None if seed is None else layer_seed(seed, layer.name),
            name=layer.name,
            dtype=dtype,
        )
    raise AssertionError(f"unknown planned layer kind {layer.kind!r}")


def build_model(
    arch: ArchSpec,
    *,
    precision: Precision = "float32",
    seed: int | None = None,
    name: str = "cnn",
) -> keras.Sequential:
    """An uncompiled Keras model of `arch`, its layers named as in `geometry.plan_layers`."""
    dtype = "mixed_bfloat16" if precision == "mixed_bfloat16" else "float32"
    layers = [_keras_layer(layer, seed, dtype) for layer in plan_layers(arch)]
    return keras.Sequential([keras.Input(shape=arch.input_shape), *layers], name=name)


def summary_table(arch: ArchSpec, model: keras.Model) -> str:
    """A model summary: each Keras layer's type, output shape and parameters, plus its FLOPs.

    Shapes and parameter counts are read from the built Keras model, FLOPs from the plan
    (see `cnnlab.spec.geometry` for the convention), so the table shows what will really run.
    """
    plan = {layer.name: layer for layer in plan_layers(arch)}
    rows = [("Layer (type)", "Output shape", "Params", "FLOPs")]
    for layer in model.layers:
        shape = "(None, " + ", ".join(str(d) for d in layer.output.shape[1:]) + ")"
        flops = 2 * plan[layer.name].macs
        rows.append(
            (
                f"{layer.name} ({type(layer).__name__})",
                shape,
                f"{layer.count_params():,}",
                f"{flops:,}" if flops else "0",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    rule = "-" * (sum(widths) + 6)

    def fmt(row: tuple[str, str, str, str]) -> str:
        return (
            f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  "
            f"{row[2]:>{widths[2]}}  {row[3]:>{widths[3]}}"
        )

    lines = [f'Model: "{model.name}"', rule, fmt(rows[0]), rule, *map(fmt, rows[1:]), rule]
    lines += [
        f"Parameters:              {model.count_params():,}",
        f"Forward FLOPs per image: {forward_flops(arch):,}  "
        "(2 x multiply-accumulates of conv and dense layers)",
    ]
    return "\n".join(lines) + "\n"
