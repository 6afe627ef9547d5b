"""The files a finished trial leaves: its result, model summary and final weights.

Written by whichever process trained the model (the sweep process itself, or a worker), into
a scratch folder that the trial's bookkeeping then logs to MLflow. result.json is
`TrainingResult.to_dict()`, read back as the same typed record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cnnlab.spec.design import Cell
from cnnlab.training.result import TrainingResult


@dataclass(frozen=True)
class TrialFiles:
    result: TrainingResult  # without its model once read back
    summary: Path
    weights: Path


def write_trial_files(result: TrainingResult, cell: Cell, folder: Path) -> TrialFiles:
    folder.mkdir(parents=True, exist_ok=True)
    summary = folder / "model_summary.txt"
    from cnnlab.training.model import summary_table  # Keras: only where the model was trained

    summary.write_text(summary_table(cell.spec.arch, result.model))
    weights = folder / "final.weights.h5"
    result.model.save_weights(weights)
    (folder / "result.json").write_text(json.dumps(result.to_dict()))
    return TrialFiles(result=result, summary=summary, weights=weights)


def read_trial_files(folder: Path) -> TrialFiles:
    result = TrainingResult.from_dict(json.loads((folder / "result.json").read_text()))
    return TrialFiles(
        result=result,
        summary=folder / "model_summary.txt",
        weights=folder / "final.weights.h5",
    )
