"""Eight processes claim one study's cells at once on a real PostgreSQL: every cell runs
exactly once, no trial is made for nothing, and it takes seconds (`benchmarks/claims.py`, with a
stub in place of training; before the queue, 8 processes over 80 cells made 278 wasted trials)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.end_to_end.servers import Postgres, running_postgres

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import claims

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with running_postgres() as server:
        yield server


def test_eight_processes_claim_every_cell_exactly_once_without_wasted_trials(
    postgres: Postgres,
) -> None:
    figures = claims.run(postgres.create_database("claims8"), processes=8, arms=4, seeds=55)
    assert figures.cells == 220
    assert figures.errors == 0  # no process was handed a trial another one held
    assert figures.cells_finished == 220 and figures.cells_finished_twice == 0
    assert figures.wasted_trials == 0 and figures.trials == 220  # one trial per cell
    assert figures.claims == 220
    assert figures.seconds < 120
    assert figures.connections_per_process is not None and figures.connections_per_process <= 3
