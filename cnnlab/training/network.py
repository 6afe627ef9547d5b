"""Networks you bring (`cnnlab.spec.network.Network`): calling `build(hp)`, checking what it
returns, pairing its initial weights with the seed's reference arm, counting its cost.

- **Calling.** `build(hp)` runs under the trial's precision policy, after the trial's seed is
  set, so the initial weights are the seed's. An exception inside it is reported at the
  user's own line (file, line, code), not as a traceback through cnnlab.
- **Checking.** It must return a `keras.Model` taking the dataset's images (H×W×C) and giving
  one probability per class; anything else is refused before any training.
- **Pairing.** cnnlab builds its own networks layer by layer from seeded streams, so two arms
  start equal wherever their layers are equal. A function you bring draws its weights from
  Keras' global seed instead, so after building a cell's network, every variable whose path
  and shape match the reference arm's (the sweep's first arm, same seed) is set to the
  reference's values, if its layer has the same type and initializers (an initializer that is a
  factor is left to differ); the rest keep their seeded initialisation. The share of trainable
  parameters so paired is part of the result. Weights a function loads itself (pretrained)
  are not told apart from seeded ones: give such arms the same loaded weights.
- **Cost.** Parameters from the built model; forward FLOPs (2 × multiply-accumulates, as
  `cnnlab.spec.geometry` counts them) for Conv, Dense, pooling and normalization layers; any
  other layer with weights or work is listed as uncounted.
"""

from __future__ import annotations

import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from cnnlab.errors import SpecError
from cnnlab.spec.network import Network
from cnnlab.spec.specs import Precision

# Layers whose forward cost is counted, and layers that cost (almost) nothing to run.
_FREE = (
    keras.layers.InputLayer,
    keras.layers.Flatten,
    keras.layers.Dropout,
    keras.layers.Reshape,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.Softmax,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
)


class NetworkError(SpecError):
    """A network you bring could not be built, or built something cnnlab cannot train."""

    def __init__(self, message: str) -> None:
        super().__init__("arch.build", message)


@contextmanager
def _policy(precision: Precision) -> Any:
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "mixed_bfloat16" else "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def _user_line(network: Network, error: BaseException) -> str:
    """`file, line N (code)`: the last frame of the traceback inside the network's own file."""
    frames = traceback.extract_tb(error.__traceback__)
    mine = [f for f in frames if Path(f.filename).resolve() == Path(network.file)]
    frame = (mine or frames)[-1]
    code = f": {frame.line.strip()}" if frame.line else ""
    return f"{frame.filename}, line {frame.lineno}{code}"


def call_build(network: Network, precision: Precision = "float32") -> keras.Model:
    """`network.build(hp)` under `precision`, its errors at the user's line."""
    try:
        with _policy(precision):
            model = network.build(network.hp.as_dict())
    except Exception as error:  # the user's code: anything may come out
        raise NetworkError(
            f"{network.function}(hp={network.hp.as_dict()}) raised {type(error).__name__}: "
            f"{error} — at {_user_line(network, error)}. Fix the function, or the sweep's hp "
            "values."
        ) from None
    if not isinstance(model, keras.Model):
        raise NetworkError(
            f"{network.function}(hp={network.hp.as_dict()}) returned "
            f"{type(model).__name__} {model!r:.80}, not a keras.Model; end it with "
            "`return keras.Model(inputs, outputs)` (or a keras.Sequential)."
        )
    return model


def check_fits(
    network: Network, model: keras.Model, image_shape: tuple[int, ...], num_classes: int
) -> None:
    """The model takes the dataset's images and gives one output per class."""
    where = f"{network.function}(hp={network.hp.as_dict()})"
    inputs = getattr(model, "inputs", None)
    if not inputs or len(inputs) != 1:
        raise NetworkError(
            f"{where} returned a model with {len(inputs or [])} inputs; cnnlab feeds it one "
            f"batch of images of shape {tuple(image_shape)}: start it with "
            f"keras.Input(shape={tuple(image_shape)})."
        )
    taken = tuple(inputs[0].shape[1:])
    # A network that takes any height and width (None) fits every size.
    fits = len(taken) == len(image_shape) and all(
        t is None or t == s for t, s in zip(taken, image_shape, strict=True)
    )
    if not fits:
        raise NetworkError(
            f"{where} takes inputs of shape {taken}, but the dataset's images are "
            f"{tuple(image_shape)} (height, width, channels); use "
            f"keras.Input(shape={tuple(image_shape)})."
        )
    outputs = model.outputs
    given = tuple(outputs[0].shape[1:]) if len(outputs) == 1 else None
    if given != (num_classes,):
        shapes = [tuple(o.shape[1:]) for o in outputs]
        raise NetworkError(
            f"{where} gives outputs of shape {shapes[0] if len(shapes) == 1 else shapes}, but "
            f"the dataset has {num_classes} classes: end it with "
            f"keras.layers.Dense({num_classes}, activation='softmax')."
        )
    _check_probabilities(where, model, image_shape, num_classes)


def _check_probabilities(
    where: str, model: keras.Model, image_shape: tuple[int, ...], num_classes: int
) -> None:
    """cnnlab trains with sparse categorical cross-entropy on probabilities: logits would be
    clipped to [ε, 1 − ε] and their negative part would get no gradient, silently. So the
    model's outputs on two random images must be probabilities that sum to 1."""
    images = np.random.default_rng(0).random((2, *image_shape), dtype=np.float32)
    outputs = np.asarray(keras.ops.convert_to_numpy(model(images, training=False)), np.float64)
    sums = outputs.sum(axis=-1)
    # bfloat16 outputs carry about 3 significant digits.
    if outputs.min() < -1e-3 or np.abs(sums - 1).max() > 2e-2:
        raise NetworkError(
            f"{where} gives outputs that are not probabilities (row sums "
            f"{', '.join(f'{x:.3g}' for x in sums)}, smallest value {outputs.min():.3g}): "
            "cnnlab trains with sparse categorical cross-entropy on probabilities; end it with "
            f"keras.layers.Dense({num_classes}, activation='softmax') (or a keras.layers."
            "Softmax() after your logits)."
        )


@dataclass(frozen=True)
class Pairing:
    """How much of a network's initial state was taken from the reference arm."""

    paired: int  # trainable parameters (scalars) set to the reference's values
    total: int  # trainable parameters

    @property
    def share(self) -> float:
        return self.paired / self.total if self.total else 1.0


def build_paired(
    network: Network,
    reference: Network | None,
    seed: int,
    precision: Precision,
    reseed: Any,
) -> tuple[keras.Model, Pairing]:
    """The cell's network with its seed's initial weights, paired with `reference`'s.

    `reseed(seed)` clears Keras' session and seeds everything; it is called before each build,
    so both builds number their layers alike and draw from the same seed."""
    if reference is None or reference == network:
        reseed(seed)
        model = call_build(network, precision)
        trainable = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
        return model, Pairing(trainable, trainable)
    reseed(seed)
    reference_model = call_build(reference, precision)
    reference_made_by = _initialised_by(reference_model)  # once, not per variable
    kept = {
        v.path: (tuple(v.shape), reference_made_by.get(v.path), np.array(v.numpy()))
        for v in reference_model.trainable_variables
    }
    reseed(seed)
    model = call_build(network, precision)
    made_by = _initialised_by(model)
    paired = total = 0
    # Trainable variables only: non-trainable state (normalization statistics, a dropout
    # layer's seed) is the arm's own. A variable whose layer type or initializers differ is
    # an arm that is meant to start differently, so it keeps its own values.
    for variable in model.trainable_variables:
        size = int(np.prod(variable.shape))
        total += size
        found = kept.get(variable.path)
        if found is not None and found[:2] == (tuple(variable.shape), made_by.get(variable.path)):
            variable.assign(found[2])
            paired += size
    return model, Pairing(paired, total)


def _initialised_by(model: keras.Model) -> dict[str, str]:
    """Each variable's path -> its layer's type and initializer settings."""
    made: dict[str, str] = {}
    for layer in model._flatten_layers(include_self=False):  # nested models' layers too
        try:
            config = layer.get_config()
        except Exception:  # a custom layer may not serialise its arguments: its type alone
            config = {}
        settings = {k: v for k, v in config.items() if k.endswith("initializer")}
        for variable in layer.variables:
            made.setdefault(variable.path, f"{type(layer).__name__} {settings!r}")
    return made


def _conv_macs(layer: Any) -> int:
    out = layer.output.shape
    kernel = int(np.prod(layer.kernel_size))
    in_channels = int(layer.input.shape[-1])
    groups = getattr(layer, "groups", 1) or 1
    return int(np.prod(out[1:])) * kernel * in_channels // groups


def layer_flops(layer: Any) -> int | None:
    """A layer's forward FLOPs per image (2 × multiply-accumulates for Conv and Dense, one op
    per input element for pooling and normalization), or None where it is not counted."""
    if isinstance(layer, _FREE):
        return 0
    if isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D):
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            out = layer.output.shape
            return 2 * int(np.prod(out[1:])) * int(np.prod(layer.kernel_size))
        return 2 * _conv_macs(layer)
    if isinstance(layer, keras.layers.Dense):
        # A Dense layer on a feature map applies itself at every position.
        return 2 * int(np.prod(layer.input.shape[1:])) * int(layer.units)
    pools = (
        keras.layers.MaxPooling2D,
        keras.layers.AveragePooling2D,
        keras.layers.GlobalAveragePooling2D,
        keras.layers.GlobalMaxPooling2D,
    )
    norms = (keras.layers.BatchNormalization, keras.layers.LayerNormalization)
    if isinstance(layer, pools + norms):
        return int(np.prod(layer.input.shape[1:]))
    if not layer.weights and type(layer).__module__.startswith("keras"):
        return 0 if isinstance(layer, keras.layers.Add | keras.layers.Concatenate) else None
    return None


@dataclass(frozen=True)
class NetworkCost:
    params: int
    flops: int  # forward FLOPs per image, of the counted layers
    uncounted: tuple[str, ...]  # `name (Type)` of layers whose FLOPs are not counted


def network_cost(model: keras.Model) -> NetworkCost:
    flops, uncounted = 0, []
    for layer in model.layers:
        counted = layer_flops(layer)
        if counted is None:
            uncounted.append(f"{layer.name} ({type(layer).__name__})")
        else:
            flops += counted
    return NetworkCost(model.count_params(), flops, tuple(uncounted))


def network_summary(network: Network, model: keras.Model, cost: NetworkCost) -> str:
    """The model summary artifact of a trial whose network you brought."""
    lines = [f"Network: {network.function}  hp={network.hp.as_dict()}"]
    lines.append(f"Source SHA-256: {network.source_sha256}  ({network.file})")
    rows = [("Layer (type)", "Output shape", "Params", "FLOPs")]
    for layer in model.layers:
        flops = layer_flops(layer)
        shape = "(None, " + ", ".join(str(d) for d in layer.output.shape[1:]) + ")"
        rows.append(
            (
                f"{layer.name} ({type(layer).__name__})",
                shape,
                f"{layer.count_params():,}",
                "uncounted" if flops is None else f"{flops:,}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines += [
        "  ".join(
            f"{cell:<{widths[i]}}" if i < 2 else f"{cell:>{widths[i]}}"
            for i, cell in enumerate(row)
        )
        for row in rows
    ]
    lines.append(f"Parameters:              {cost.params:,}")
    lines.append(f"Forward FLOPs per image: {cost.flops:,}")
    if cost.uncounted:
        lines.append(f"Not counted: {', '.join(cost.uncounted)}")
    return "\n".join(lines) + "\n"
