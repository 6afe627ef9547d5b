"""The files a finished trial leaves: its result, model summary and final weights.

Written by whichever process trained the model (the sweep process itself, or a worker), into
a scratch folder that the trial's bookkeeping then logs to MLflow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab.design import Cell
from cnnlab.model import summary_table
from cnnlab.train import TrainingResult


@dataclass(frozen=True)
class TrialFiles:
    result: dict[str, Any]  # TrainingResult.to_dict()
    summary: Path
    weights: Path


def write_trial_files(result: TrainingResult, cell: Cell, folder: Path) -> TrialFiles:
    folder.mkdir(parents=True, exist_ok=True)
    summary = folder / "model_summary.txt"
    summary.write_text(summary_table(cell.spec.arch, result.model))
    weights = folder / "final.weights.h5"
    result.model.save_weights(weights)
    data = result.to_dict()
    (folder / "result.json").write_text(json.dumps(data))
    return TrialFiles(result=data, summary=summary, weights=weights)


def read_trial_files(folder: Path) -> TrialFiles:
    return TrialFiles(
        result=json.loads((folder / "result.json").read_text()),
        summary=folder / "model_summary.txt",
        weights=folder / "final.weights.h5",
    )
