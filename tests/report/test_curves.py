"""One trial's learning curve (cnnlab/report/curves.py), drawn from its epoch records."""

from __future__ import annotations

from pathlib import Path

from cnnlab.report.curves import learning_curve_png


def test_a_learning_curve_is_a_png_of_every_epoch(tmp_path: Path) -> None:
    history = [
        {
            "epoch": epoch,
            "loss": 1 / epoch,
            "val_loss": 1.1 / epoch,
            "test_loss": 1.2 / epoch,
            "accuracy": 0.9 + epoch / 100,
            "val_accuracy": 0.89 + epoch / 100,
            "test_accuracy": 0.88 + epoch / 100,
        }
        for epoch in (1, 2, 3)
    ]
    path = learning_curve_png(history, tmp_path / "curve.png", "t/max/seed=00")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
