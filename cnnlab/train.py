"""Training one model on one seed, with a per-epoch history: the only place that seeds Keras.

`train_and_evaluate` clears the Keras session, seeds Python, NumPy and TensorFlow, builds the
model with per-layer seeded initial weights, and trains epoch by epoch on a data order taken
from `cnnlab.data.epoch_order` (so every arm of a seed sees the images in the same order).
After each epoch it evaluates on the validation and the test set. With the same seed, machine
and thread settings, the history is bit-identical from run to run.

With `train.augmentation` set, each epoch's training images are rotated and shifted per image
(`augment_images`) by moves drawn from the seed's own stream (`cnnlab.data.augmentation_draws`),
so the augmented batches are as reproducible, and as paired across arms, as the data order.
Validation and test images are never augmented.

A diverged loss stops training at that batch and raises `TrainingFailed` with reason
`nan_loss`: a diverged run is a failure with a reason, never a result. "Diverged" means NaN,
infinite, or above `DIVERGED_LOSS`. The ceiling is needed because Keras computes the
cross-entropy of a softmax output from its logits: when the weights blow up (Adam at lr 1e4
does this), the loss reaches 1e18 and the accuracy falls to chance without ever becoming NaN.
No healthy run comes near the ceiling (chance level is ln 10 ≈ 2.3).
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from cnnlab.data import Splits, augmentation_draws, data_order_hash, epoch_order
from cnnlab.errors import TrainingFailed
from cnnlab.geometry import count_params, forward_flops
from cnnlab.model import build_model
from cnnlab.space import Augmentation, TrainSpec, TrialSpec

_EVAL_BATCH = 1024  # evaluation has no gradient, so a large batch is just faster
_AUGMENT_CHUNK = 8192  # images per resampling call: TensorFlow's copies stay ~50 MB
DIVERGED_LOSS = 1e6  # a loss above this means the weights blew up (see the module docstring)


def is_diverged(loss: float) -> bool:
    """True for a NaN, infinite or exploded loss."""
    return not math.isfinite(loss) or loss > DIVERGED_LOSS


@dataclass(frozen=True, kw_only=True)
class EpochRecord:
    """Metrics after one epoch (1-based). `seconds` is training time; evaluation is separate."""

    epoch: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    test_loss: float
    test_accuracy: float
    seconds: float
    eval_seconds: float


@dataclass(frozen=True, kw_only=True)
class TrainingResult:
    """The outcome of one training run; `model` is the trained Keras model (not serialised)."""

    seed: int
    history: tuple[EpochRecord, ...]
    test_loss: float
    test_accuracy: float
    params: int
    flops: int
    split_hash: str
    data_order_hash: str
    init_hash: str  # fingerprint of the initial weights (equal across arms where shapes allow)
    threads: dict[str, int]
    wall_seconds: float
    probes: dict[str, float] = field(default_factory=dict)  # filled by cnnlab.objective
    model: Any = field(repr=False, compare=False, default=None)

    @property
    def seconds_per_epoch(self) -> tuple[float, ...]:
        return tuple(record.seconds for record in self.history)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of everything but the model."""
        # Field by field: asdict() would deep-copy the Keras model only to drop it.
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        out["history"] = [asdict(record) for record in self.history]
        out["threads"], out["probes"] = dict(self.threads), dict(self.probes)
        out["seconds_per_epoch"] = list(self.seconds_per_epoch)
        return out


ProgressFn = Callable[[str], None]


class _NanGuard(keras.callbacks.Callback):  # type: ignore[misc]
    """Stops training at the first batch whose loss has diverged, remembering where.

    `async_safe` lets Keras run this check on a helper thread instead of blocking every step
    until the loss reaches Python; training then stops within a batch or two of the bad one,
    and `bad_batch` still names the first one.
    """

    async_safe = True

    def __init__(self) -> None:
        super().__init__()
        self.bad_batch: int | None = None
        self.bad_loss: float | None = None

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        loss = float((logs or {}).get("loss", 0.0))
        if is_diverged(loss) and self.bad_batch is None:
            self.bad_batch, self.bad_loss = batch, loss
            self.model.stop_training = True


class _BatchProgress(keras.callbacks.Callback):  # type: ignore[misc]
    """A one-line, self-overwriting batch counter for interactive terminals."""

    async_safe = True  # display only: never worth blocking a training step for

    def __init__(self, write: ProgressFn, epoch: int, epochs: int, steps: int) -> None:
        super().__init__()
        self.write, self.epoch, self.epochs, self.steps = write, epoch, epochs, steps
        self.last = 0.0

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        now = time.monotonic()
        if now - self.last >= 0.5 or batch + 1 == self.steps:
            self.last = now
            self.write(f"\repoch {self.epoch}/{self.epochs}  batch {batch + 1}/{self.steps}")


def _optimizer(train: TrainSpec) -> keras.optimizers.Optimizer:
    if train.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=train.learning_rate)
    if train.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=train.learning_rate)
    return keras.optimizers.SGD(learning_rate=train.learning_rate)


def _as_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 N×H×W → float32 N×H×W×1 in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]


def augment_images(images: np.ndarray, shifts: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotate image i about its centre by `angles[i]` degrees, then move it `shifts[i]` pixels.

    `images` is N×H×W×C float; `shifts` is N×2 (rows, cols; positive = down, right). One
    bilinear resampling per image with zeros outside, in the geometry of
    `cnnlab.probes.rotate_images` (same centre, same sense of rotation) and
    `cnnlab.probes.shift_images` (a whole-pixel move is an exact, zero-filled copy). Unlike the
    probe it does not round to uint8: the model's inputs are floats anyway. One more difference
    only shows where strokes touch the image's edge (rare in MNIST): a point that falls just
    outside the image blends with the zeros beyond it here, where scipy's rotation sets it to 0.

    TensorFlow's projective-transform kernel does all images in one vectorised call; per-image
    scipy calls or a numpy gather cost 4-6× more, a large share of a `small` epoch.
    """
    n, height, width = images.shape[:3]
    if len(shifts) != n or len(angles) != n:
        raise ValueError(f"{n} images need {n} shifts and angles; got {len(shifts)}, {len(angles)}")
    cy, cx = (height - 1) / 2, (width - 1) / 2
    theta = np.deg2rad(np.asarray(angles, dtype=np.float64))
    cos, sin = np.cos(theta), np.sin(theta)
    # Output pixel (y, x) reads input pixel R(y - dy - cy, x - dx - cx) + (cy, cx), where R is
    # scipy.ndimage.rotate's output-to-input matrix [[cos, sin], [-sin, cos]] in (row, col).
    oy = -np.asarray(shifts[:, 0], dtype=np.float64) - cy
    ox = -np.asarray(shifts[:, 1], dtype=np.float64) - cx
    zeros = np.zeros(n)
    # The kernel's transform [a0 a1 a2 b0 b1 b2 c0 c1] maps output (x, y) to input
    # x' = a0·x + a1·y + a2 and y' = b0·x + b1·y + b2 (x is the column).
    transforms = np.stack(
        [cos, -sin, -sin * oy + cos * ox + cx, sin, cos, cos * oy + sin * ox + cy, zeros, zeros],
        axis=1,
    ).astype(np.float32)
    out = np.empty_like(images)
    for start in range(0, n, _AUGMENT_CHUNK):
        stop = start + _AUGMENT_CHUNK
        out[start:stop] = tf.raw_ops.ImageProjectiveTransformV3(
            images=images[start:stop],
            transforms=transforms[start:stop],
            output_shape=np.array([height, width], dtype=np.int32),
            fill_value=np.array(0, dtype=images.dtype),
            interpolation="BILINEAR",
            fill_mode="CONSTANT",
        ).numpy()
    return out


def _augmented(images: np.ndarray, augmentation: Augmentation, seed: int, epoch: int) -> np.ndarray:
    """The training images of `epoch` (0-based, already in that epoch's order), augmented."""
    if not augmentation.active:
        return images
    shifts, angles = augmentation_draws(
        seed,
        epoch,
        len(images),
        max_shift=augmentation.shift,
        max_rotation=augmentation.rotation,
    )
    return augment_images(images, shifts, angles)


def thread_settings() -> dict[str, int]:
    """TensorFlow's thread settings (0 = TensorFlow picks) and the visible cores."""
    return {
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        "cpu_count": os.cpu_count() or 0,
    }


def set_intra_op_threads(threads: int) -> None:
    """Limit TensorFlow's intra-op threads (call before TensorFlow runs its first op)."""
    tf.config.threading.set_intra_op_parallelism_threads(threads)


def seed_everything(seed: int) -> None:
    """Reset Keras and seed Python, NumPy and TensorFlow; make TensorFlow's ops deterministic."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def weights_hash(model: keras.Model) -> str:
    """A short fingerprint of a model's weights, layer by layer."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(weight.path.encode())
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()[:16]


def _evaluate(model: keras.Model, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    scores = model.evaluate(x, y, batch_size=_EVAL_BATCH, verbose=0, return_dict=True)
    return float(scores["loss"]), float(scores["accuracy"])


def _check_finite(epoch: int, **losses: float) -> None:
    for name, value in losses.items():
        if is_diverged(value):
            raise TrainingFailed(
                "nan_loss",
                f"The {name.replace('_', ' ')} became {value:g} after epoch {epoch}: training "
                "diverged. Lower `train.learning_rate` or check the inputs.",
                epoch=epoch,
            )


def train_and_evaluate(
    spec: TrialSpec,
    data: Splits,
    seed: int,
    *,
    progress: ProgressFn | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainingResult:
    """Train `spec` on `data` with `seed`; evaluate on validation and test data after every epoch.

    `progress` receives short status strings for an interactive display; `on_epoch` receives
    each finished epoch (for logging or pruning). Raises `TrainingFailed` if the loss diverges.
    """
    started = time.perf_counter()
    seed_everything(seed)
    model = build_model(spec.arch, precision=spec.train.precision, seed=seed)
    model.compile(
        optimizer=_optimizer(spec.train),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    init_hash = weights_hash(model)
    x_train, x_val, x_test = (_as_inputs(x) for x in (data.x_train, data.x_val, data.x_test))
    y_train = data.y_train.astype(np.int32)
    epochs, batch_size = spec.train.epochs, spec.train.batch_size
    steps = math.ceil(len(y_train) / batch_size)
    history: list[EpochRecord] = []

    for epoch in range(1, epochs + 1):
        order = epoch_order(seed, epoch - 1, len(y_train))
        guard = _NanGuard()
        callbacks: list[keras.callbacks.Callback] = [guard]
        if progress is not None:
            callbacks.append(_BatchProgress(progress, epoch, epochs, steps))
        x_epoch = x_train[order]
        tick = time.perf_counter()  # augmenting is part of the cost of a training epoch
        x_epoch = _augmented(x_epoch, spec.train.augmentation, seed, epoch - 1)
        fit = model.fit(
            x_epoch,
            y_train[order],
            batch_size=batch_size,
            epochs=1,
            shuffle=False,  # the order above is the shuffle, identical across arms
            verbose=0,
            callbacks=callbacks,
        )
        seconds = time.perf_counter() - tick
        if guard.bad_batch is not None:
            raise TrainingFailed(
                "nan_loss",
                f"The training loss became {guard.bad_loss:g} at batch {guard.bad_batch + 1} of "
                f"epoch {epoch} (NaN, infinite or above {DIVERGED_LOSS:g}): training diverged "
                f"at learning rate {spec.train.learning_rate:g}. Lower `train.learning_rate` "
                "or check the inputs.",
                epoch=epoch,
                batch=guard.bad_batch + 1,
            )
        tick = time.perf_counter()
        val_loss, val_accuracy = _evaluate(model, x_val, data.y_val)
        test_loss, test_accuracy = _evaluate(model, x_test, data.y_test)
        eval_seconds = time.perf_counter() - tick
        loss = float(fit.history["loss"][-1])
        _check_finite(epoch, training_loss=loss, validation_loss=val_loss, test_loss=test_loss)
        record = EpochRecord(
            epoch=epoch,
            loss=loss,
            accuracy=float(fit.history["accuracy"][-1]),
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            test_loss=test_loss,
            test_accuracy=test_accuracy,
            seconds=seconds,
            eval_seconds=eval_seconds,
        )
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)

    return TrainingResult(
        seed=seed,
        history=tuple(history),
        test_loss=history[-1].test_loss,
        test_accuracy=history[-1].test_accuracy,
        params=count_params(spec.arch),
        flops=forward_flops(spec.arch),
        split_hash=data.split_hash,
        data_order_hash=data_order_hash(seed, epochs, len(y_train)),
        init_hash=init_hash,
        threads=thread_settings(),
        wall_seconds=time.perf_counter() - started,
        model=model,
    )


def stderr_progress(text: str) -> None:
    """Write a progress string to stderr (used by the CLI when stderr is a terminal)."""
    sys.stderr.write(text)
    sys.stderr.flush()
