"""`python -m cnnlab.sweep NAME` (≡ `cnnlab sweep NAME`): run, resume or check a sweep; and
`cnnlab worker NAME`: join a running sweep, from this machine or another.

NAME is a shipped sweep (`cnnlab list`) or the path of a sweep file of your own. This module
only parses the command line into `SweepOptions`, launches the run (`cnnlab.sweep.launch`:
the plan, the dataset and the workers, before the heavier imports) and hands over to
`cnnlab.sweep.runner.run_launched`. A worker is the same run with `SweepOptions.joins`: it
opens the sweep's study and parent run instead of creating them, and writes no results.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from cnnlab.cliutil import data_location, run_command
from cnnlab.errors import CnnlabError
from cnnlab.sweep.options import DEAD_AFTER_S, MIN_DEAD_AFTER_S
from cnnlab.sweep.parallelism import parse_workers

# One or more "number unit" parts, as people write them: 90, 90s, 20m, 1.5h, 1h45m, 1h 30m.
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(min|sec|h|m|s)?\s*")
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> float:
    """Seconds from `90`, `90s`, `20m`, `1.5h` or a sum of parts such as `1h45m`."""
    parts: list[float] = []
    at = 0
    stripped = text.strip()
    while at < len(stripped):
        match = _PART.match(stripped, at)
        # A bare number is seconds, but only on its own: "1h30" is ambiguous, so refused.
        if not match or (match.group(2) is None and (parts or match.end() < len(stripped))):
            parts = []
            break
        parts.append(float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s")[0]])
        at = match.end()
    if not parts:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; write seconds (90), minutes (20m), hours (1.5h) "
            "or both (1h45m)"
        )
    return sum(parts)


def build_parser(worker: bool = False) -> argparse.ArgumentParser:
    """The sweep's command line, or (`worker`) `cnnlab worker`'s: the options that define the
    study (which must match the sweep's own process's), the stores and the local training."""
    parser = argparse.ArgumentParser(
        prog="cnnlab worker" if worker else "python -m cnnlab.sweep",
        description=(
            "Join a sweep that is running: claim its cells from the shared Optuna study, train "
            "them here and record them in the same MLflow parent run. Give it the sweep and "
            "the options the sweep's own process was started with (they name the study), and "
            "its --storage and --tracking-uri. Stop it any time: its running cell is marked "
            "FAIL and runs again elsewhere."
            if worker
            else "Run every arm of a sweep with paired seeds as Optuna trials, logged to "
            "MLflow. Rerunning the same command resumes: finished cells are skipped."
        ),
    )
    parser.add_argument("sweep", help="a shipped sweep name (see `cnnlab list`) or a .py path")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: all arms, 3 fixed paired seeds (no sequential plan), 1 epoch, 5,000 "
        "training images; own study",
    )
    if not worker:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="enumerate the design, build every arm and train one batch; write nothing",
        )
    parser.add_argument(
        "--seeds",
        type=int,
        help="a fixed number of paired seeds, judged once (replaces a sequential plan; default: "
        "the sweep's plan or count)",
    )
    parser.add_argument("--epochs", type=int, help="epochs per trial (default: the sweep's)")
    parser.add_argument(
        "--max-time",
        type=parse_duration,
        help="start no cell after this long (e.g. 20m); finished ones are kept",
    )
    parser.add_argument("--dataset", help="mnist | fashion_mnist (default: the sweep's)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="folder holding the dataset's files (default: $CNNLAB_DATA_DIR, then a system "
        "package's folder, then ~/.keras/datasets/, then Keras' download)",
    )
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"), help="default: runs/")
    if not worker:
        parser.add_argument(
            "--reports-dir",
            type=Path,
            default=Path("reports"),
            help="where the report is written at the end (default: reports/)",
        )
        parser.add_argument("--no-report", action="store_true", help="write no report at the end")
    parser.add_argument(
        "--storage",
        help="Optuna storage URL, e.g. postgresql://user@host:5432/db for workers on other "
        "machines (default: RUNS_DIR/optuna.db)",
    )
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI, e.g. http://host:5000 (an `mlflow server`) for workers on "
        "other machines (default: RUNS_DIR/mlflow.db)",
    )
    parser.add_argument(
        "--retrain",
        action="store_true",
        help="train every cell, even one whose identical training (same spec, seed, data, "
        "threads, CPU, versions and training code) is already in the store: by default such a "
        "cell is copied from it, and the report says so",
    )
    parser.add_argument(
        "--cells-from",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a cell archive (`cnnlab studies --export FILE`) whose finished trainings are "
        "copied like the store's own: a study continued in another session or on another "
        "machine trains only what is left (repeatable)",
    )
    if not worker:
        parser.add_argument(
            "--archive",
            type=Path,
            metavar="FILE",
            help="a cell archive read at the start (if it exists) and rewritten at the end with "
            "every finished cell of the study, even after --max-time or a stop: a long sweep "
            "run over several sessions or machines without a shared store",
        )
    parser.add_argument(
        "--workers",
        default="auto",
        metavar="auto|N",
        help="training processes: auto (the default) runs one single-threaded worker per core; "
        "1 trains in this process on TensorFlow's default threads; N runs N workers",
    )
    if not worker:
        parser.add_argument(
            "--new-study",
            action="store_true",
            help="start a new version of the study instead of resuming (e.g. after a change)",
        )
        parser.add_argument(
            "--dead-after",
            type=parse_duration,
            metavar="DURATION",
            help="a process on another machine silent this long (no heartbeat) has its running "
            f"cell run again (default: {DEAD_AFTER_S / 60:.0f}m; kept in the study, so every "
            "worker agrees)",
        )
    return parser


def _run(args: argparse.Namespace) -> int:
    from cnnlab.spec.loading import load_sweep
    from cnnlab.spec.specs import DATASETS, check_choice

    if args.dataset is not None:
        check_choice("--dataset", args.dataset, DATASETS)
    workers = parse_workers(args.workers)
    for name in ("seeds", "epochs"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise CnnlabError(f"--{name} must be at least 1, but {value} was passed.")
    if args.max_time is not None and args.max_time <= 0:
        raise CnnlabError(
            f"--max-time {args.max_time:g}s would start no cell at all. Give how long cells may "
            "keep starting, e.g. --max-time 20m, or leave it out to run to the end."
        )
    dead = getattr(args, "dead_after", None)
    if dead is not None and dead < MIN_DEAD_AFTER_S:
        raise CnnlabError(
            f"--dead-after {dead:g}s is too short: it is how long another host may stay silent "
            "before its running cell is taken from it, and below "
            f"{MIN_DEAD_AFTER_S:.0f}s a host that is merely busy would lose its cells. Give at "
            f"least --dead-after {MIN_DEAD_AFTER_S:.0f}s (default {DEAD_AFTER_S / 60:.0f}m)."
        )
    sweep = load_sweep(args.sweep)
    from cnnlab.sweep.launch import launch
    from cnnlab.sweep.options import SweepOptions

    data_dir, only_data_dir, keras_home = data_location(args.data_dir)
    options = SweepOptions(
        quick=args.quick,
        dry_run=getattr(args, "dry_run", False),
        seeds=args.seeds,
        epochs=args.epochs,
        max_time=args.max_time,
        dataset=args.dataset,
        data_dir=data_dir,
        only_data_dir=only_data_dir,
        keras_home=keras_home,
        storage=args.storage,
        tracking_uri=args.tracking_uri,
        workers=workers,
        runs_dir=args.runs_dir,
        new_study=getattr(args, "new_study", False),
        reports_dir=None if args.worker or args.no_report else args.reports_dir,
        sweep_source=_source(args.sweep),
        joins=args.worker,
        dead_after=getattr(args, "dead_after", None),
        reuse=not args.retrain,
        cells_from=tuple(args.cells_from),
        archive=getattr(args, "archive", None),
    )
    # The plan, the dataset and the workers first: they start importing TensorFlow while this
    # process imports Optuna, MLflow and the analysis (cnnlab.sweep.launch says why).
    launched = launch(sweep, options)
    try:
        from cnnlab.sweep.quiet import quiet_library_logging
        from cnnlab.sweep.runner import run_launched

        quiet_library_logging()
        try:
            outcome = run_launched(launched, options)
        except Exception as error:
            from cnnlab.sweep.stores.failures import store_failure

            failure = store_failure(error, options)
            if failure is None:
                raise
            raise CnnlabError(failure) from None
    finally:
        launched.trainers.close()
    if outcome is None:  # dry run
        return 0
    return 0 if not outcome.failed else 1


def _source(name_or_path: str) -> str:
    """A shipped name as is; a file as an absolute path, so a rebuild finds it from anywhere."""
    path = Path(name_or_path)
    return str(path.resolve()) if path.suffix == ".py" or path.parent != Path() else name_or_path


def main(argv: Sequence[str] | None = None, *, worker: bool = False) -> int:
    args = build_parser(worker).parse_args(argv)
    args.worker = worker
    return run_command(lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())
