"""The typed specs every experiment is made of: architecture, training and data.

Specs are frozen, keyword-only dataclasses validated when they are constructed, so an invalid
experiment fails before any data is loaded or any model is built. An error names the field
(with its dotted name, e.g. `arch.pooling`), the value given and what is allowed. The
architecture is also checked against its input: a kernel or pooling window larger than the
feature map that reaches it is refused, naming the layer (see `cnnlab.spec.geometry`).

This module imports only the standard library and `cnnlab.spec.geometry`/`cnnlab.errors`, which do
the same, so `import cnnlab.spec.specs` never pulls in TensorFlow.
"""

from __future__ import annotations

import math
import os
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass
from typing import Any, Literal, get_args

from cnnlab.errors import SpecError, did_you_mean
from cnnlab.spec.geometry import plan_layers
from cnnlab.spec.network import HIDDEN, LOCATION, HyperParams, Network

Padding = Literal["valid", "same"]
Pooling = Literal["max", "avg", "none", "strided"]
Head = Literal["flatten", "gap"]
Optimizer = Literal["adam", "sgd", "rmsprop"]
Precision = Literal["float32", "mixed_bfloat16"]
Dataset = Literal["mnist", "fashion_mnist"]
DataFormat = Literal["npz", "image_folder", "cifar10"]

PADDINGS: tuple[str, ...] = get_args(Padding)
POOLINGS: tuple[str, ...] = get_args(Pooling)
HEADS: tuple[str, ...] = get_args(Head)
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)
PRECISIONS: tuple[str, ...] = get_args(Precision)
DATASETS: tuple[str, ...] = get_args(Dataset)
DATA_FORMATS: tuple[str, ...] = get_args(DataFormat)
# Images in each dataset's official test set: test accuracy moves in steps of 1 / this, which the
# statistics need (differences are rounded to it before ranking). cnnlab.data.catalog checks it.
TEST_IMAGES: dict[str, int] = {"mnist": 10_000, "fashion_mnist": 10_000}


# --- field checks -----------------------------------------------------------------------
# Each raises SpecError in one sentence shape: expected, given, what to do.


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SpecError(
            name,
            f"The value for `{name}` must be one of {list(allowed)}, but {value!r} was passed."
            f"{did_you_mean(value, allowed)}",
        )


def check_int(name: str, value: object, *, minimum: int, maximum: int | None = None) -> None:
    # bool is a subclass of int; True as a filter count is a mistake, not a 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise SpecError(
            name, f"The value for `{name}` must be an integer, but {value!r} was passed."
        )
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise SpecError(name, f"The value for `{name}` must be {bound}, but {value!r} was passed.")


def check_float(
    name: str,
    value: object,
    *,
    low: float,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise SpecError(
            name, f"The value for `{name}` must be a finite number, but {value!r} was passed."
        )
    too_low = value < low if low_inclusive else value <= low
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        upper = "∞" if high is None else f"{high:g}"
        raise SpecError(
            name,
            f"The value for `{name}` must lie in {left}{low:g}, {upper}{right}, "
            f"but {value!r} was passed.",
        )


def _as_tuple(name: str, value: object) -> tuple[object, ...]:
    if isinstance(value, list):
        return tuple(value)
    if not isinstance(value, tuple):
        raise SpecError(name, f"The value for `{name}` must be a tuple, but {value!r} was passed.")
    return value


# --- architecture -----------------------------------------------------------------------


# Fields added after studies already existed: at their default they are left out of a sweep's
# definition hash (`definition_params`), so adding them did not orphan any finished study.
_HASH_WHEN_SET = "hash_when_set"


@dataclass(frozen=True, kw_only=True)
class ConvBlock:
    """`convs` convolutions of `filters` filters, `kernel_size`² each, then one downsampling.

    `dilation` spaces each kernel's taps `dilation` pixels apart: a 3×3 kernel at dilation 4
    sees a 9×9 window with the parameters and multiply-adds of a 3×3 one (the receptive-field
    control of `experiments/receptive_field.py`)."""

    filters: int
    kernel_size: int = 3
    convs: int = 1
    dilation: int = field(default=1, metadata={_HASH_WHEN_SET: True})

    def __post_init__(self) -> None:
        self.validate("ConvBlock")

    def validate(self, prefix: str) -> None:
        check_int(f"{prefix}.filters", self.filters, minimum=1, maximum=4096)
        check_int(f"{prefix}.kernel_size", self.kernel_size, minimum=1, maximum=31)
        check_int(f"{prefix}.convs", self.convs, minimum=1, maximum=8)
        check_int(f"{prefix}.dilation", self.dilation, minimum=1, maximum=16)


@dataclass(frozen=True, kw_only=True)
class ArchSpec:
    """A plain CNN: conv blocks (each followed by the chosen downsampling), then a dense head.

    `pooling` chooses what follows each block: `max` or `avg` pooling of `pool_size`, `none`
    (no downsampling), or `strided` (a `pool_size`×`pool_size` convolution with stride
    `pool_size` in the pooling layer's place, so the geometry matches `max`/`avg`).
    `head` is `flatten` (the seeds' choice) or `gap` (global average pooling, which keeps the
    dense head's size independent of the feature-map size). `dropout` follows every hidden
    dense layer.
    """

    blocks: tuple[ConvBlock, ...]
    input_shape: tuple[int, int, int] = (28, 28, 1)
    padding: Padding = "valid"
    pooling: Pooling = "max"
    pool_size: int = 2
    dense_units: tuple[int, ...] = (128,)
    dropout: float = 0.0
    head: Head = "flatten"
    num_classes: int = 10

    def __post_init__(self) -> None:
        # Accept lists from hand-written code or JSON, but store tuples so specs stay hashable.
        object.__setattr__(self, "blocks", _as_tuple("arch.blocks", self.blocks))
        object.__setattr__(self, "dense_units", _as_tuple("arch.dense_units", self.dense_units))
        object.__setattr__(self, "input_shape", _as_tuple("arch.input_shape", self.input_shape))
        if not self.blocks:
            raise SpecError("arch.blocks", "`arch.blocks` must hold at least one ConvBlock.")
        for i, block in enumerate(self.blocks):
            if not isinstance(block, ConvBlock):
                raise SpecError(
                    f"arch.blocks.{i}",
                    f"`arch.blocks.{i}` must be a ConvBlock(filters=..., kernel_size=..., "
                    f"convs=...), but {block!r} was passed.",
                )
            block.validate(f"arch.blocks.{i}")
        if len(self.input_shape) != 3:
            raise SpecError(
                "arch.input_shape",
                "`arch.input_shape` must be (height, width, channels), "
                f"but {self.input_shape!r} was passed.",
            )
        for i, size in enumerate(self.input_shape):
            check_int(f"arch.input_shape.{i}", size, minimum=1)
        check_choice("arch.padding", self.padding, PADDINGS)
        check_choice("arch.pooling", self.pooling, POOLINGS)
        check_int("arch.pool_size", self.pool_size, minimum=2, maximum=8)
        for i, units in enumerate(self.dense_units):
            check_int(f"arch.dense_units.{i}", units, minimum=1, maximum=65536)
        check_float("arch.dropout", self.dropout, low=0.0, high=1.0, high_inclusive=False)
        check_choice("arch.head", self.head, HEADS)
        check_int("arch.num_classes", self.num_classes, minimum=2)
        plan_layers(self)  # raises SpecError naming the layer where the geometry does not fit


# --- training and data ------------------------------------------------------------------


MAX_AUGMENT_SHIFT = 4  # pixels; MNIST digits sit in a 20×20 box with a 4-pixel empty margin
MAX_AUGMENT_ROTATION = 20.0  # degrees; the seed asks for small rotations: a tilted 1 becomes a 7


@dataclass(frozen=True, kw_only=True)
class Augmentation:
    """Training-time geometric augmentation, drawn per image and per epoch (off by default).

    Each training image is rotated about its centre by an angle drawn uniformly from
    [-`rotation`, `rotation`] degrees, then shifted by whole pixels drawn uniformly from
    [-`shift`, `shift`] in each direction; uncovered pixels are 0 (nothing wraps). This is
    the geometry of the translation probe's shifted and rotated test images. Flips are not
    offered at all: a mirrored digit is another symbol (or none), not the same one moved.
    Validation and test images are never augmented.
    """

    shift: int = 0
    rotation: float = 0.0

    def __post_init__(self) -> None:
        self.validate("train.augmentation")
        # 10 and 10.0 are the same rotation; one spelling keeps the definition hash stable.
        object.__setattr__(self, "rotation", float(self.rotation))

    def validate(self, prefix: str) -> None:
        shift, rotation = f"{prefix}.shift", f"{prefix}.rotation"
        if not isinstance(self.shift, int) or isinstance(self.shift, bool):
            raise SpecError(
                shift,
                f"The value for `{shift}` must be a whole number of pixels, but "
                f"{self.shift!r} was passed.",
            )
        check_float(rotation, self.rotation, low=-math.inf)  # a finite number of degrees
        for name, value, bound, unit in (
            (shift, self.shift, MAX_AUGMENT_SHIFT, "pixels"),
            (rotation, self.rotation, MAX_AUGMENT_ROTATION, "degrees"),
        ):
            expected = f"The value for `{name}` must be between 0 and {bound:g} {unit}"
            if value < 0:
                raise SpecError(
                    name,
                    f"{expected}, but {value!r} was passed. It is the largest move in either "
                    f"direction (moves are drawn from -{name.rsplit('.')[-1]} to "
                    f"+{name.rsplit('.')[-1]}), so it is never negative; use 0 to switch it off.",
                )
            if value > bound:
                raise SpecError(
                    name,
                    f"{expected}, but {value!r} was passed. Larger moves push strokes of a "
                    "28×28 digit out of the frame or turn it into another symbol; use at most "
                    f"{bound:g}.",
                )

    @property
    def active(self) -> bool:
        return self.shift > 0 or self.rotation > 0


@dataclass(frozen=True, kw_only=True)
class TrainSpec:
    """How one model is trained. Defaults are the seeds': Adam at 1e-3, batch 32, 5 epochs,
    no augmentation."""

    epochs: int = 5
    batch_size: int = 32
    optimizer: Optimizer = "adam"
    learning_rate: float = 1e-3
    precision: Precision = "float32"
    augmentation: Augmentation = field(
        default_factory=Augmentation, metadata={_HASH_WHEN_SET: True}
    )

    def __post_init__(self) -> None:
        check_int("train.epochs", self.epochs, minimum=1, maximum=10_000)
        check_int("train.batch_size", self.batch_size, minimum=1, maximum=65_536)
        check_choice("train.optimizer", self.optimizer, OPTIMIZERS)
        # An absurd learning rate is allowed on purpose: divergence is a result to report.
        check_float("train.learning_rate", self.learning_rate, low=0.0, low_inclusive=False)
        check_choice("train.precision", self.precision, PRECISIONS)
        if not isinstance(self.augmentation, Augmentation):
            raise SpecError(
                "train.augmentation",
                "`train.augmentation` must be an Augmentation(shift=..., rotation=...), but "
                f"{self.augmentation!r} was passed.",
            )


# Fields that say where something is, not what it is (metadata LOCATION): recorded (MLflow
# params, results), but left out of a sweep's definition hash, so the same data at another
# path (another host's checkout, a moved folder) is the same study. The data's content
# checksums guard it instead. A HIDDEN field (a Network's function object) is neither.


def _infer_format(path: str) -> str:
    """A dataset's format from its path alone (no file is read here: the standard library
    only, and the path may not exist on the machine that reads the sweep file)."""
    name = path.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
    if name.lower().endswith(".npz"):
        return "npz"
    if name == "cifar-10-batches-py":
        return "cifar10"
    return "image_folder"


@dataclass(frozen=True, kw_only=True)
class OwnData:
    """A dataset you bring, named in the sweep file and verified when it is loaded.

    `path` is one of (a relative path is taken from the folder the command runs in):
    - an `.npz` with `x_train`, `y_train`, `x_test`, `y_test` (N×H×W or N×H×W×C images with 1
      or 3 channels; integer labels 0…classes-1);
    - an image folder with `train/` and `test/`, each holding one sub-folder per class (the
      sub-folder's name is the class; classes are numbered in sorted order);
    - Keras' CIFAR-10 cache, a folder named `cifar-10-batches-py` (what
      `keras.datasets.cifar10.load_data()` downloads to `~/.keras/datasets/`).
    `format` is inferred from the path (`.npz`, `cifar-10-batches-py`, else an image folder)
    unless given. uint8 images are scaled by 1/255; float images are used as given.
    `name` names the data in study names, reports and MLflow; `test_images`, when given, is
    checked against the file and lets `cnnlab list` and the statistics know the test set's size
    (its accuracy moves in steps of 1/test_images) before the data is loaded.
    """

    name: str
    path: str = field(metadata={LOCATION: True})  # a str or os.PathLike when given
    format: DataFormat | None = None
    test_images: int | None = None

    def __post_init__(self) -> None:
        if (
            not isinstance(self.name, str)
            or not self.name
            or not all(ch.isalnum() or ch in "_-" for ch in self.name)
        ):
            raise SpecError(
                "data.dataset.name",
                "`data.dataset.name` names your data in study names and reports: letters, "
                f"digits, _ or -, but {self.name!r} was passed.",
            )
        if self.name in DATASETS:
            raise SpecError(
                "data.dataset.name",
                f"`data.dataset.name` {self.name!r} is a dataset cnnlab ships; write "
                f"DataSpec(dataset={self.name!r}) for it, or give your data another name.",
            )
        if isinstance(self.path, os.PathLike):  # a pathlib.Path is a path too: kept as text
            object.__setattr__(self, "path", os.fspath(self.path))
        if not isinstance(self.path, str) or not self.path.strip():
            raise SpecError(
                "data.dataset.path",
                "`data.dataset.path` must name an .npz file, an image folder or a "
                f"cifar-10-batches-py folder, but {self.path!r} was passed.",
            )
        if self.format is None:
            object.__setattr__(self, "format", _infer_format(self.path))
        check_choice("data.dataset.format", self.format, DATA_FORMATS)
        if self.test_images is not None:
            check_int("data.dataset.test_images", self.test_images, minimum=1)


@dataclass(frozen=True, kw_only=True)
class DataSpec:
    """Which dataset, how much of its training set is held out for validation, and how much is used.

    The validation images are drawn (seeded) from the official training set; the test set is
    never touched. `train_subset`, when given, keeps that many of the remaining training images.
    """

    dataset: Dataset | OwnData = "mnist"
    validation_size: int = 5_000
    train_subset: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, OwnData):
            check_choice("data.dataset", self.dataset, DATASETS)
        check_int("data.validation_size", self.validation_size, minimum=1)
        if self.train_subset is not None:
            check_int("data.train_subset", self.train_subset, minimum=1)

    @property
    def name(self) -> str:
        """The dataset's name: `mnist`, `fashion_mnist`, or the name you gave your data."""
        return self.dataset.name if isinstance(self.dataset, OwnData) else self.dataset

    @property
    def test_images(self) -> int | None:
        """Images in the test set, where known before loading (None: your data, undeclared)."""
        if isinstance(self.dataset, OwnData):
            return self.dataset.test_images
        return TEST_IMAGES[self.dataset]


@dataclass(frozen=True, kw_only=True)
class TrialSpec:
    """Everything that defines one training run except its seed."""

    arch: ArchSpec | Network  # cnnlab's CNN family, or a network you bring
    train: TrainSpec = field(default_factory=TrainSpec)
    data: DataSpec = field(default_factory=DataSpec)

    def __post_init__(self) -> None:
        kinds: tuple[tuple[str, tuple[type, ...], str], ...] = (
            ("arch", (ArchSpec, Network), "ArchSpec or a Network(build=..., hp=...)"),
            ("train", (TrainSpec,), "TrainSpec"),
            ("data", (DataSpec,), "DataSpec"),
        )
        for name, kind, words in kinds:
            value = getattr(self, name)
            if not isinstance(value, kind):
                raise SpecError(
                    name, f"`{name}` must be a {words}, but {type(value).__name__} was passed."
                )


def flat_params(spec: object, prefix: str = "") -> dict[str, object]:
    """Every leaf field of a spec under its dotted name (`arch.blocks.0.filters`, `train.epochs`).

    Dotted names are the one name of a parameter everywhere: spec field, Optuna param,
    MLflow param and results column.
    """
    return _leaves(spec, prefix, skip_unset=False)


def content_params(spec: object) -> dict[str, object]:
    """`flat_params` less the fields that say where something is (`LOCATION`: your data's path,
    your function's file): what decides a training's bits, wherever the files are."""
    return _leaves(spec, "", skip_unset=False, skip_location=True)


def definition_params(spec: object) -> dict[str, object]:
    """`flat_params`, less the fields added later that still hold their default.

    This is what a sweep's definition hash is made of. A field marked `hash_when_set` (such as
    `train.augmentation`) counts only once it is set, so a spec that does not use it hashes
    exactly as it did before the field existed, and no finished study is refused on resume.
    """
    return _leaves(spec, "", skip_unset=True, skip_location=True)


def is_unset_addition(spec_field: Field[Any], value: object) -> bool:
    """A field added after studies existed (`hash_when_set`) that still holds its default."""
    return bool(spec_field.metadata.get(_HASH_WHEN_SET)) and value == _default(spec_field)


def _leaves(
    spec: object, prefix: str, *, skip_unset: bool, skip_location: bool = False
) -> dict[str, object]:
    out: dict[str, object] = {}
    skips = {"skip_unset": skip_unset, "skip_location": skip_location}
    if isinstance(spec, HyperParams):  # named: `arch.hp.pooling`
        for name, value in spec.items:
            out[f"{prefix}{name}"] = value
    elif is_dataclass(spec) and not isinstance(spec, type):
        for f in fields(spec):
            value = getattr(spec, f.name)
            if skip_unset and is_unset_addition(f, value):
                continue
            if f.metadata.get(HIDDEN) or (skip_location and f.metadata.get(LOCATION)):
                continue
            out.update(_leaves(value, f"{prefix}{f.name}.", **skips))
    elif isinstance(spec, tuple):
        for i, item in enumerate(spec):
            out.update(_leaves(item, f"{prefix}{i}.", **skips))
    else:
        out[prefix.rstrip(".")] = spec
    return out


def _default(f: Field[object]) -> object:
    if f.default_factory is not MISSING:
        return f.default_factory()
    return f.default
