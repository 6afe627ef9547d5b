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
from cnnlab.spec.network import Network
from cnnlab.training.result import TrainingResult


@dataclass(frozen=True)
class TrialFiles:
    result: TrainingResult  # without its model once read back
    summary: Path
    weights: Path


def write_trial_files(result: TrainingResult, cell: Cell, folder: Path) -> TrialFiles:
    folder.mkdir(parents=True, exist_ok=True)
    summary = folder / "model_summary.txt"
    # Keras: only where the model was trained
    from cnnlab.training.model import summary_table
    from cnnlab.training.network import network_cost, network_summary

    arch = cell.spec.arch
    if isinstance(arch, Network):
        text = network_summary(arch, result.model, network_cost(result.model))
    else:
        text = summary_table(arch, result.model)
    summary.write_text(text)
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
