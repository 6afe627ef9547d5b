"""`python -m cnnlab.ui` (≡ `cnnlab ui`): the MLflow UI over a runs folder, on 127.0.0.1.

It prints the address of each sweep's runs table (MLflow 3 opens an experiment in its GenAI
view, which is empty for cnnlab; the runs table, where each study's parent run expands to its
trials, has its own route) and then serves until Ctrl-C or SIGTERM. The MLflow server runs in
a process group of its own (its web workers and job consumers with it), which cnnlab stops
whole on either signal: nothing is left serving after the command ends.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from cnnlab.cliutil import run_command
from cnnlab.errors import CnnlabError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cnnlab.ui", description="Start the MLflow UI over a cnnlab runs folder."
    )
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"), help="default: runs/")
    parser.add_argument("--tracking-uri", help="MLflow store (default: RUNS_DIR/mlflow.db)")
    parser.add_argument("--port", type=_port, default=5000, help="default: 5000 (on 127.0.0.1)")
    return parser


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port; give a number from 1 to 65535")
    return int(text)


def runs_table_urls(tracking_uri: str, port: int) -> list[tuple[str, str]]:
    """(experiment name, runs-table address) for every experiment in the store."""
    from cnnlab.sweep import Tracker

    tracker = Tracker(tracking_uri, artifact_root=None)
    return [
        (exp.name, tracker.runs_table_url(str(exp.experiment_id), port))
        for exp in tracker.experiments()
        if exp.name != "Default"
    ]


def _serve(args: argparse.Namespace) -> int:
    from cnnlab.sweep import default_tracking_uri, quiet_mlflow_logging

    quiet_mlflow_logging()
    if args.runs_dir.exists() and not args.runs_dir.is_dir():
        raise CnnlabError(
            f"--runs-dir {args.runs_dir} is a file, not a folder: name the runs folder a sweep "
            "wrote (default: runs/)."
        )
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
    _check_port_free(args.port)  # before printing an address that would serve something else
    print(f"MLflow UI for {tracking_uri} at http://127.0.0.1:{args.port}/")
    for name, url in runs_table_urls(tracking_uri, args.port):
        print(f"  {name:<24} runs table: {url}")
    print("Each study is a parent run; expand it (+) to see its trials. Ctrl-C stops the UI.")
    sys.stdout.flush()
    return _serve_until_stopped(command)


def _check_port_free(port: int) -> None:
    """Refuse a port something already listens on: MLflow would print "Address already in use"
    and stop, after cnnlab had printed the address as if it served this store."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise CnnlabError(
                f"--port {port}: 127.0.0.1:{port} is already in use ({error.strerror}), by "
                "another MLflow UI or another program, so its address would show another store. "
                f"Choose a free port, e.g. --port {port + 1 if port < 65535 else 5001}, or stop "
                "what serves it."
            ) from None


def _serve_until_stopped(command: list[str]) -> int:
    """Run the server in its own process group; stop the whole group on Ctrl-C or SIGTERM."""
    server = subprocess.Popen(command, start_new_session=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        status = server.wait()
        if status != 0:  # it ended on its own: its own output above says why
            sys.stderr.write(f"cnnlab: error: the MLflow server stopped (exit status {status}).\n")
            return 1
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop_group(server)


def _stop_group(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL what is left after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, sig)
        try:
            server.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; its workers may not be: one more signal to the group is free.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        return


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(lambda: _serve(args))


if __name__ == "__main__":
    sys.exit(main())
