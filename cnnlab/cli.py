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
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnlab import __version__
from cnnlab.errors import CnnlabError, TrainingFailed
from cnnlab.space import PRECISIONS, DataSpec, TrainSpec, check_choice


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up chatter (oneDNN, CUDA probing) silenced.

    TensorFlow writes those lines to file descriptor 2 before its logging is configured, so
    TF_CPP_MIN_LOG_LEVEL alone cannot hide them; stderr is pointed at /dev/null for the
    import only. A user who sets TF_CPP_MIN_LOG_LEVEL (e.g. 0 to debug) sees everything.
    """
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ or "tensorflow" in sys.modules:
        import tensorflow

        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _add_arch_overrides(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("architecture overrides (default: the preset's own)")
    group.add_argument("--pooling", help="max | avg | none | strided")
    group.add_argument("--pool-size", type=int, help="pooling window and stride")
    group.add_argument("--padding", help="valid | same")
    group.add_argument("--first-kernel", type=int, help="kernel size of the first conv block")
    group.add_argument("--dropout", type=float, help="dropout after each hidden dense layer")
    group.add_argument("--head", help="flatten | gap (global average pooling)")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The architecture options given on the command line, by spec field."""
    names = ("pooling", "pool_size", "padding", "first_kernel", "dropout", "head")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _arch_from_args(args: argparse.Namespace) -> Any:
    from cnnlab.presets import get_preset

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
    return parser


def _cmd_summary(args: argparse.Namespace) -> int:
    arch = _arch_from_args(args)
    check_choice("train.precision", args.precision, PRECISIONS)
    _import_tensorflow_quietly()
    from cnnlab.model import build_model, summary_table

    print(summary_table(arch, build_model(arch, precision=args.precision, name=args.arch)), end="")
    return 0


def _data_location(args: argparse.Namespace) -> tuple[Path | None, bool, Path]:
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    if args.data_dir is not None:
        return args.data_dir, True, keras_home
    env_dir = os.environ.get("CNNLAB_DATA_DIR")
    return (Path(env_dir) if env_dir else None), False, keras_home


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
    from cnnlab.data import load_dataset, make_splits
    from cnnlab.geometry import count_params, forward_flops
    from cnnlab.space import TrialSpec, flat_params

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
    data_dir, only_data_dir, keras_home = _data_location(args)
    dataset = load_dataset(
        spec.data.dataset, data_dir=data_dir, only_data_dir=only_data_dir, keras_home=keras_home
    )
    splits = make_splits(
        dataset,
        args.seed,
        validation_size=spec.data.validation_size,
        train_subset=spec.data.train_subset,
    )

    _import_tensorflow_quietly()  # after the cheap checks above, so input errors come fast
    import tensorflow as tf

    if args.threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    from cnnlab.train import stderr_progress, train_and_evaluate

    epochs = spec.train.epochs
    sys.stderr.write(
        f"Training {_arch_label(args)}: {count_params(spec.arch):,} parameters, "
        f"{forward_flops(spec.arch):,} FLOPs/image, on {dataset.name} from {dataset.source}: "
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
        "versions": _versions(),
    }
    print(json.dumps(record))
    return 0


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"cnnlab": __version__, "python": sys.version.split()[0]}
    for package in ("tensorflow", "keras", "numpy"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "absent"
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `cnnlab` command line; returns the exit status."""
    args = _build_parser().parse_args(argv)
    handlers = {"summary": _cmd_summary, "train": _cmd_train}
    try:
        return handlers[args.command](args)
    except CnnlabError as error:
        sys.stderr.write(f"cnnlab: error: {error}\n")
        return error.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("\ncnnlab: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
