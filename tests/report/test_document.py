"""Blocks of a report that need no run: a pilot's budget block."""

from __future__ import annotations

import pandas as pd

from cnnlab.report.document import _pilot_blocks
from cnnlab.report.render import to_markdown
from cnnlab.stats.convergence import converged_epoch


def _epochs(curves: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"arm": arm, "seed": 100, "epoch": epoch, "val_accuracy": value}
            for arm, curve in curves.items()
            for epoch, value in enumerate(curve, start=1)
        ]
    )


def test_a_pilot_states_the_budget_its_rule_picks_with_the_curves() -> None:
    found = converged_epoch(_epochs({"a": [0.97, 0.98, 0.985, 0.9852, 0.9853], "b": [0.96] * 5}))
    text = to_markdown(_pilot_blocks(found))
    assert "## Budget (the pilot rule)" in text
    assert "Converged budget: 5 epochs" in text and "a +0.030 pp" in text
    assert "| 3 | 98.50 % | 96.00 % |" in text
    assert "no evidence for any claim" in text


def test_a_pilot_that_never_converged_says_to_train_longer() -> None:
    found = converged_epoch(_epochs({"a": [0.90, 0.92, 0.94, 0.96]}))
    text = to_markdown(_pilot_blocks(found))
    assert "Not converged within the 4 epochs trained" in text and "Train the pilot longer" in text
