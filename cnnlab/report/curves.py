"""The learning-curve figure of one trial (an MLflow artifact of its child run)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import seaborn as sns

from cnnlab.report.canvas import new_figure, save_png


def learning_curve_png(history: Sequence[dict[str, Any]], path: Path, title: str) -> Path:
    """Loss and accuracy per epoch (training, validation, test) as a PNG at `path`."""
    sns.set_theme(style="whitegrid", context="notebook")
    epochs = [row["epoch"] for row in history]
    figure, (loss_ax, acc_ax) = new_figure(1, 2, figsize=(9, 3.4))
    for key, label in (("loss", "train"), ("val_loss", "validation"), ("test_loss", "test")):
        loss_ax.plot(epochs, [row[key] for row in history], marker="o", label=label)
    for key, label in (
        ("accuracy", "train"),
        ("val_accuracy", "validation"),
        ("test_accuracy", "test"),
    ):
        acc_ax.plot(epochs, [100 * row[key] for row in history], marker="o", label=label)
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.set_xticks(epochs)
    acc_ax.legend(loc="lower right")
    figure.suptitle(title)
    return save_png(figure, path, dpi=100)
