"""`python -m cnnlab.ui` (≡ `cnnlab ui`): the MLflow UI over a runs folder, on 127.0.0.1.

It prints the address of each sweep's runs table (MLflow 3 opens an experiment in its GenAI
view, which is empty for cnnlab; the runs table, where each study's parent run expands to its
trials, has its own route) and then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from cnnlab.cliutil import run_command
from cnnlab.errors import CnnlabError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cnnlab.ui", description="Start the MLflow UI over a cnnlab runs folder."
    )
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"), help="default: runs/")
    parser.add_argument("--tracking-uri", help="MLflow store (default: RUNS_DIR/mlflow.db)")
    parser.add_argument("--port", type=int, default=5000)
    return parser


def runs_table_urls(tracking_uri: str, port: int) -> list[tuple[str, str]]:
    """(experiment name, runs-table address) for every experiment in the store."""
    from cnnlab.sweep.tracking import Tracker

    tracker = Tracker(tracking_uri, artifact_root=None)
    return [
        (exp.name, tracker.runs_table_url(str(exp.experiment_id), port))
        for exp in tracker.client.search_experiments()
        if exp.name != "Default"
    ]


def _serve(args: argparse.Namespace) -> int:
    from cnnlab.sweep.tracking import default_tracking_uri, quiet_mlflow_logging

    quiet_mlflow_logging()
    if args.tracking_uri is None and not (args.runs_dir / "mlflow.db").is_file():
        raise CnnlabError(
            f"{args.runs_dir / 'mlflow.db'} does not exist: run a sweep first "
            "(python -m cnnlab.sweep pooling --quick) or pass --runs-dir / --tracking-uri."
        )
    tracking_uri = args.tracking_uri or default_tracking_uri(args.runs_dir)
    mlflow = shutil.which("mlflow") or str(Path(sys.executable).with_name("mlflow"))
    command = [
        mlflow,
        "server",
        "--backend-store-uri",
        tracking_uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
    ]
    print(f"MLflow UI for {tracking_uri} at http://127.0.0.1:{args.port}/")
    for name, url in runs_table_urls(tracking_uri, args.port):
        print(f"  {name:<24} runs table: {url}")
    print("Each study is a parent run; expand it (+) to see its trials. Ctrl-C stops the UI.")
    sys.stdout.flush()
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(lambda: _serve(args))


if __name__ == "__main__":
    sys.exit(main())
