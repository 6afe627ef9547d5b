"""The typed records a training returns: one per epoch, and one per trained model.

`TrainingResult` is the one record of a trial's result everywhere: returned by
`train_and_evaluate`, written by a worker process as result.json, stored in the Optuna trial
(`to_dict`), and read back (`from_dict`) for the results table. Records stored by earlier
versions (with a per-epoch `seconds_per_epoch` list and a `seconds_per_epoch_mean`) read the
same way: both were derived from the history, and are derived from it again.
"""

from __future__ import annotations

import base64
import statistics
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np


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


def pack_correct(correct: np.ndarray) -> str:
    """A boolean vector as "<N>:<base64 of its packed bits>" (cnnlab.spec.metrics.CORRECTNESS)."""
    bits = np.asarray(correct, dtype=bool)
    return f"{len(bits)}:{base64.b64encode(np.packbits(bits).tobytes()).decode('ascii')}"


@dataclass(frozen=True, kw_only=True)
class TrainingResult:
    """The outcome of one training run; `model` is the trained Keras model (not serialised).

    A result read back from JSON has no model (`model` is None).
    """

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
    probes: dict[str, float] = field(default_factory=dict)  # filled by cnnlab.training.cell
    # Per-example correctness of the final model on the test set (format: cnnlab.spec.metrics,
    # CORRECTNESS); empty in results recorded before it existed.
    test_correct: str = ""
    # A network you bring: the share of its parameters whose initial values were taken from
    # the reference arm's (cnnlab.training.network); None for cnnlab's own networks, which
    # are paired by construction.
    init_paired: float | None = None
    model: Any = field(repr=False, compare=False, default=None)

    @property
    def seconds_per_epoch(self) -> float:
        """Mean training seconds per epoch (evaluation excluded): the results.csv column."""
        return statistics.fmean(record.seconds for record in self.history)

    @property
    def final(self) -> EpochRecord:
        return self.history[-1]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of everything but the model, plus the derived `seconds_per_epoch`."""
        # Field by field: asdict() would deep-copy the Keras model only to drop it.
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        if self.init_paired is None:  # cnnlab's own networks: the record as it always was
            del out["init_paired"]
        out["history"] = [asdict(record) for record in self.history]
        out["threads"], out["probes"] = dict(self.threads), dict(self.probes)
        out["seconds_per_epoch"] = self.seconds_per_epoch
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingResult:
        """The record `to_dict` wrote (derived keys, and keys of older versions, are ignored)."""
        known = {f.name for f in fields(cls)} - {"model", "history"}
        values = {key: value for key, value in data.items() if key in known}
        history = tuple(EpochRecord(**record) for record in data["history"])
        return cls(history=history, **values)
