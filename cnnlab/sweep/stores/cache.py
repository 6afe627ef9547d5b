"""The cell cache: a cell trained before, bit for bit, in any study of the same store.

Every trial records its cell's fingerprint (`cnnlab.sweep.fingerprint`) when it begins. A
pending cell whose fingerprint equals a finished trial's is that trial again (training is
deterministic), so the run claims it like any cell and completes it from the source's stored
result instead of training it (`TrialBook.reuse`). The copy names its origin, `<study>/<trial>`
(`Key.REUSED_FROM`): a copy of a copy points to the original, so reports can count each
training once, and reused cells are never new confirmations.

The index is read from the storage itself (every study's finished trials), so it needs no
table of its own and works on SQLite, PostgreSQL and the journal alike; it is read once per
look, not per cell (a cell another study finishes meanwhile is trained, not lost).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from optuna.storages import BaseStorage
from optuna.trial import TrialState

from cnnlab.spec.design import Cell
from cnnlab.sweep.fingerprint import TrainingEnvironment, cell_fingerprint
from cnnlab.sweep.stores.keys import Key


@dataclass(frozen=True)
class CachedCell:
    """A finished training that a pending cell may take over."""

    origin: str  # "<study>/<trial number>" of the training that produced it
    result: dict[str, Any]  # its `TrainingResult.to_dict()`, as stored
    mlflow_run_id: str | None  # the original's MLflow run, for a link


def origin_name(study_name: str, trial_number: int) -> str:
    return f"{study_name}/{trial_number}"


class CellCache:
    """Fingerprint -> finished training, over every study of one storage."""

    def __init__(
        self, storage: BaseStorage, environment: TrainingEnvironment, *, enabled: bool = True
    ) -> None:
        self.storage, self.environment, self.enabled = storage, environment, enabled
        self._index: dict[str, CachedCell] = {}

    def fingerprint(self, cell: Cell) -> str:
        return cell_fingerprint(cell, self.environment)

    def refresh(self) -> None:
        """Read every study's finished trials again (originals before copies)."""
        if not self.enabled:
            return
        index: dict[str, CachedCell] = {}
        copies: dict[str, CachedCell] = {}
        for study in self.storage.get_all_studies():
            trials = self.storage.get_all_trials(
                study._study_id, deepcopy=False, states=(TrialState.COMPLETE,)
            )
            for trial in trials:
                attrs = trial.user_attrs
                fingerprint, result = attrs.get(Key.FINGERPRINT), attrs.get(Key.RESULT)
                if not fingerprint or not result:
                    continue
                reused_from = attrs.get(Key.REUSED_FROM)
                if reused_from:
                    copies.setdefault(
                        fingerprint,
                        CachedCell(str(reused_from), result, attrs.get(Key.REUSED_RUN)),
                    )
                elif fingerprint not in index:
                    origin = origin_name(study.study_name, trial.number)
                    index[fingerprint] = CachedCell(origin, result, attrs.get(Key.MLFLOW_RUN_ID))
        self._index = {**copies, **index}

    def find(self, cell: Cell) -> CachedCell | None:
        """The finished training this cell would repeat, or None."""
        if not self.enabled:
            return None
        return self._index.get(self.fingerprint(cell))

    def origin_study(self, cell: Cell) -> str:
        """The study of the training a held cell comes from."""
        found = self.find(cell)
        return "" if found is None else found.origin.rsplit("/", 1)[0]

    def hits(self, cells: list[Cell]) -> list[Cell]:
        """The cells of `cells` the cache holds."""
        return [cell for cell in cells if self.find(cell) is not None]
