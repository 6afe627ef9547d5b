"""Compiled models kept for a process's later trials of the same network: `CompiledModels`.

Each compiled Keras model traces its own training, evaluation and prediction functions on
first use, and with TensorFlow 2.21 / Keras 3.15 a traced training function is never freed:
a worker that built a fresh model per trial grew by ~10 MiB per trial (+39 % over 50 trials,
benchmarks/README.md), the long-standing keras-team/keras#17458. Tracing also costs a second
or more per trial.

So a process keeps one compiled model per network (the arch, precision, optimizer and
learning rate: what the traced graph depends on) and, for each new trial, resets it to exactly
the state a freshly built model of that seed would have: every variable, including the
dropout layers' seed-generator state, is assigned from a fresh *uncompiled* build of the seed
(building leaks nothing; it is tracing that does), and the optimizer's variables are set back
to the values they had when it was built (zero moments, iteration 0, the learning rate).
Keras resets the metrics at the start of every `fit` and `evaluate`. Weights and histories
are bit-identical to training a fresh model (tests/training/test_reuse.py).

A returned model is valid until the next `ready` call for the same network: callers use it
(probes, saved weights) before they start the next trial, as `train_cell` does.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import keras

from cnnlab.spec.network import Network
from cnnlab.spec.specs import ArchSpec, TrialSpec

MOST_NETWORKS = 8  # a random-architecture sweep would otherwise keep one model per cell


def network_key(spec: TrialSpec) -> tuple[ArchSpec | Network, str, str, float]:
    """What a compiled model's traced functions depend on (ArchSpec is frozen, so hashable)."""
    train = spec.train
    return (spec.arch, train.precision, train.optimizer, train.learning_rate)


class _Kept:
    """One compiled model and its optimizer's state as built, before any step."""

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        model.optimizer.build(model.trainable_variables)  # what fit's first step would do
        self.optimizer_start = [v.numpy() for v in model.optimizer.variables]

    def reset_to(self, fresh: keras.Model) -> keras.Model:
        kept, new = self.model.variables, fresh.variables
        if [v.path for v in kept] != [v.path for v in new]:
            raise AssertionError("a kept model and a fresh build of its network differ")
        for variable, value in zip(kept, new, strict=True):
            variable.assign(value)
        for variable, value in zip(
            self.model.optimizer.variables, self.optimizer_start, strict=True
        ):
            variable.assign(value)
        return self.model


class CompiledModels:
    """At most `most` compiled models of this process, one per network, most recent kept."""

    def __init__(self, most: int = MOST_NETWORKS) -> None:
        self.most = most
        self._kept: OrderedDict[Any, _Kept] = OrderedDict()
        self.reused = 0  # trials that reused a kept model (for tests and benchmarks)

    def ready(
        self,
        spec: TrialSpec,
        fresh: keras.Model,
        compile_model: Callable[[keras.Model], keras.Model],
    ) -> keras.Model:
        """A compiled model of `spec`'s network in the state of `fresh`, an uncompiled model
        just built with the trial's seed: `fresh` itself, compiled, the first time."""
        key = network_key(spec)
        kept = self._kept.get(key)
        if kept is None:
            kept = _Kept(compile_model(fresh))
            self._kept[key] = kept
            if len(self._kept) > self.most:
                self._kept.popitem(last=False)
            return kept.model
        self._kept.move_to_end(key)
        self.reused += 1
        return kept.reset_to(fresh)

    def __len__(self) -> int:
        return len(self._kept)


@functools.cache
def process_models() -> CompiledModels:
    """This process's kept models: the sweep's trials share them, in a worker or in-process."""
    return CompiledModels()
