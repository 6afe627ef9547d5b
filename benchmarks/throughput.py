"""Sweep throughput on this machine: cnnlab against the naive Optuna loop and the seed's script.

Question: on the same work, how many replicate-epochs per hour does cnnlab do with one worker
and with its default workers, against the loop a user writes without it; where does a trial's
time go; how close does training come to the machine's peak; and what did not pay?
Method: every variant runs as its own process (a sweep is one), one after another, their
order rotated each round; timings are medians with their ranges; pairs of single-thread
measurements run side by side on the two cores. Sections:
  (a) the same work: max vs avg on `small`, SEEDS paired seeds (2 × SEEDS trials) at the
      shipped pooling recipe (3 epochs, batch 128, 55,000 images, float32, op determinism on,
      validation and test evaluated after every epoch), by the naive Optuna loop
      (benchmarks/naive_optuna.py), `cnnlab.sweep --workers 1` and `--workers auto`;
  (b) where a cnnlab trial's seconds go (timings.csv of the runs above), and start-up;
  (c) achieved training FLOP/s against a large matmul's in the same run;
  (d) wall time to 98.7 % test accuracy: the seed's recipe against the shipped sweeps';
  (e) what else was tried, each against the shipped training: op determinism off, one step
      per call into TensorFlow, XLA; mixed bfloat16 against float32 (speed, and the paired
      accuracy effect over SEEDS+1 seeds);
  (f) resident memory of one worker across 50 trials (benchmarks/worker_memory.py).
Run:   nox -s bench   (or: python benchmarks/throughput.py --data-dir DIR [--rounds 1])
Cost:  22–25 minutes on 2 cores with --rounds 1 (22.3, 25.1 and 21.6 on 2026-12-03/04, over the
       20-minute target in the machine's slow periods); each extra round adds 12–15.
Writes benchmarks/results/throughput.json and throughput.md (the table README quotes).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from scipy import stats

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET_ACCURACY = 0.987


def _run(
    args: Sequence[str], env: dict[str, str], cwd: Path | None = None
) -> tuple[float, str, str]:
    tick = time.perf_counter()
    done = subprocess.run(list(args), capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.perf_counter() - tick
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, done.stdout, done.stderr


def _run_lines(
    args: Sequence[str], env: dict[str, str], cwd: Path | None = None
) -> tuple[float, list[tuple[float, str]]]:
    """Run a command; its wall time and its stderr lines, each with the second it arrived."""
    tick = time.perf_counter()
    process = subprocess.Popen(
        list(args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd
    )
    assert process.stderr is not None
    lines = [(time.perf_counter() - tick, line.rstrip("\n")) for line in process.stderr]
    process.wait()
    wall = time.perf_counter() - tick
    if process.returncode != 0:
        tail = "\n".join(text for _, text in lines[-40:])
        raise RuntimeError(f"{' '.join(args)} failed ({process.returncode}):\n{tail}")
    return wall, lines


_FIRST_TRIAL = re.compile(r"^\[1/\d+\] .*?(\d+(?:\.\d+)?) s\s+ETA")


def first_trial_start(lines: list[tuple[float, str]]) -> float | None:
    """Seconds from the command to the start of its first trial: the first progress line's
    arrival less that trial's own seconds (start-up: imports, stores, workers)."""
    for arrived, text in lines:
        found = _FIRST_TRIAL.match(text)
        if found:
            return arrived - float(found.group(1))
    return None


def _parallel(commands: list[list[str]], env: dict[str, str]) -> list[tuple[float, str]]:
    """Run commands at once (one per core), each timed on its own."""
    started = time.perf_counter()
    processes = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for c in commands
    ]
    out = []
    for command, process in zip(commands, processes, strict=False):
        stdout, stderr = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
        out.append((time.perf_counter() - started, stdout))
    return out


def _last_json(text: str) -> Any:
    return json.loads(text.strip().splitlines()[-1])


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


# --- (a) the same work, three ways -------------------------------------------------------


def same_work(data_dir: Path, seeds: int, rounds: int, env: dict[str, str], tmp: Path) -> dict:
    epochs = 3
    variants = {
        "naive Optuna loop (1 process, default threads)": [
            sys.executable,
            str(HERE / "naive_optuna.py"),
            "--data-dir",
            str(data_dir),
            "--seeds",
            str(seeds),
            "--epochs",
            str(epochs),
        ],
        "cnnlab --workers 1": ["1"],
        "cnnlab --workers auto (default)": ["auto"],
    }
    names = list(variants)
    walls: dict[str, list[float]] = {n: [] for n in names}
    timings: dict[str, list[pd.DataFrame]] = {n: [] for n in names}
    startups: dict[str, list[float]] = {n: [] for n in names[1:]}  # command to first trial
    naive_trials: list[float] = []
    for round_ in range(rounds):
        order = names[round_ % 3 :] + names[: round_ % 3]
        for name in order:
            command = variants[name]
            if name.startswith("cnnlab"):
                runs = tmp / f"runs-{round_}-{command[0]}"
                command = [
                    sys.executable, "-m", "cnnlab.sweep", "max_vs_avg",
                    "--seeds", str(seeds), "--runs-dir", str(runs), "--no-report",
                    "--workers", command[0],
                ]  # fmt: skip
                wall, lines = _run_lines(command, env, cwd=tmp)
                timings[name].append(pd.read_csv(runs / "results" / "max_vs_avg" / "timings.csv"))
                start = first_trial_start(lines)
                if start is not None:
                    startups[name].append(start)
                shutil.rmtree(runs)
            else:
                wall, out, _ = _run(command, env)
                naive_trials.extend(_last_json(out)["trial_seconds"])
            walls[name].append(wall)
            print(f"(a) round {round_ + 1}: {name}: {wall:.1f} s", flush=True)
    trials = 2 * seeds
    rows = {}
    naive = statistics.median(walls[names[0]])
    for name in names:
        median = statistics.median(walls[name])
        rows[name] = {
            "wall_seconds": _spread(walls[name]),
            "replicate_epochs_per_hour": trials * epochs * 3600 / median,
            "ratio_to_naive": naive / median,
        }
    one = statistics.median(walls[names[1]])
    rows[names[2]]["ratio_to_one_worker"] = one / statistics.median(walls[names[2]])
    return {
        "trials": trials,
        "epochs": epochs,
        "rows": rows,
        "timings": {n: pd.concat(t).to_dict("records") for n, t in timings.items() if t},
        "startup_seconds": {n: _spread(v) for n, v in startups.items() if v},
        "naive_trial_seconds": naive_trials,
    }


def where_time_goes(same: dict) -> dict:
    """(b): the parts of a median max-arm trial, per cnnlab variant, and process start-up."""
    parts = [
        "training_s", "evaluation_s", "model_and_probes_s",
        "optuna_s", "mlflow_s", "artifacts_s", "other_s",
    ]  # fmt: skip
    out: dict[str, Any] = {}
    for name, records in same["timings"].items():
        frame = pd.DataFrame(records)
        maxed = frame[frame["arm"] == "max"]
        median_trial = float(maxed["seconds"].median())
        medians = {p: float(maxed[p].median()) for p in parts}
        book = float((maxed["optuna_s"] + maxed["mlflow_s"] + maxed["artifacts_s"]).median())
        out[name] = {
            "median_trial_seconds": median_trial,
            "parts": medians,
            "bookkeeping_share": book / median_trial,
        }
    out["startup_seconds"] = same["startup_seconds"]  # measured on (a)'s runs
    return out


# --- (c) FLOP/s against a matmul --------------------------------------------------------

MATMUL = """
import json, os, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
threads = int(os.environ["THREADS"])
if threads:
    tf.config.threading.set_intra_op_parallelism_threads(threads)
a = tf.random.normal((4096, 4096)); b = tf.random.normal((4096, 4096))
tf.linalg.matmul(a, b).numpy()
best = 0.0
for _ in range(5):
    tick = time.perf_counter(); tf.linalg.matmul(a, b).numpy(); s = time.perf_counter() - tick
    best = max(best, 2 * 4096**3 / s)
print(json.dumps(best))
"""


def peak_flops(env: dict[str, str]) -> dict:
    out = {}
    for threads in (1, 0):
        result = _run([sys.executable, "-c", MATMUL], {**env, "THREADS": str(threads)})
        out["1 thread" if threads else "all cores"] = _last_json(result[1])
    return out


def achieved_flops(same: dict) -> dict:
    from cnnlab.spec.geometry import forward_flops
    from cnnlab.spec.presets import small

    flops = forward_flops(small)  # the max and avg arms have the same count
    images = 55_000 * same["epochs"]
    out = {}
    for name, records in same["timings"].items():
        frame = pd.DataFrame(records)
        per_trial = 3 * flops * images / frame["training_s"]
        out[name] = float(per_trial.median())
    return {"forward_flops_per_image": flops, "training_flops_per_second": out}


# --- (d) time to 98.7 % -------------------------------------------------------------------


def time_to_accuracy(data_dir: Path, env: dict[str, str]) -> dict:
    """The seed's recipe and the shipped recipe side by side, one thread each."""
    seed = [sys.executable, str(HERE / "seed_script.py"), "--data-dir", str(data_dir)]
    seed += ["--epochs", "4", "--threads", "1"]  # both recipes reached 98.7 % by epoch 4
    shipped = [sys.executable, "-m", "cnnlab", "train", "--arch", "small", "--epochs", "4"]
    shipped += ["--batch-size", "128", "--threads", "1", "--data-dir", str(data_dir)]
    (_, seed_out), (_, shipped_out) = _parallel([seed, shipped], env)
    seed_run, shipped_run = _last_json(seed_out), _last_json(shipped_out)
    recipes = {
        "seed recipe (batch 32, 60,000 images)": (
            seed_run["epoch_seconds"],
            seed_run["test_accuracy"],
        ),
        "shipped recipe (batch 128, 55,000 images, per-epoch evaluation)": (
            [r["seconds"] + r["eval_seconds"] for r in shipped_run["history"]],
            [r["test_accuracy"] for r in shipped_run["history"]],
        ),
    }
    out = {}
    for name, (seconds, accuracies) in recipes.items():
        reached = next((i for i, a in enumerate(accuracies) if a >= TARGET_ACCURACY), None)
        out[name] = {
            "epoch_seconds": seconds,
            "test_accuracy": accuracies,
            "epochs_to_target": None if reached is None else reached + 1,
            "seconds_to_target": None if reached is None else sum(seconds[: reached + 1]),
        }
    return out


# --- (e) determinism, precision -----------------------------------------------------------

# One process training `small` on one thread for 2 epochs on 16,000 images (125 steps: enough
# for a steady per-step time at 30 % of an epoch's cost); prints each epoch's seconds. VARIANT picks
# what differs from the shipped training: op determinism off, XLA (which needs determinism
# off: Keras refuses jit_compile under it), or one step per call into TensorFlow.
ONE_EPOCH = """
import json, os, sys
from pathlib import Path
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras, tensorflow as tf
import cnnlab.training.train as train
from cnnlab.data import load_dataset, make_splits
from cnnlab.spec.presets import small
from cnnlab.spec.specs import DataSpec, TrainSpec, TrialSpec
tf.config.threading.set_intra_op_parallelism_threads(1)
variant = os.environ["VARIANT"]
if variant in ("determinism off", "XLA"):
    def seeded(seed):
        keras.backend.clear_session(); keras.utils.set_random_seed(seed)
    train.seed_everything = seeded
if variant == "XLA":
    compile_ = train._compile
    def with_xla(model, spec):
        model = compile_(model, spec)
        model.jit_compile = True
        return model
    train._compile = with_xla
if variant == "1 step per call":
    train.STEPS_PER_EXECUTION = 1
splits = make_splits(load_dataset("mnist", data_dir=Path(sys.argv[1])), seed=0, train_subset=16_000)
spec = TrialSpec(arch=small, train=TrainSpec(epochs=2, batch_size=128))
result = train.train_and_evaluate(spec, splits, seed=0)
print(json.dumps([r.seconds for r in result.history]))
"""

PRECISION_SWEEP = '''"""Mixed bfloat16 against float32 on `small`, paired by seed (throughput.py).

Question: how much faster is mixed bfloat16 on this CPU, and what does it do to test accuracy?
Prior: bf16 matmuls are native on AVX-512 BF16; accuracy should move by test-set noise at most.
Run:   python benchmarks/throughput.py (writes this file to a temporary folder and runs it)
Cost:  2 arms × SEEDS seeds × 1 epoch, about 20 s a trial.
"""
from cnnlab.spec import Factor, Sweep, TrainSpec, TrialSpec, small
SWEEP = Sweep(
    name="bench_precision",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=1, batch_size=128)),
    factors=(Factor(path="train.precision", levels=("float32", "mixed_bfloat16")),),
    seeds=SEEDS,
)
'''


SHIPPED = "shipped (determinism on, 16 steps per call)"
SINGLE_THREAD_PAIRS = (("determinism off", 2), ("1 step per call", 1), ("XLA", 1))


def one_thread_pairs(data_dir: Path, env: dict[str, str]) -> dict:
    """Each variant against the shipped training, one thread each, side by side on the two
    cores, the pair swapped each repeat. The second epoch is timed (the first traces)."""
    out = {}
    for variant, repeats in SINGLE_THREAD_PAIRS:
        times: dict[str, list[float]] = {SHIPPED: [], variant: []}
        for repeat in range(repeats):
            order = [SHIPPED, variant] if repeat % 2 == 0 else [variant, SHIPPED]
            processes = [
                subprocess.Popen(
                    [sys.executable, "-c", ONE_EPOCH, str(data_dir)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env={**env, "VARIANT": which},
                )
                for which in order
            ]
            for which, process in zip(order, processes, strict=True):
                stdout, stderr = process.communicate()
                if process.returncode:
                    raise RuntimeError(f"{which}: {stderr[-3000:]}")
                times[which].append(_last_json(stdout)[-1])
        shipped, other = statistics.median(times[SHIPPED]), statistics.median(times[variant])
        out[variant] = {
            "epoch_seconds": {k: _spread(v) for k, v in times.items()},
            "shipped_speedup": other / shipped,
        }
    return out


def precision(data_dir: Path, seeds: int, env: dict[str, str], tmp: Path) -> dict:
    """fp32 against mixed bf16: a cnnlab sweep of 1-epoch trials, paired by seed."""
    sweep_file = tmp / "bench_precision.py"
    sweep_file.write_text(PRECISION_SWEEP.replace("SEEDS", str(seeds)))
    runs = tmp / "runs-precision"
    command = [sys.executable, "-m", "cnnlab.sweep", str(sweep_file), "--runs-dir", str(runs)]
    _run([*command, "--no-report"], {**env, "CNNLAB_DATA_DIR": str(data_dir)}, cwd=tmp)
    frame = pd.read_csv(runs / "results" / "bench_precision" / "results.csv")
    wide = frame.pivot(index="seed", columns="arm", values="test_accuracy")
    speed = frame.groupby("arm")["seconds_per_epoch"].median()
    diff = (wide["mixed_bfloat16"] - wide["float32"]).to_numpy()
    t = stats.ttest_1samp(diff, 0.0)
    interval = t.confidence_interval(0.95)
    return {
        "seeds": len(diff),
        "seconds_per_epoch": {k: float(v) for k, v in speed.items()},
        "bf16_speedup": float(speed["float32"] / speed["mixed_bfloat16"]),
        "accuracy_difference_pp": {
            "mean": float(diff.mean() * 100),
            "ci95": [float(interval.low * 100), float(interval.high * 100)],
            "p": float(t.pvalue),
        },
    }


def memory(data_dir: Path, env: dict[str, str]) -> dict:
    command = [sys.executable, str(HERE / "worker_memory.py"), "--data-dir", str(data_dir)]
    result: dict = _last_json(_run(command, env)[1])
    return result


# --- the table ------------------------------------------------------------------------------


def markdown(results: dict) -> str:
    a = results["same_work"]
    lines = [
        f"Measured {results['date']} on {results['machine']}, `{results['command']}`.",
        "",
        f"**(a) The same work**: max vs avg, {a['trials']} trials × {a['epochs']} epochs "
        "(batch 128, 55,000 images, float32, op determinism on, validation and test after "
        "every epoch), whole-process wall time:",
        "",
        "| variant | wall s (median) | min | max | runs | replicate-epochs / h | × naive |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in a["rows"].items():
        w = row["wall_seconds"]
        lines.append(
            f"| {name} | {w['median']:.1f} | {w['min']:.1f} | {w['max']:.1f} | {w['n']} | "
            f"{row['replicate_epochs_per_hour']:.0f} | {row['ratio_to_naive']:.2f} |"
        )
    auto = a["rows"]["cnnlab --workers auto (default)"]
    lines += ["", f"Default workers against one worker: ×{auto['ratio_to_one_worker']:.2f}."]
    if a.get("naive_trial_seconds"):  # trials alone: what a long sweep approaches
        naive_trial = statistics.median(a["naive_trial_seconds"])
        auto_trials = [r["seconds"] for r in a["timings"]["cnnlab --workers auto (default)"]]
        auto_trial = statistics.median(auto_trials)
        workers = 2
        lines.append(
            f"Trials alone, start-up and the end left out: a naive trial took {naive_trial:.1f} s "
            f"on both cores (median of {len(a['naive_trial_seconds'])}), a cnnlab trial "
            f"{auto_trial:.1f} s on one core beside another ({len(auto_trials)}), {workers} at "
            f"a time: ×{naive_trial * workers / auto_trial:.2f} the naive loop's trials per hour."
        )
    d = results["time_to_accuracy"]
    seed = d["seed recipe (batch 32, 60,000 images)"]
    lines += [
        f"The seed's plain Keras script (batch 32, 60,000 images, one thread beside another "
        f"training): {statistics.median(seed['epoch_seconds']):.1f} s per epoch (median of "
        f"{len(seed['epoch_seconds'])}).",
        "",
        "**(b) Where a median max-arm trial's seconds go** (timings.csv):",
        "",
        "| variant | trial s | training | evaluation | model + final pass | Optuna | MLflow | "
        "artifacts | other | bookkeeping share |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    b = results["where_time_goes"]
    for name in a["timings"]:
        row, p = b[name], b[name]["parts"]
        lines.append(
            f"| {name} | {row['median_trial_seconds']:.1f} | {p['training_s']:.1f} | "
            f"{p['evaluation_s']:.2f} | {p['model_and_probes_s']:.2f} | {p['optuna_s']:.3f} | "
            f"{p['mlflow_s']:.3f} | {p['artifacts_s']:.3f} | {p['other_s']:.2f} | "
            f"{row['bookkeeping_share']:.2%} |"
        )
    starts = "; ".join(
        f"{name}: {spread['median']:.1f} s (median of {spread['n']})"
        for name, spread in b.get("startup_seconds", {}).items()
    )
    lines += ["", f"Start-up, from the command to its first trial's start: {starts}.", ""]
    c = results["flops"]
    peak = results["peak"]
    lines += [
        f"**(c) FLOP/s**: `small` trains at {c['forward_flops_per_image'] / 1e6:.2f} forward "
        "MFLOP per image (× 3 for forward and backward).",
        "",
        "| variant | training GFLOP/s per training | matmul peak GFLOP/s | share |",
        "|---|---|---|---|",
    ]
    for name, rate in c["training_flops_per_second"].items():
        reference = peak["1 thread"] if "auto" in name else peak["all cores"]
        lines.append(
            f"| {name} | {rate / 1e9:.1f} | {reference / 1e9:.1f} "
            f"({'1 thread' if 'auto' in name else 'all cores'}) | {rate / reference:.1%} |"
        )
    lines += ["", "**(d) Wall time to 98.7 % test accuracy** (one thread each, side by side):", ""]
    lines += ["| recipe | test accuracy per epoch | epochs | seconds |", "|---|---|---|---|"]
    for name, row in d.items():
        accuracies = ", ".join(f"{x:.2%}" for x in row["test_accuracy"])
        reached = row["seconds_to_target"]
        lines.append(
            f"| {name} | {accuracies} | {row['epochs_to_target'] or 'not reached'} | "
            f"{'—' if reached is None else f'{reached:.1f}'} |"
        )
    pr = results["precision"]
    diff = pr["accuracy_difference_pp"]
    lines += [
        "",
        "**(e) What else was tried** (each its own row, never folded into (a)). Single-thread "
        "rows: one thread each, the variant beside the shipped training on the other core, "
        "16,000 images, the second epoch timed, medians:",
        "",
        "| variant | measured | paid? |",
        "|---|---|---|",
    ]
    verdicts = {
        "determinism off": "kept on: bit-identical histories are the promise",
        "1 step per call": "16 steps per call shipped: same bits, fewer calls",
        "XLA": "not shipped: XLA's CPU convolutions are slower here",
    }
    for variant, row in results["one_thread_pairs"].items():
        times = row["epoch_seconds"]
        mine, shipped = times[variant], times[SHIPPED]
        lines.append(
            f"| {variant} ({mine['n']} pair{'s' if mine['n'] > 1 else ''}) | "
            f"{mine['median']:.2f} s against {shipped['median']:.2f} s shipped: the shipped "
            f"training is ×{row['shipped_speedup']:.2f} as fast | {verdicts[variant]} |"
        )
    lines += [
        f"| mixed bfloat16 against float32 ({pr['seeds']} paired seeds, 1 epoch) | "
        f"×{pr['bf16_speedup']:.2f} speed; accuracy {diff['mean']:+.2f} pp "
        f"(95 % CI {diff['ci95'][0]:+.2f} to {diff['ci95'][1]:+.2f}) | not the default: "
        "it changes the numbers every claim is judged on |",
    ]
    f = results["memory"]
    rss = f["rss_mib"]
    steps = [b - a for a, b in itertools.pairwise(rss)]
    biggest = max(range(len(steps)), key=lambda i: steps[i])
    tail = rss[10:]
    slope = stats.linregress(range(len(tail)), tail).slope if len(tail) > 2 else float("nan")
    lines += [
        "",
        f"**(f) Worker memory**: one worker's resident memory over {f['trials']} trials went "
        f"from {rss[4]:.0f} MiB (after the 5th) to {rss[-1]:.0f} MiB "
        f"({f['growth_after_warmup']:+.1%}); the largest step between two trials was "
        f"{steps[biggest]:+.0f} MiB (at trial {biggest + 2}); from the 11th trial on it "
        f"grew {slope:+.2f} MiB per trial (least squares) and "
        f"{(rss[-1] - rss[10]) / rss[10]:+.1%} in all.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("CNNLAB_DATA_DIR"))
    parser.add_argument("--seeds", type=int, default=4, help="paired seeds in (a) (2× trials)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of (a), order rotated")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument(
        "--table-only", action="store_true", help="rewrite throughput.md from throughput.json"
    )
    args = parser.parse_args()
    if args.table_only:
        table = markdown(json.loads((args.out / "throughput.json").read_text()))
        (args.out / "throughput.md").write_text(table)
        print(table)
        return
    if args.data_dir is None:
        parser.error("--data-dir (or CNNLAB_DATA_DIR) must name the MNIST folder")
    data_dir = args.data_dir.resolve()
    env = {**os.environ, "CNNLAB_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
        "command": "python benchmarks/throughput.py " + " ".join(sys.argv[1:]),
    }
    args.out.mkdir(parents=True, exist_ok=True)

    def save(section: str, value: Any) -> None:  # after each section: a crash keeps the rest
        results[section] = value
        results["bench_seconds"] = time.perf_counter() - started
        (args.out / "throughput.json").write_text(json.dumps(results, indent=1, default=str))
        print(f"{section} done ({results['bench_seconds'] / 60:.1f} min)", flush=True)

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        save("same_work", same_work(data_dir, args.seeds, args.rounds, env, tmp))
        save("where_time_goes", where_time_goes(results["same_work"]))
        save("peak", peak_flops(env))
        save("flops", achieved_flops(results["same_work"]))
        save("time_to_accuracy", time_to_accuracy(data_dir, env))
        save("one_thread_pairs", one_thread_pairs(data_dir, env))
        save("precision", precision(data_dir, args.seeds + 1, env, tmp))
        save("memory", memory(data_dir, env))
    table = markdown(results)
    (args.out / "throughput.md").write_text(table)
    print(table)
    print(f"benchmark took {results['bench_seconds'] / 60:.1f} min")


if __name__ == "__main__":
    main()
