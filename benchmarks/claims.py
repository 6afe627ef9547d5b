"""Many processes claiming one study's cells at once: duplicates, claim latency, connections.

Question: when N sweep processes (hosts) share one study, does every cell run exactly once,
how many trials are made for nothing, how long does a claim take, and how many database
connections does each process hold (so: how many hosts one PostgreSQL serves)?
Method: a real study on the storage given (PostgreSQL for the figures that matter), an
ablation of `--arms` × `--seeds` cells, N processes started together, each running cnnlab's own
cell source (`cnnlab.sweep.sources.EnumeratedCells`: queue, claim) with a stub in place of
training (sleep `--work` seconds, then tell Optuna the cell is COMPLETE). No TensorFlow. While
they run, `pg_stat_activity` is sampled for the connections on the database. Afterwards the
study is read: trials by state and cnnlab state, cells finished more than once, and any claim
that failed because another process held the same trial.
Run:   python benchmarks/claims.py --storage postgresql://… --processes 32 --seeds 80
       (--json FILE writes the figures; `tests/end_to_end/test_claims.py` runs it with 8
       processes in CI)
Cost:  seconds to a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna

from cnnlab.spec.design import Factor, Sweep, cells
from cnnlab.spec.presets import small
from cnnlab.spec.specs import TrialSpec
from cnnlab.sweep.sources import EnumeratedCells
from cnnlab.sweep.stores.keys import Key
from cnnlab.sweep.stores.studies import open_storage

STUDY = "claims-benchmark"
POOLINGS = ("max", "avg", "none", "strided")


def design(arms: int, seeds: int) -> Sweep:
    """An ablation of `arms` pooling arms × `seeds` seeds: arms × seeds cells."""
    return Sweep(
        name="claims",
        base=TrialSpec(arch=small),
        factors=(Factor(path="arch.pooling", levels=POOLINGS[:arms]),),
        seeds=seeds,
    )


@dataclass(frozen=True)
class ProcessFigures:
    claims: int
    latencies: list[float]  # seconds per claim (the source's `next_trial`)
    errors: list[str]  # a claim or a tell that failed (e.g. a trial another process held)


@dataclass(frozen=True)
class Figures:
    """What one run of the benchmark measured."""

    processes: int
    cells: int
    seconds: float  # from the start signal to the last process's end
    claims: int
    cells_finished: int  # distinct cells with a COMPLETE trial
    cells_finished_twice: int  # cells with more than one COMPLETE trial
    wasted_trials: int  # trials made and closed without running a cell (UNUSED, DUPLICATE…)
    trials: int
    errors: int
    claim_p50_s: float
    claim_p99_s: float
    claim_max_s: float
    connections_max: int | None  # most connections on the database at once (PostgreSQL)
    connections_per_process: float | None
    max_connections: int | None  # the server's setting
    hosts_served: int | None  # processes one server takes at its max_connections


def _claimer(url: str, arms: int, seeds: int, work: float, start: Any, out: Any) -> None:
    """One process: claim, 'train' (sleep), tell, until no cell is left."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sweep = design(arms, seeds)
    source = EnumeratedCells(sweep)
    study = optuna.load_study(study_name=STUDY, storage=open_storage(url))
    remaining = source.remaining(study, cells(sweep))
    tried: set[str] = set()
    latencies, errors = [], []
    out.put("ready")
    start.wait()
    while True:
        began = time.perf_counter()
        try:
            found = source.next_trial(study, remaining, tried)
        except Exception as error:
            errors.append(f"claim: {type(error).__name__}: {error}")
            break
        latencies.append(time.perf_counter() - began)
        if found is None:
            break
        time.sleep(work)
        try:
            study.tell(found[0], 1.0)
        except Exception as error:  # told by another process that held the same trial
            errors.append(f"tell: {type(error).__name__}: {error}")
    out.put(asdict(ProcessFigures(len(latencies) - 1, latencies[:-1], errors)))


def _connections(url: str, stop: threading.Event, seen: list[int]) -> None:
    """Sample the connections on the benchmark's database every 50 ms (PostgreSQL)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        while not stop.wait(0.05):
            count = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
            seen.append(int(count))
    engine.dispose()


def _max_connections(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        value = int(connection.execute(text("SHOW max_connections")).scalar_one())
    engine.dispose()
    return value


def run(url: str, processes: int, arms: int = 4, seeds: int = 50, work: float = 0.01) -> Figures:
    """Measure one benchmark run on a fresh study in `url`'s database."""
    storage = open_storage(url)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if STUDY in {s.study_name for s in storage.get_all_studies()}:
        optuna.delete_study(study_name=STUDY, storage=storage)
    optuna.create_study(study_name=STUDY, storage=storage, direction="maximize")
    postgres = url.startswith("postgresql")
    context = multiprocessing.get_context("spawn")  # as separate hosts: nothing inherited
    start, out = context.Event(), context.Queue()
    workers = [
        context.Process(target=_claimer, args=(url, arms, seeds, work, start, out))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:  # every process imported cnnlab and opened the study: start together
        assert out.get(timeout=600) == "ready"
    seen: list[int] = []
    stop = threading.Event()
    sampler = threading.Thread(target=_connections, args=(url, stop, seen)) if postgres else None
    if sampler is not None:
        sampler.start()
    began = time.perf_counter()
    start.set()
    results = [ProcessFigures(**out.get(timeout=600)) for _ in workers]
    seconds = time.perf_counter() - began
    stop.set()
    if sampler is not None:
        sampler.join()
    for worker in workers:
        worker.join(timeout=60)
    trials = optuna.load_study(study_name=STUDY, storage=storage).get_trials()
    complete = Counter(
        t.user_attrs.get(Key.CELL) for t in trials if t.state == optuna.trial.TrialState.COMPLETE
    )
    latencies = sorted(x for r in results for x in r.latencies)
    most = max(seen) if seen else None
    per_process = most / processes if most is not None else None
    limit = _max_connections(url) if postgres else None
    served = None
    if limit is not None and per_process:
        # PostgreSQL keeps superuser_reserved_connections (3 by default) for administrators.
        served = int((limit - 3) / per_process)
    return Figures(
        processes=processes,
        cells=arms * seeds,
        seconds=round(seconds, 2),
        claims=sum(r.claims for r in results),
        cells_finished=len(complete),
        cells_finished_twice=sum(1 for n in complete.values() if n > 1),
        wasted_trials=sum(1 for t in trials if t.user_attrs.get(Key.STATE) is not None),
        trials=len(trials),
        errors=sum(len(r.errors) for r in results),
        claim_p50_s=round(statistics.median(latencies), 4) if latencies else 0.0,
        claim_p99_s=round(latencies[int(0.99 * (len(latencies) - 1))], 4) if latencies else 0.0,
        claim_max_s=round(latencies[-1], 4) if latencies else 0.0,
        connections_max=most,
        connections_per_process=round(per_process, 2) if per_process is not None else None,
        max_connections=limit,
        hosts_served=served,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--storage", required=True, help="Optuna storage URL (PostgreSQL)")
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--arms", type=int, default=4, choices=range(2, 5))
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--work", type=float, default=0.01, help="stub seconds per cell")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    figures = run(args.storage, args.processes, args.arms, args.seeds, args.work)
    text = json.dumps(asdict(figures), indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    sys.exit(0 if figures.errors == 0 else 1)


if __name__ == "__main__":
    main()
