"""Training one model on one seed, with a per-epoch history: the only place that seeds Keras.

`train_and_evaluate` clears the Keras session, seeds Python, NumPy and TensorFlow, builds the
model with per-layer seeded initial weights, and trains epoch by epoch on a data order taken
from `cnnlab.data.epoch_order` (so every arm of a seed sees the images in the same order).
After each epoch it evaluates on the validation and the test set. With the same seed, machine
and thread settings, the history is bit-identical from run to run.

With `train.augmentation` set, each epoch's training images are rotated and shifted per image
(`cnnlab.training.augment`) by moves drawn from the seed's own stream, so the augmented
batches are as reproducible, and as paired across arms, as the data order.
Validation and test images are never augmented.

A diverged loss stops training within `STEPS_PER_EXECUTION` batches and raises
`TrainingFailed` with reason `nan_loss`: a diverged run is a failure with a reason, never a
result. "Diverged" means NaN, infinite, or above `DIVERGED_LOSS`. The ceiling is needed
because Keras computes the cross-entropy of a softmax output from its logits: when the weights
blow up (Adam at lr 1e4 does this), the loss reaches 1e18 and the accuracy falls to chance
without ever becoming NaN. No healthy run comes near the ceiling (chance level is ln 10 ≈ 2.3).
"""

from __future__ import annotations

import hashlib
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from cnnlab.data import LoadedDataset, Splits, data_order_hash, epoch_order
from cnnlab.errors import TrainingFailed
from cnnlab.spec.geometry import count_params, forward_flops
from cnnlab.spec.network import Network
from cnnlab.spec.specs import TrainSpec, TrialSpec
from cnnlab.training.augment import augmented
from cnnlab.training.inputs import TrainingImages, as_inputs
from cnnlab.training.model import build_model
from cnnlab.training.network import Pairing, build_paired, network_cost
from cnnlab.training.result import EpochRecord, TrainingResult, pack_correct
from cnnlab.training.reuse import CompiledModels
from cnnlab.training.runtime import seed_everything, thread_settings

_EVAL_BATCH = 1024  # evaluation has no gradient, so a large batch is just faster
# Training steps run per call from Python into TensorFlow. One step of `small` at batch 128
# takes ~20 ms on one core, and the per-call overhead (callbacks, the Python loop, the
# iterator) is a measurable share of it: with one step per call an epoch took ×1.38 and ×1.64
# as long in the throughput benchmark's single-thread pairs (benchmarks/README.md, row (e)),
# and the weights are bit-identical (tests/training/test_inputs.py). Callbacks then see every 16th
# batch, so divergence is caught within 16 batches.
STEPS_PER_EXECUTION = 16
DIVERGED_LOSS = 1e6  # a loss above this means the weights blew up (see the module docstring)


def is_diverged(loss: float) -> bool:
    """True for a NaN, infinite or exploded loss."""
    return not math.isfinite(loss) or loss > DIVERGED_LOSS


ProgressFn = Callable[[str], None]


class _NanGuard(keras.callbacks.Callback):  # type: ignore[misc]
    """Stops training once the epoch's running loss has diverged, remembering where.

    Keras calls it after every `STEPS_PER_EXECUTION` batches, with the index of the last one.
    `async_safe` lets Keras run this check on a helper thread instead of blocking every step
    until the loss reaches Python; training then stops a call or two after the bad one, and
    `bad_batch` still names the first call's last batch.
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


def _compile(model: keras.Model, train: TrainSpec) -> keras.Model:
    model.compile(
        optimizer=_optimizer(train),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model


def compiled_model(
    spec: TrialSpec,
    seed: int,
    models: CompiledModels | None = None,
    *,
    pair_with: Network | None = None,
) -> keras.Model:
    """Seed everything, build `spec`'s model with seeded initial weights and compile it with
    the spec's optimizer: the one way a model is made ready to train (sweeps, dry runs, CLI).

    With `models`, a compiled model of the same network kept from an earlier trial is reset
    to this seed's initial state instead (`cnnlab.training.reuse`: same bits, no new trace).
    A network you bring is built by its function and paired with `pair_with`'s initial
    weights (`cnnlab.training.network`).
    """
    model, _ = _ready(spec, seed, models, pair_with)
    return model


def _ready(
    spec: TrialSpec, seed: int, models: CompiledModels | None, pair_with: Network | None
) -> tuple[keras.Model, Pairing | None]:
    pairing = None
    if isinstance(spec.arch, Network):
        fresh, pairing = build_paired(
            spec.arch, pair_with, seed, spec.train.precision, seed_everything
        )
    else:
        seed_everything(seed)
        fresh = build_model(spec.arch, precision=spec.train.precision, seed=seed)
    if models is None:
        return _compile(fresh, spec.train), pairing
    return models.ready(spec, fresh, lambda model: _compile(model, spec.train)), pairing


def train_one_batch(spec: TrialSpec, dataset: LoadedDataset, seed: int = 0) -> tuple[float, int]:
    """Build and compile `spec`'s model as a trial would, train it on one batch; the loss and
    the model's parameter count.

    The dry run's check that every arm builds, compiles with its optimizer and trains.
    """
    model = compiled_model(spec, seed)
    batch = spec.train.batch_size
    x, y = as_inputs(dataset.x_train[:batch]), dataset.y_train[:batch].astype(np.int32)
    loss = model.train_on_batch(x, y)
    return float(loss[0] if isinstance(loss, list | tuple) else loss), int(model.count_params())


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


def _correct(model: keras.Model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which examples the model classifies correctly (one extra inference pass, ~1 % of a trial)."""
    scores = model.predict(x, batch_size=_EVAL_BATCH, verbose=0)
    return np.asarray(np.argmax(scores, axis=1) == y)


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
    models: CompiledModels | None = None,
    pair_with: Network | None = None,
) -> TrainingResult:
    """Train `spec` on `data` with `seed`; evaluate on validation and test data after every epoch.

    `progress` receives short status strings for an interactive display; `on_epoch` receives
    each finished epoch (for logging or pruning). `models` lets a process that trains many
    trials reuse compiled models (`cnnlab.training.reuse`); the result's model is then valid
    until the next trial. Raises `TrainingFailed` if the loss diverges.
    """
    started = time.perf_counter()
    model, pairing = _ready(spec, seed, models, pair_with)
    init_hash = weights_hash(model)
    x_val, x_test = as_inputs(data.x_val), as_inputs(data.x_test)
    augmentation = spec.train.augmentation
    # Without augmentation, batches are scaled as they are drawn from one uint8 tensor made
    # once per trial (cnnlab.training.inputs); augmented images are made per epoch instead.
    images = None if augmentation.active else TrainingImages(data.x_train, data.y_train)
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
        tick = time.perf_counter()  # drawing and augmenting are part of a training epoch
        if images is not None:  # the order above is the shuffle, identical across arms
            fit = model.fit(
                images.epoch(order, batch_size),
                epochs=1,
                shuffle=False,
                verbose=0,
                callbacks=callbacks,
            )
        else:
            x_epoch = augmented(as_inputs(data.x_train[order]), augmentation, seed, epoch - 1)
            fit = model.fit(
                x_epoch,
                y_train[order],
                batch_size=batch_size,
                epochs=1,
                shuffle=False,
                verbose=0,
                callbacks=callbacks,
            )
        seconds = time.perf_counter() - tick
        if guard.bad_batch is not None:
            raise TrainingFailed(
                "nan_loss",
                f"The training loss became {guard.bad_loss:g} by batch {guard.bad_batch + 1} of "
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

    correct = _correct(model, x_test, data.y_test)
    if isinstance(spec.arch, Network):
        cost = network_cost(model)
        params, flops = cost.params, cost.flops
    else:
        params, flops = count_params(spec.arch), forward_flops(spec.arch)
    return TrainingResult(
        seed=seed,
        history=tuple(history),
        test_loss=history[-1].test_loss,
        test_accuracy=history[-1].test_accuracy,
        params=params,
        flops=flops,
        split_hash=data.split_hash,
        data_order_hash=data_order_hash(seed, epochs, len(y_train)),
        init_hash=init_hash,
        threads=thread_settings(),
        wall_seconds=time.perf_counter() - started,
        test_correct=pack_correct(correct),
        init_paired=None if pairing is None else pairing.share,
        model=model,
    )


def stderr_progress(text: str) -> None:
    """Write a progress string to stderr (used by the CLI when stderr is a terminal)."""
    sys.stderr.write(text)
    sys.stderr.flush()
