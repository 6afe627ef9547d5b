"""The `cnnlab` command line: parses arguments, reads the environment, and reports errors.

This is the composition root for the commands that exist so far (`summary`, `train`). It is
the only place that reads environment variables (CNNLAB_DATA_DIR, KERAS_HOME) and passes them
down. A `CnnlabError` becomes a one-paragraph message on stderr and a non-zero exit, with no
traceback; anything else is a bug and keeps its traceback.

Output contract of `cnnlab train`: progress and per-epoch lines on stderr, then exactly one line
of JSON on stdout (`"status": "ok"` with `test_accuracy`, or `"status": "failed"` with a
`reason`), so scripts can parse the last line.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cnnlab.cliutil import data_location, run_command
from cnnlab.errors import CnnlabError, SpecError, TrainingFailed
from cnnlab.spec.specs import PRECISIONS, ArchSpec, DataSpec, TrainSpec, check_choice
from cnnlab.version import __version__


def _add_arch_overrides(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("architecture overrides (default: the preset's own)")
    group.add_argument("--pooling", help="max | avg | none | strided")
    group.add_argument("--pool-size", type=int, help="pooling window and stride")
    group.add_argument("--padding", help="valid | same")
    group.add_argument("--first-kernel", type=int, help="kernel size of the first conv block")
    group.add_argument("--dropout", type=float, help="dropout after each hidden dense layer")
    group.add_argument("--head", help="flatten | gap (global average pooling)")


# The spec field each option of `train` and `summary` sets: a refused value is named by the
# option the user typed, not by the field behind it.
_OPTION_OF_FIELD = {
    "arch": "--arch",
    "train.learning_rate": "--lr",
    "train.epochs": "--epochs",
    "train.batch_size": "--batch-size",
    "train.optimizer": "--optimizer",
    "train.precision": "--precision",
    "data.dataset": "--dataset",
    "data.validation_size": "--validation-size",
    "data.train_subset": "--train-subset",
    "arch.pooling": "--pooling",
    "arch.pool_size": "--pool-size",
    "arch.padding": "--padding",
    "arch.dropout": "--dropout",
    "arch.head": "--head",
    "ConvBlock.kernel_size": "--first-kernel",
}


@contextlib.contextmanager
def _named_as_typed() -> Iterator[None]:
    """Re-raise a SpecError about a field with the option that set it."""
    try:
        yield
    except SpecError as error:
        message = str(error)
        for field, option in _OPTION_OF_FIELD.items():
            message = message.replace(f"`{field}`", option)
        raise SpecError(error.field, message) from None


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The architecture options given on the command line, by spec field."""
    names = ("pooling", "pool_size", "padding", "first_kernel", "dropout", "head")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _arch_from_args(args: argparse.Namespace) -> Any:
    from cnnlab.spec.presets import get_preset

    arch = get_preset(args.arch)
    changes = _overrides(args)
    if "first_kernel" in changes:
        first = dataclasses.replace(arch.blocks[0], kernel_size=changes.pop("first_kernel"))
        changes["blocks"] = (first, *arch.blocks[1:])
    return dataclasses.replace(arch, **changes) if changes else arch


def _arch_label(args: argparse.Namespace) -> str:
    """`small`, or `small (pooling=avg, head=gap)` for a variant."""
    changes = ", ".join(f"{name}={value}" for name, value in _overrides(args).items())
    return f"{args.arch} ({changes})" if changes else args.arch


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnlab",
        description="CNN architecture experiments and ablations on MNIST.",
    )
    parser.add_argument("--version", action="version", version=f"cnnlab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    summary = commands.add_parser(
        "summary",
        help="print a model's layers, parameters and FLOPs",
        description=(
            "Print the layers, output shapes, parameters and forward FLOPs of an architecture."
        ),
    )
    summary.add_argument("arch", help="preset name: small | geron")
    summary.add_argument("--precision", default="float32", help="float32 | mixed_bfloat16")
    _add_arch_overrides(summary)

    train = commands.add_parser(
        "train",
        help="train one model and print a one-line JSON result",
        description=(
            "Train one architecture on one seed, evaluating on validation and test data after "
            "each epoch. Progress goes to stderr; the last line on stdout is the JSON result."
        ),
    )
    train.add_argument("--arch", default="small", help="preset name: small | geron")
    _add_arch_overrides(train)
    seed_training, default_data = TrainSpec(), DataSpec()  # defaults live in the specs
    group = train.add_argument_group("training (defaults: the seeds' settings)")
    group.add_argument("--epochs", type=int, default=seed_training.epochs)
    group.add_argument("--batch-size", type=int, default=seed_training.batch_size)
    group.add_argument(
        "--lr", type=float, default=seed_training.learning_rate, help="learning rate"
    )
    group.add_argument("--optimizer", default=seed_training.optimizer, help="adam | sgd | rmsprop")
    group.add_argument(
        "--precision", default=seed_training.precision, help="float32 | mixed_bfloat16"
    )
    group.add_argument("--seed", type=int, default=0)
    group.add_argument(
        "--threads", type=int, help="TensorFlow intra-op threads (default: TensorFlow's choice)"
    )
    group = train.add_argument_group("data")
    group.add_argument("--dataset", default=default_data.dataset, help="mnist | fashion_mnist")
    group.add_argument(
        "--data-dir",
        type=Path,
        help="folder with the dataset's IDX files or .npz (default: $CNNLAB_DATA_DIR, then "
        "system and Keras locations)",
    )
    group.add_argument("--validation-size", type=int, default=default_data.validation_size)
    group.add_argument("--train-subset", type=int, help="use only this many training images")
    listing = commands.add_parser(
        "list",
        help="list the shipped sweeps with their question, size and estimated time",
        description=(
            "List the shipped sweeps: design, arms, trials (a sequential plan's first look to "
            "its last), the time estimated for this machine, and the question each answers. "
            "Run one with: python -m cnnlab.sweep NAME"
        ),
    )
    listing.add_argument(
        "--workers",
        default="auto",
        metavar="auto|N",
        help="estimate for this --workers (default: auto, as a sweep runs)",
    )
    listing.add_argument(
        "--runs-dir",
        type=Path,
        default=Path("runs"),
        help="runs folder whose measured speed refines the estimates (default: runs/)",
    )
    studies = commands.add_parser(
        "studies",
        help="list, delete or export the studies in a runs folder",
        description=(
            "List the Optuna studies in a runs folder with their trials by state, delete one "
            "study with its trials (its MLflow runs and reports are kept), or export their "
            "finished cells to a cell archive that `python -m cnnlab.sweep --cells-from FILE` "
            "reads elsewhere (another session, another machine)."
        ),
    )
    studies.add_argument("--runs-dir", type=Path, default=Path("runs"), help="default: runs/")
    studies.add_argument("--storage", help="Optuna storage URL (default: RUNS_DIR/optuna.db)")
    studies.add_argument("--delete", metavar="STUDY", help="delete this study and its trials")
    studies.add_argument(
        "--export",
        type=Path,
        metavar="FILE",
        help="write every finished cell (or --study's) with its fingerprint to this cell archive",
    )
    studies.add_argument(
        "--study",
        metavar="NAME",
        help="with --export: only this study's cells (a study name, or a sweep's name)",
    )
    grant = commands.add_parser(
        "grant",
        help="let a host's user write a sweep's runs on a tracking server with a login",
        description=(
            "On an MLflow server started with its basic-auth app (README: 'A shared tracking "
            "server with a lock'), give USER a permission (default EDIT, what a worker needs) "
            "on the experiment of SWEEP, which the sweep's own process creates at its start. "
            "Run it as the server's admin: MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD set to the admin's. --create-user first creates USER with "
            "the password in the environment variable CNNLAB_NEW_USER_PASSWORD (never on the "
            "command line, where `ps` shows it)."
        ),
    )
    grant.add_argument("--tracking-uri", required=True, help="the server, http(s)://HOST:PORT")
    grant.add_argument("--experiment", required=True, metavar="SWEEP", help="the sweep's name")
    grant.add_argument("--user", required=True, help="the host's MLflow user")
    grant.add_argument(
        "--permission", default="EDIT", choices=("READ", "EDIT", "MANAGE"), help="default: EDIT"
    )
    grant.add_argument(
        "--create-user", action="store_true", help="create USER first (password: see above)"
    )
    for name, text in _DELEGATED.items():
        commands.add_parser(name, help=text, add_help=False)
    return parser


def _cmd_grant(args: argparse.Namespace) -> int:
    from cnnlab.sweep.stores.preflight import check_server_answers
    from cnnlab.sweep.stores.redact import redact
    from cnnlab.sweep.stores.tracking import create_user, grant_experiment

    if not args.tracking_uri.startswith(("http://", "https://")):
        raise CnnlabError(
            f"--tracking-uri {redact(args.tracking_uri)!r}: grant talks to an `mlflow server` "
            "with the basic-auth app; give its address, http(s)://HOST:PORT."
        )
    check_server_answers(args.tracking_uri)  # MLflow's client would retry for minutes
    if args.create_user:
        password = os.environ.get("CNNLAB_NEW_USER_PASSWORD")
        if not password:
            raise CnnlabError(
                "--create-user: set the new user's password in the environment variable "
                "CNNLAB_NEW_USER_PASSWORD (MLflow asks for at least 12 characters), then run "
                "the command again."
            )
        create_user(args.tracking_uri, args.user, password)
        print(f"Created user {args.user!r}.")
    grant_experiment(args.tracking_uri, args.experiment, args.user, args.permission)
    print(
        f"User {args.user!r} has {args.permission} on experiment {args.experiment!r} at "
        f"{redact(args.tracking_uri)}."
    )
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from cnnlab.spec.design import trial_count
    from cnnlab.spec.loading import load_sweep, question, shipped_names
    from cnnlab.sweep import estimate_sweep, first_look_cells, machine_speed, parse_workers, resolve
    from cnnlab.sweep.console.estimate import CostUnknown

    parallelism = resolve(parse_workers(args.workers))
    speed = machine_speed(args.runs_dir, parallelism)
    rows = []
    for name in shipped_names():
        sweep = load_sweep(name)
        trials = str(trial_count(sweep))
        arms = f"{len(sweep.arm_labels())} arms"
        try:
            duration = estimate_sweep(sweep, parallelism, speed).short()
        except CostUnknown:  # a network you bring: built, and so costed, when the sweep starts
            duration = "measured at its start"
        if sweep.plan is not None:  # a sequential plan: from its first look to its last
            trials = f"{len(first_look_cells(sweep))}–{trials}"
        rows.append((name, sweep.design, arms, f"{trials} trials", duration, question(sweep)))
    # The facts on one line, the question in full on the lines under it: a question is a
    # sentence (up to ~200 characters) and cutting it to fit one line cut its point off.
    width = max(len(r[0]) for r in rows)
    columns = min(shutil.get_terminal_size((100, 24)).columns, 100)
    for name, design, arms, size, duration, text in rows:
        about = "" if duration.startswith("measured") else "~"
        print(f"{name:<{width}}  {design:<10} {arms:>9} {size:>14}  {about}{duration}")
        print(
            textwrap.fill(
                text,
                columns,
                initial_indent=" " * 4,
                subsequent_indent=" " * 4,
                break_on_hyphens=False,
            )
        )
    print(f"\nEstimates: {parallelism.describe()}, {speed.describe()}.")
    print("Run one with: python -m cnnlab.sweep NAME")
    print("  --quick: a one-minute smoke run; --dry-run: check it without training")
    return 0


def _cmd_studies(args: argparse.Namespace) -> int:
    from cnnlab.sweep import (
        default_storage_url,
        delete_study,
        list_studies,
        open_storage,
        quiet_library_logging,
    )

    quiet_library_logging()

    if args.storage is None and not (args.runs_dir / "optuna.db").is_file():
        print(f"No studies yet: {args.runs_dir / 'optuna.db'} does not exist.")
        return 0
    if args.storage is not None:
        from cnnlab.sweep import check_storage

        check_storage(args.storage)  # a bad URL in words, before Optuna makes a database
    url = args.storage or default_storage_url(args.runs_dir)
    storage = open_storage(url)
    if args.export is not None:
        from cnnlab.sweep import export_cells
        from cnnlab.sweep.stores.redact import redact

        count = export_cells(storage, args.export, store=redact(url), only=args.study)
        if count == 0:
            which = f"study {args.study!r}" if args.study else "any study"
            raise CnnlabError(
                f"--export {args.export}: {which} in {redact(url)} has no finished cell "
                "with a fingerprint to export (`cnnlab studies` lists the studies). Nothing "
                "was written."
            )
        print(f"Wrote {count} finished cell(s) to {args.export}.")
        print(f"Continue elsewhere with: python -m cnnlab.sweep SWEEP --cells-from {args.export}")
        return 0
    if args.delete:
        delete_study(storage, args.delete)
        print(f"Deleted study {args.delete} (its MLflow runs are kept).")
        return 0
    rows = list_studies(storage)
    if not rows:
        print("No studies.")
    for row in rows:
        counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(row["counts"].items()))
        kind = "quick" if row["quick"] else "full"
        print(
            f"{row['name']:<28} sweep {row['sweep']:<20} {kind:<5} created {row['created']}  "
            f"trials: {counts or 'none'}"
        )
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    arch = _arch_from_args(args)
    check_choice("train.precision", args.precision, PRECISIONS)
    from cnnlab.training.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    from cnnlab.training.model import build_model, summary_table

    print(summary_table(arch, build_model(arch, precision=args.precision, name=args.arch)), end="")
    return 0


def _epoch_line(epochs: int) -> Any:
    def show(record: Any) -> None:
        if sys.stderr.isatty():
            sys.stderr.write("\r\033[K")
        sys.stderr.write(
            f"epoch {record.epoch}/{epochs}  loss {record.loss:.4f}  "
            f"train {record.accuracy:.2%}  val {record.val_accuracy:.2%}  "
            f"test {record.test_accuracy:.2%}  {record.seconds:.1f} s\n"
        )
        sys.stderr.flush()

    return show


def _cmd_train(args: argparse.Namespace) -> int:
    from cnnlab.data import load_data, make_splits
    from cnnlab.spec.geometry import count_params, forward_flops
    from cnnlab.spec.specs import TrialSpec, flat_params
    from cnnlab.sweep import package_versions

    spec = TrialSpec(
        arch=_arch_from_args(args),
        train=TrainSpec(
            epochs=args.epochs,
            batch_size=args.batch_size,
            optimizer=args.optimizer,
            learning_rate=args.lr,
            precision=args.precision,
        ),
        data=DataSpec(
            dataset=args.dataset,
            validation_size=args.validation_size,
            train_subset=args.train_subset,
        ),
    )
    data_dir, only_data_dir, keras_home = data_location(args.data_dir)
    dataset = load_data(
        spec.data, data_dir=data_dir, only_data_dir=only_data_dir, keras_home=keras_home
    )
    splits = make_splits(
        dataset,
        args.seed,
        validation_size=spec.data.validation_size,
        train_subset=spec.data.train_subset,
    )

    from cnnlab.training.runtime import import_tensorflow_quietly, set_intra_op_threads

    import_tensorflow_quietly()  # after the cheap checks above, so input errors come fast
    from cnnlab.training.train import stderr_progress, train_and_evaluate

    if args.threads is not None:
        set_intra_op_threads(args.threads)

    epochs = spec.train.epochs
    arch = spec.arch
    assert isinstance(arch, ArchSpec)  # `cnnlab train` builds a preset, never a function
    sys.stderr.write(
        f"Training {_arch_label(args)}: {count_params(arch):,} parameters, "
        f"{forward_flops(arch):,} FLOPs/image, on {dataset.name} from {dataset.source}: "
        f"{len(splits.y_train):,} train / {len(splits.y_val):,} validation / "
        f"{len(splits.y_test):,} test images; {epochs} epoch{'s' if epochs != 1 else ''}, "
        f"batch {spec.train.batch_size}, seed {args.seed}\n"
    )
    base = {"arch": args.arch, "dataset": spec.data.dataset, "seed": args.seed}
    try:
        result = train_and_evaluate(
            spec,
            splits,
            args.seed,
            progress=stderr_progress if sys.stderr.isatty() else None,
            on_epoch=_epoch_line(spec.train.epochs),
        )
    except TrainingFailed as failure:
        sys.stderr.write(f"\ncnnlab: training failed: {failure}\n")
        print(json.dumps({**base, **failure.to_dict()}))
        return failure.exit_code
    record = {
        **base,
        "status": "ok",
        "test_accuracy": result.test_accuracy,
        "test_loss": result.test_loss,
        **{k: v for k, v in result.to_dict().items() if k not in ("test_accuracy", "test_loss")},
        "spec": flat_params(spec),
        "data_source": dataset.source,
        "versions": package_versions(),
    }
    print(json.dumps(record))
    return 0


# Commands with their own module and parser; `cnnlab NAME ...` is `python -m cnnlab.NAME ...`.
_DELEGATED = {
    "sweep": "run a sweep (python -m cnnlab.sweep NAME --help)",
    "worker": "join a running sweep from this or another machine (cnnlab worker --help)",
    "ui": "start the MLflow UI over a runs folder (python -m cnnlab.ui --help)",
    "report": "rebuild a sweep's report from its results.csv (python -m cnnlab.report --help)",
}


def _delegate(name: str, argv: list[str]) -> int:
    if name in ("sweep", "worker"):
        from cnnlab.sweep.__main__ import main as sweep_main

        return sweep_main(argv, worker=name == "worker")
    if name == "report":
        from cnnlab.report.__main__ import main as report_main

        return report_main(argv)
    from cnnlab import ui

    return ui.main(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `cnnlab` command line; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in _DELEGATED:
        return _delegate(arguments[0], arguments[1:])
    args = _build_parser().parse_args(arguments)
    handlers = {
        "summary": _cmd_summary,
        "train": _cmd_train,
        "list": _cmd_list,
        "studies": _cmd_studies,
        "grant": _cmd_grant,
    }

    def handle() -> int:
        with _named_as_typed():
            return handlers[args.command](args)

    return run_command(handle)


if __name__ == "__main__":
    sys.exit(main())
