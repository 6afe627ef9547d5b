"""What MLflow's basic-auth app costs each request a sweep makes to its tracking server.

Question: how much slower is a tracking server with a login (README: "A shared tracking server
with a lock") per request, for the calls a sweep makes most (log a batch of metrics, set a
tag)?
Method: two `mlflow server`s on 127.0.0.1, one plain and one with the basic-auth app (as the
tests start them, `tests/end_to_end/servers.py`); one run each; `--requests` calls of
`log_batch` (5 metrics) and `set_tag`, the two servers interleaved in rounds of 10 (which
server goes first alternates, so a slow phase of the machine hits both); the median seconds
per request of each, and the median and quartiles of the per-round ratios.
Run:   python benchmarks/auth_cost.py --requests 200
Cost:  about a minute on 2 cores (most of it starting the servers).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ of this checkout

from mlflow import MlflowClient
from mlflow.entities import Metric

from tests.end_to_end.servers import ADMIN_PASSWORD, ADMIN_USER, running_mlflow_server


def _timed(client: MlflowClient, run_id: str, step: int) -> float:
    began = time.perf_counter()
    now = int(time.time() * 1000)
    metrics = [Metric(f"m{i}", float(step), now, step) for i in range(5)]
    client.log_batch(run_id, metrics=metrics)
    client.set_tag(run_id, "step", str(step))
    return (time.perf_counter() - began) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="per server (pairs of calls)")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        running_mlflow_server(Path(folder) / "plain") as plain,
        running_mlflow_server(Path(folder) / "auth", auth=True) as locked,
    ):
        os.environ.update(
            MLFLOW_TRACKING_USERNAME=ADMIN_USER, MLFLOW_TRACKING_PASSWORD=ADMIN_PASSWORD
        )
        clients = {"plain": MlflowClient(plain.url), "basic-auth": MlflowClient(locked.url)}
        runs = {}
        for name, client in clients.items():
            experiment = client.create_experiment("cost")
            runs[name] = client.create_run(experiment).info.run_id
        seconds: dict[str, list[float]] = {name: [] for name in clients}
        ratios: list[float] = []
        for round_number, start in enumerate(range(0, args.requests, 10)):
            order = list(clients) if round_number % 2 == 0 else list(reversed(clients))
            this_round: dict[str, list[float]] = {}
            for name in order:
                steps = range(start, min(start + 10, args.requests))
                this_round[name] = [_timed(clients[name], runs[name], step) for step in steps]
                seconds[name] += this_round[name]
            ratios.append(
                statistics.median(this_round["basic-auth"]) / statistics.median(this_round["plain"])
            )
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    for name, median in medians.items():
        print(
            f"{name:>10}: median {median * 1000:.1f} ms per request ({args.requests * 2} requests)"
        )
    extra = (medians["basic-auth"] - medians["plain"]) * 1000
    quartiles = statistics.quantiles(ratios, n=4)
    print(
        f"basic-auth / plain: ×{statistics.median(ratios):.2f} median of {len(ratios)} rounds "
        f"(quartiles ×{quartiles[0]:.2f} to ×{quartiles[2]:.2f}); +{extra:.1f} ms per request"
    )


if __name__ == "__main__":
    main()
