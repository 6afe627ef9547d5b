"""How a run's cells are produced, chosen once from the design: the one place in the run that
asks whether a sweep is a search.

- `EnumeratedCells` (ablation, factorial, randomized): the design's cells, queued on a study
  other processes may share and claimed from that queue one by one; a sequential plan hands
  them out look by look, and the run settles (waits for cells other processes hold) before
  it ends.
- `SampledCells` (search): Optuna's sampler picks each trial's levels (`ask`); trials are
  counted, not keyed, and nothing is waited for.

Both have the same four verbs, so the run never branches on the design again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import optuna
from optuna.trial import TrialState

from cnnlab.spec.design import Cell, Sweep
from cnnlab.sweep.stores.claiming import Claimer
from cnnlab.sweep.stores.objective import (
    Sampling,
    enumerated_sampling,
    register_distributions,
    search_sampling,
    suggest_cell,
)
from cnnlab.sweep.stores.opening import Remaining, done_and_live, finished_searches
from cnnlab.sweep.stores.studies import claim_trial


@dataclass
class EnumeratedCells:
    """The design's own cells, each an Optuna trial enqueued with its parameters."""

    sweep: Sweep
    sampling: Sampling = field(default_factory=enumerated_sampling)
    one_row_per_cell: bool = True  # results.csv keeps one finished trial per cell
    settles: bool = True  # wait for cells other processes hold; a plan's looks are judged
    reusable: bool = True  # a cell trained before in the store is copied (the cell cache)
    claimer: Claimer = field(default_factory=Claimer)  # this process's claims on the study

    def most_cells(self, design_cells: list[Cell]) -> int:
        """Every cell a run may train (a plan's every look), before the study is open."""
        return len(design_cells)

    def remaining(self, study: optuna.Study, cells: list[Cell]) -> Remaining:
        """Finished cells are skipped; cells a live process is running are left to it."""
        done, live = done_and_live(study)
        pending = [c for c in cells if c.key not in done and c.key not in live]
        running_elsewhere = len(live & {c.key for c in cells})
        already = len(cells) - len(pending) - running_elsewhere
        return Remaining(len(cells), already, pending, len(pending), running_elsewhere, cells)

    def next_trial(
        self, study: optuna.Study, remaining: Remaining, tried: set[str]
    ) -> tuple[optuna.Trial, Cell] | None:
        """Claim the next pending cell nobody else holds (see `Claimer`)."""
        by_key = {cell.key: cell for cell in remaining.cells}
        found = self.claimer.next_trial(study, remaining.pending, by_key, tried)
        if found is not None:
            register_distributions(found[0], self.sweep)
        return found

    def finished(self, study: optuna.Study, design_cells: list[Cell]) -> int:
        """The design's cells with a finished trial (the study may hold more: more --seeds)."""
        done, _ = done_and_live(study)
        return len(done & {c.key for c in design_cells})


@dataclass
class SampledCells:
    """A search: `sweep.n_trials` trials whose levels Optuna's sampler picks."""

    sweep: Sweep
    sampling: Sampling = field(default_factory=search_sampling)
    one_row_per_cell: bool = False  # two samples may pick one cell: every trial is a row
    settles: bool = False  # Optuna samples: nothing to wait for, no looks
    reusable: bool = False  # each sample is trained: a search measures, it does not confirm

    def most_cells(self, design_cells: list[Cell]) -> int:
        return self.sweep.n_trials

    def remaining(self, study: optuna.Study, cells: list[Cell]) -> Remaining:
        """How many trials the search still needs, counting every process's finished ones."""
        n_trials = self.sweep.n_trials
        count = max(0, n_trials - finished_searches(study))
        return Remaining(n_trials, n_trials - count, [], count, cells=cells)

    def next_trial(
        self, study: optuna.Study, remaining: Remaining, tried: set[str]
    ) -> tuple[optuna.Trial, Cell] | None:
        """A freshly sampled trial, or None once the search has its size. Other processes
        (workers on other hosts) sample on the same study: their trials, finished or running,
        count too."""
        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        if len(study.get_trials(deepcopy=False, states=states)) >= self.sweep.n_trials:
            return None
        trial = study.ask()
        claim_trial(trial)
        cell = suggest_cell(trial, self.sweep)
        register_distributions(trial, self.sweep)
        return trial, cell

    def finished(self, study: optuna.Study, design_cells: list[Cell]) -> int:
        return finished_searches(study)


CellSource = EnumeratedCells | SampledCells


def cell_source(sweep: Sweep) -> CellSource:
    """The design's way of producing cells: the one test of `design == "search"` in a run."""
    return SampledCells(sweep) if sweep.design == "search" else EnumeratedCells(sweep)
