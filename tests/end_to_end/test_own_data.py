"""Your own data, end to end through `python -m cnnlab.sweep`, as a user runs it: the shipped
CIFAR-10 sweep on a synthetic cache in Keras' format (32×32×3), and a sweep on an `.npz`
whose change refuses resume."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration


def _sweep(
    folder: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cnnlab.sweep", *args],
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ, **(env or {})},
        timeout=900,
    )


def _cifar_cache(folder: Path, per_batch: int, test: int) -> None:
    """Keras' cifar-10-batches-py layout: five training batches and a test batch, each a
    pickled dict of N×3072 channels-first rows and their labels; a learnable bright square
    whose corner is the class."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k, name in enumerate([*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]):
        count = test if name == "test_batch" else per_batch
        labels = (np.arange(count) + k) % 10
        images = rng.integers(0, 80, size=(count, 32, 32, 3), dtype=np.uint8)
        for i, label in enumerate(labels):
            row, col = divmod(int(label), 5)
            images[i, 4 + 12 * row : 12 + 12 * row, 2 + 6 * col : 6 + 6 * col, :] = 255
        rows = images.transpose(0, 3, 1, 2).reshape(count, 3072)
        batch = {b"data": rows, b"labels": labels.tolist()}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


def test_the_cifar10_sweep_runs_quick_on_a_cache_in_keras_format(tmp_path: Path) -> None:
    keras_home = tmp_path / "keras"
    # 5 × 1,100 training images: the sweep holds out 5,000 for validation and trains on 500;
    # 10,000 test images, as the sweep declares.
    _cifar_cache(keras_home / "datasets" / "cifar-10-batches-py", per_batch=1_100, test=10_000)
    sweep_file = REPO / "experiments" / "cifar10_pooling.py"
    done = _sweep(tmp_path, str(sweep_file), "--quick", env={"KERAS_HOME": str(keras_home)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cifar10 (32×32×3, 10 classes, uint8 pixels scaled by 1/255; 10,000 test images)" in (
        done.stderr
    )
    results = pd.read_csv(tmp_path / "runs" / "results" / "cifar10_pooling-quick" / "results.csv")
    assert sorted(results["arm"].unique()) == ["avg", "max"] and len(results) == 6
    assert (results["params"] > 0).all()
    provenance = json.loads(
        (tmp_path / "reports" / "cifar10_pooling-quick" / "provenance.json").read_text()
    )
    assert provenance["dataset"] == "cifar10"
    assert set(provenance["data_sha256"]) == {"x_train", "y_train", "x_test", "y_test"}


def _npz(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_train, y_test = np.arange(600) % 3, np.arange(90) % 3
    x_train = rng.integers(0, 60, size=(600, 12, 12), dtype=np.uint8)
    x_test = rng.integers(0, 60, size=(90, 12, 12), dtype=np.uint8)
    for x, y in ((x_train, y_train), (x_test, y_test)):
        for i, label in enumerate(y):
            x[i, 2 + 3 * int(label) : 4 + 3 * int(label), 2:10] = 255
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


SWEEP_FILE = """\"\"\"Max vs avg on bars.npz (a test's sweep).

Question: does pooling matter on bars? Prior: none. Run: python -m cnnlab.sweep tiny_own.py.
Cost: seconds.
\"\"\"
from cnnlab.spec import ArchSpec, ConvBlock, DataSpec, Factor, OwnData, Sweep, TrainSpec, TrialSpec

net = ArchSpec(blocks=(ConvBlock(filters=4),), input_shape=(12, 12, 1), dense_units=(8,),
               num_classes=3)
SWEEP = Sweep(
    name="tiny_own",
    base=TrialSpec(arch=net, train=TrainSpec(epochs=1, batch_size=64),
                   data=DataSpec(dataset=OwnData(name="bars", path="bars.npz"),
                                 validation_size=100)),
    factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
    seeds=SEEDS,
)
"""


def test_a_changed_npz_refuses_resume_and_a_network_that_does_not_fit_is_refused(
    tmp_path: Path,
) -> None:
    _npz(tmp_path / "bars.npz", seed=1)
    (tmp_path / "tiny_own.py").write_text(SWEEP_FILE.replace("SEEDS", "1"))
    first = _sweep(tmp_path, "tiny_own.py", "--workers", "1", "--no-report")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "bars (12×12×1, 3 classes, uint8 pixels scaled by 1/255; 90 test images)" in (
        first.stderr
    )

    # Two seeds now: the study resumes, on the same data.
    (tmp_path / "tiny_own.py").write_text(SWEEP_FILE.replace("SEEDS", "(0, 1)"))
    _npz(tmp_path / "bars.npz", seed=2)  # the same shapes, other pixels
    refused = _sweep(tmp_path, "tiny_own.py", "--workers", "1", "--no-report")
    assert refused.returncode != 0
    assert "The dataset changed since study 'tiny_own' was started: x_test" in refused.stderr
    assert "--new-study" in refused.stderr and "Traceback" not in refused.stderr

    _npz(tmp_path / "bars.npz", seed=1)  # restored: resumes and trains the new seed only
    resumed = _sweep(tmp_path, "tiny_own.py", "--workers", "1", "--no-report")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming study tiny_own: 2 of 4 cells finished; 2 to run." in resumed.stderr

    wrong = SWEEP_FILE.replace("SEEDS", "1").replace("(12, 12, 1)", "(28, 28, 1)")
    (tmp_path / "tiny_own.py").write_text(wrong)
    misfit = _sweep(tmp_path, "tiny_own.py", "--workers", "1", "--no-report")
    assert misfit.returncode != 0
    assert "takes 28×28×1 images" in misfit.stderr and "input_shape=(12, 12, 1)" in misfit.stderr
    assert "Traceback" not in misfit.stderr


def test_the_digits_example_runs_quick_with_its_own_network_and_an_edit_refuses_resume(
    tmp_path: Path,
) -> None:
    for name in ("digits_pooling.py", "digits.npz"):
        (tmp_path / name).write_bytes((REPO / "experiments" / name).read_bytes())
    # Two worker processes: each imports the build function from the sweep file by its path.
    done = _sweep(tmp_path, "digits_pooling.py", "--quick", "--workers", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Your network digits_pooling:build" in done.stderr
    assert "{'pooling': 'avg'}: 13,706 parameters" in done.stderr
    results = pd.read_csv(tmp_path / "runs" / "results" / "digits_pooling-quick" / "results.csv")
    assert len(results) == 6 and (results["init_paired"] == 1.0).all()
    assert results.groupby("seed")["init_hash"].nunique().eq(1).all()  # paired: same start
    report = (tmp_path / "reports" / "digits_pooling-quick" / "README.md").read_text()
    assert "100.0 % of the trainable parameters were paired" in report
    assert "| 0 | 142 | 36 |" in report  # class 0's training and test images

    sweep_file = tmp_path / "digits_pooling.py"
    sweep_file.write_text(sweep_file.read_text().replace("Dense(64,", "Dense(48,"))
    edited = _sweep(tmp_path, "digits_pooling.py", "--quick", "--workers", "1")
    assert edited.returncode != 0
    assert "The sweep definition changed since study 'digits_pooling-quick'" in edited.stderr
    assert "source_sha256" in edited.stderr and "--new-study" in edited.stderr


def test_a_network_that_raises_is_reported_at_its_line_and_a_dry_run_builds_every_arm(
    tmp_path: Path,
) -> None:
    for name in ("digits_pooling.py", "digits.npz"):
        (tmp_path / name).write_bytes((REPO / "experiments" / name).read_bytes())
    dry = _sweep(tmp_path, "digits_pooling.py", "--dry-run")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "ok  digits_pooling/max: 13,706 parameters" in dry.stderr
    assert "ok  digits_pooling/avg: 13,706 parameters" in dry.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "reports").exists()

    sweep_file = tmp_path / "digits_pooling.py"
    text = sweep_file.read_text()
    broken = text.replace('x = pool(2, name="pool2")(x)', 'x = pool(hp["size"], name="pool2")(x)')
    assert broken != text
    sweep_file.write_text(broken)
    line = broken.splitlines().index('    x = pool(hp["size"], name="pool2")(x)') + 1
    raised = _sweep(tmp_path, "digits_pooling.py", "--workers", "1")
    assert raised.returncode != 0
    assert f'digits_pooling.py, line {line}: x = pool(hp["size"]' in raised.stderr
    assert "KeyError" in raised.stderr and "Traceback" not in raised.stderr
    assert "Starting" not in raised.stderr  # refused before any worker started
