"""A corpus of bad inputs, each refused before any work starts.

Every entry runs the real command line in a fresh process and must end with a non-zero exit,
no traceback, and one message that names the file or option, the value, and the fix; the
runs folder it was given is left exactly as it was. Where the input can be checked without
TensorFlow, the process runs with a `tensorflow` that refuses to be imported: the refusal has
to come first.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.end_to_end.servers import missing

pytestmark = pytest.mark.integration

NO_TENSORFLOW = "raise ImportError('cnnlab imported TensorFlow before refusing a bad input')\n"


@dataclass(frozen=True)
class Bad:
    name: str
    argv: tuple[str, ...]  # after `python -m cnnlab`; {runs}, {tmp}, {file} are filled in
    says: tuple[str, ...]  # in the message: the option or file, the value, the fix


SWEEP_HEAD = '''"""A user's sweep.

Question: does it load?
"""
from cnnlab.spec.design import Factor, Sweep
from cnnlab.spec.presets import get_preset
from cnnlab.spec.specs import TrialSpec
BASE = TrialSpec(arch=get_preset("small"))
'''

SWEEP_FILES = {
    "raises.py": SWEEP_HEAD + "import json\n\nCONFIG = json.loads('{')\n",
    "syntax.py": SWEEP_HEAD + "SWEEP = Sweep(name='x',\n",
    "no_sweep.py": SWEEP_HEAD + "OTHER = 1\n",
    "not_a_sweep.py": SWEEP_HEAD + "SWEEP = {'name': 'x'}\n",
    "no_docstring.py": "from cnnlab.spec.design import Sweep\nSWEEP = None\n",
    "same_levels.py": SWEEP_HEAD
    + "SWEEP = Sweep(name='same', base=BASE, factors=(Factor(path='arch.pooling', "
    "levels=('max', 'max'), labels=('a', 'b')),), seeds=2)\n",
    "same_labels.py": SWEEP_HEAD
    + "SWEEP = Sweep(name='labels', base=BASE, factors=(Factor(path='arch.dropout', "
    "levels=(0.1, 0.2), labels=('d', 'd')),), seeds=2)\n",
    "bad_path.py": SWEEP_HEAD
    + "SWEEP = Sweep(name='path', base=BASE, factors=(Factor(path='arch.poolng', "
    "levels=('max', 'avg')),), seeds=2)\n",
    "bad_level.py": SWEEP_HEAD
    + "SWEEP = Sweep(name='level', base=BASE, factors=(Factor(path='arch.pooling', "
    "levels=('max', 'maxx')),), seeds=2)\n",
    # The commonest Python slip in a sweep file: a one-element tuple without its comma.
    "no_comma.py": SWEEP_HEAD
    + "SWEEP = Sweep(name='comma', base=BASE, factors=(Factor(path='arch.pooling', "
    "levels=('max', 'avg'))), seeds=2)\n",
    # Sizes that pass the spec's own checks but not the dataset: refused before TensorFlow.
    "big_validation.py": SWEEP_HEAD
    + "from cnnlab.spec.specs import DataSpec\n"
    + "SWEEP = Sweep(name='bigval', base=TrialSpec(arch=BASE.arch, data=DataSpec("
    "validation_size=60000)), factors=(Factor(path='arch.pooling', levels=('max', 'avg')),), "
    "seeds=2)\n",
    "big_subset.py": SWEEP_HEAD
    + "from cnnlab.spec.specs import DataSpec\n"
    + "SWEEP = Sweep(name='bigsub', base=TrialSpec(arch=BASE.arch, data=DataSpec("
    "train_subset=10**7)), factors=(Factor(path='arch.pooling', levels=('max', 'avg')),), "
    "seeds=2)\n",
}

OWN_HEAD = SWEEP_HEAD + "from cnnlab.spec import DataSpec, Network, OwnData\nimport dataclasses\n"


def _own(name: str, path: str, arch: str = "BASE.arch", fmt: str = "") -> str:
    """A sweep on your own data at `path` (relative to the corpus folder)."""
    return (
        OWN_HEAD
        + f"DATA = DataSpec(dataset=OwnData(name='mine', path={path!r}{fmt}), validation_size=20)\n"
        + f"SWEEP = Sweep(name={name!r}, base=TrialSpec(arch={arch}, data=DATA), "
        "factors=(Factor(path='arch.pooling', levels=('max', 'avg')),), seeds=2)\n"
    )


SWEEP_FILES.update(
    {
        "own_missing.py": _own("own_missing", "nowhere/mine.npz"),
        "own_nan.py": _own("own_nan", "nan.npz"),
        "own_labels.py": _own("own_labels", "labels.npz"),
        "own_counts.py": _own("own_counts", "counts.npz"),
        "own_corrupt.py": _own("own_corrupt", "corrupt.npz"),
        "own_shape.py": _own("own_shape", "good12.npz"),  # `small` takes 28×28×1
        "own_classes.py": _own(
            "own_classes", "good12.npz", "dataclasses.replace(BASE.arch, input_shape=(12, 12, 1))"
        ),
        "own_no_test.py": _own("own_no_test", "pictures"),
        "own_format.py": _own("own_format", "good12.npz", fmt=", format='image_folder'"),
        "own_lambda.py": OWN_HEAD
        + "SWEEP = Sweep(name='lam', base=TrialSpec(arch=Network(build=lambda hp: None, "
        "hp={'pooling': 'max'})), factors=(Factor(path='arch.hp.pooling', "
        "levels=('max', 'avg')),), seeds=2)\n",
        "own_hp.py": OWN_HEAD
        + "def build(hp):\n    return None\n\n\n"
        + "SWEEP = Sweep(name='hp', base=TrialSpec(arch=Network(build=build, "
        "hp={'pooling': 'max'})), factors=(Factor(path='arch.hp.poolng', "
        "levels=('max', 'avg')),), seeds=2)\n",
    }
)


def _own_files(folder: Path) -> None:
    """The data the own_*.py sweeps read: each .npz wrong in one way (good12.npz is right)."""
    import numpy as np

    rng = np.random.default_rng(0)
    good = {
        "x_train": rng.integers(0, 255, size=(100, 12, 12), dtype=np.uint8),
        "y_train": np.arange(100) % 3,
        "x_test": rng.integers(0, 255, size=(30, 12, 12), dtype=np.uint8),
        "y_test": np.arange(30) % 3,
    }
    nan = {**good, "x_train": np.full((100, 12, 12), np.nan, dtype=np.float32)}
    labels = {**good, "y_test": np.arange(30) % 3 + 5}
    counts = {**good, "y_train": np.arange(99) % 3}
    for name, arrays in (("good12", good), ("nan", nan), ("labels", labels), ("counts", counts)):
        np.savez(folder / f"{name}.npz", **arrays)
    (folder / "corrupt.npz").write_bytes((folder / "good12.npz").read_bytes()[:500])
    (folder / "pictures" / "train" / "cat").mkdir(parents=True)
    from PIL import Image

    Image.new("L", (12, 12), 9).save(folder / "pictures" / "train" / "cat" / "0.png")


GOOD_REPORT = Path(__file__).resolve().parents[2] / "reports" / "max_vs_avg"


def _damaged_tables() -> dict[str, str]:
    """A results.csv per damage a report must refuse (the committed max_vs_avg table, edited)."""
    text = (GOOD_REPORT / "results.csv").read_text()
    header, *rows = text.rstrip("\n").split("\n")
    columns = header.split(",")
    accuracy = columns.index("test_accuracy")

    def with_accuracy(row: str, value: str) -> str:
        cells = row.split(",")
        cells[accuracy] = value
        return ",".join(cells)

    return {
        "accuracy-above-one": "\n".join([header, with_accuracy(rows[0], "1.7"), *rows[1:]]) + "\n",
        "conflicting-duplicate": "\n".join(
            [header, *rows, with_accuracy(rows[0], rows[1].split(",")[accuracy])]
        )
        + "\n",
        "another-sweeps-table": (GOOD_REPORT.parent / "dropout" / "results.csv").read_text(),
        "a-row-cut-in-half": text.rstrip("\n")[: text.rstrip("\n").rindex("\n") + 60],
        "empty": "",
    }


CORPUS = [
    # sweep files
    Bad("a sweep file that raises", ("sweep", "{tmp}/raises.py"), ("raises.py, line 11", "JSONDecodeError")),
    Bad("a syntax error", ("sweep", "{tmp}/syntax.py"), ("syntax.py, line", "syntax error")),
    Bad("no SWEEP", ("sweep", "{tmp}/no_sweep.py"), ("no_sweep.py", "SWEEP = Sweep(...)")),
    Bad("SWEEP of another type", ("sweep", "{tmp}/not_a_sweep.py"), ("not_a_sweep.py", "dict")),
    Bad("no docstring", ("sweep", "{tmp}/no_docstring.py"), ("no_docstring.py", "docstring")),
    Bad("two labels, one value", ("sweep", "{tmp}/same_levels.py"), ("levels", "'max'", "Remove one")),
    Bad("repeated labels", ("sweep", "{tmp}/same_labels.py"), ("labels", "'d'", "own label")),
    Bad("a misspelt field path", ("sweep", "{tmp}/bad_path.py"), ("arch.poolng", "Did you mean 'arch.pooling'")),
    Bad("a misspelt level", ("sweep", "{tmp}/bad_level.py"), ("'maxx'", "Did you mean 'max'")),
    Bad("a sweep file that is not there", ("sweep", "{tmp}/nowhere.py"), ("nowhere.py", "no such file")),
    Bad("a one-Factor tuple without its comma", ("sweep", "{tmp}/no_comma.py"), ("`factors` must be a tuple", "factors=(Factor(...),)", "trailing comma")),
    # your own data and network (issue 25): refused before TensorFlow, from the data's file
    Bad("own data that is not there", ("sweep", "{tmp}/own_missing.py", "--runs-dir", "{runs}"), ("Your dataset 'mine'", "nowhere/mine.npz", "does not exist", "Fix the path")),
    Bad("own data with NaN pixels", ("sweep", "{tmp}/own_nan.py", "--runs-dir", "{runs}"), ("nan.npz", "`x_train` has 14,400 NaN or infinite", "Clean or drop")),
    Bad("own test labels outside the training classes", ("sweep", "{tmp}/own_labels.py", "--runs-dir", "{runs}"), ("labels.npz", "`y_test` holds the label 7", "classes 0–2 only")),
    Bad("own data with more images than labels", ("sweep", "{tmp}/own_counts.py", "--runs-dir", "{runs}"), ("counts.npz", "100 images but 99 labels in `y_train`")),
    Bad("own data in a truncated .npz", ("sweep", "{tmp}/own_corrupt.py", "--runs-dir", "{runs}"), ("corrupt.npz", "truncated or not a valid .npz", "numpy.savez")),
    Bad("own data of another size than the network takes", ("sweep", "{tmp}/own_shape.py", "--runs-dir", "{runs}"), ("arch.input_shape", "takes 28×28×1 images", "12×12×1", "input_shape=(12, 12, 1)")),
    Bad("own data with fewer classes than the network predicts", ("sweep", "{tmp}/own_classes.py", "--runs-dir", "{runs}"), ("arch.num_classes", "predicts 10 classes", "has 3", "num_classes=3")),
    Bad("an image folder without test/", ("sweep", "{tmp}/own_no_test.py", "--runs-dir", "{runs}"), ("pictures", "has no test/ folder", "train/cat/*.png")),
    Bad("an .npz declared as an image folder", ("sweep", "{tmp}/own_format.py", "--runs-dir", "{runs}"), ("good12.npz", "is a file, but format 'image_folder'", "format='npz'")),
    Bad("a network built by a lambda", ("sweep", "{tmp}/own_lambda.py", "--runs-dir", "{runs}"), ("own_lambda.py", "`arch.build` is a lambda", "def build(hp):")),
    Bad("a factor on a misspelt hyperparameter", ("sweep", "{tmp}/own_hp.py", "--runs-dir", "{runs}"), ("arch.hp.poolng", "no 'poolng'", "Did you mean 'pooling'")),
    # cnnlab sweep
    Bad("a misspelt sweep name", ("sweep", "poolng", "--runs-dir", "{runs}"), ("'poolng'", "Did you mean 'pooling'")),
    Bad("--runs-dir is a file", ("sweep", "max_vs_avg", "--runs-dir", "{file}"), ("--runs-dir", "a file", "Name a folder")),
    Bad("--runs-dir is read-only", ("sweep", "max_vs_avg", "--runs-dir", "{readonly}/runs"), ("--runs-dir", "not writable")),
    Bad("--reports-dir under a file", ("sweep", "max_vs_avg", "--runs-dir", "{runs}", "--reports-dir", "{file}/r"), ("--reports-dir", "is a file")),
    Bad("--tracking-uri with nothing listening", ("sweep", "max_vs_avg", "--runs-dir", "{runs}", "--tracking-uri", "http://127.0.0.1:1"), ("--tracking-uri", "127.0.0.1:1", "Start it")),
    Bad("--storage of an unknown database", ("sweep", "max_vs_avg", "--runs-dir", "{runs}", "--storage", "nonsense://x"), ("--storage", "'nonsense'", "postgresql://")),
    Bad("--storage with nothing listening", ("sweep", "max_vs_avg", "--runs-dir", "{runs}", "--storage", "postgresql://me:hunter2@127.0.0.1:1/db"), ("--storage", "me:***@", "running")),
    Bad("--dry-run with a broken --storage", ("sweep", "max_vs_avg", "--dry-run", "--runs-dir", "{runs}", "--storage", "sqlite:///{file}/x.db"), ("--storage", "is a file")),
    Bad("--seeds 0", ("sweep", "max_vs_avg", "--seeds", "0", "--runs-dir", "{runs}"), ("--seeds", "0", "at least 1")),
    Bad("--epochs -1", ("sweep", "max_vs_avg", "--epochs", "-1", "--runs-dir", "{runs}"), ("--epochs", "-1")),
    Bad("--workers 0", ("sweep", "max_vs_avg", "--workers", "0", "--runs-dir", "{runs}"), ("--workers", "0")),
    Bad("--max-time not a duration", ("sweep", "max_vs_avg", "--max-time", "soon", "--runs-dir", "{runs}"), ("--max-time", "'soon'", "20m")),
    Bad("a misspelt --dataset", ("sweep", "max_vs_avg", "--dataset", "mnst", "--runs-dir", "{runs}"), ("--dataset", "'mnst'", "Did you mean 'mnist'")),
    Bad("--data-dir that is not there", ("sweep", "max_vs_avg", "--data-dir", "{tmp}/no-data", "--runs-dir", "{runs}"), ("--data-dir", "no-data")),
    Bad("--dead-after not a duration", ("sweep", "max_vs_avg", "--dead-after", "long", "--runs-dir", "{runs}"), ("--dead-after", "'long'")),
    Bad("--storage naming a folder", ("sweep", "max_vs_avg", "--storage", "{tmp}", "--runs-dir", "{runs}"), ("--storage", "names a folder", "optuna.journal")),
    Bad("--storage sqlite naming a folder", ("sweep", "max_vs_avg", "--storage", "sqlite:///{tmp}", "--runs-dir", "{runs}"), ("--storage sqlite:///", "names a folder", "optuna.db")),
    Bad("--max-time 0", ("sweep", "max_vs_avg", "--max-time", "0", "--runs-dir", "{runs}"), ("--max-time 0s", "would start no cell", "--max-time 20m")),
    Bad("--dead-after 0", ("sweep", "max_vs_avg", "--dead-after", "0", "--runs-dir", "{runs}"), ("--dead-after 0s", "too short", "at least --dead-after 10s")),
    Bad("--dead-after 5s", ("sweep", "max_vs_avg", "--dead-after", "5s", "--runs-dir", "{runs}"), ("--dead-after 5s", "too short")),
    Bad("--cells-from that is not there", ("sweep", "max_vs_avg", "--cells-from", "{tmp}/none.jsonl", "--runs-dir", "{runs}"), ("--cells-from", "none.jsonl", "no such file", "cnnlab studies --export")),
    Bad("--cells-from that is not an archive", ("sweep", "max_vs_avg", "--cells-from", "{file}", "--runs-dir", "{runs}"), ("--cells-from", "line 1", "cnnlab studies --export")),
    Bad("--archive naming a folder", ("sweep", "max_vs_avg", "--archive", "{tmp}", "--runs-dir", "{runs}"), ("--archive", "is a folder", "name a file")),
    # cnnlab worker
    Bad("a worker with no study database", ("worker", "max_vs_avg", "--storage", "sqlite:///{tmp}/none.db", "--runs-dir", "{runs}"), ("none.db", "does not exist", "Start the sweep first")),
    Bad("a worker whose study was never started", ("worker", "max_vs_avg", "--runs-dir", "{runs}", "--storage", "sqlite:///{runs}/optuna.db"), ("max_vs_avg", "Start the sweep first")),
    Bad("a worker given --new-study", ("worker", "max_vs_avg", "--new-study", "--runs-dir", "{runs}"), ("--new-study",)),
    Bad("a worker with a misspelt sweep", ("worker", "max_vs_ave", "--runs-dir", "{runs}"), ("'max_vs_ave'", "Did you mean 'max_vs_avg'")),
    # cnnlab train
    Bad("a negative --lr", ("train", "--lr", "-1"), ("--lr", "-1.0")),
    Bad("a misspelt --arch", ("train", "--arch", "smal"), ("--arch", "'smal'", "Did you mean 'small'")),
    Bad("a misspelt --pooling", ("train", "--pooling", "maxx"), ("--pooling", "'maxx'", "Did you mean 'max'")),
    Bad("--first-kernel 0", ("train", "--first-kernel", "0"), ("--first-kernel", "0", "between 1 and 31")),
    Bad("--batch-size 0", ("train", "--batch-size", "0"), ("--batch-size", "0")),
    Bad("a misspelt --optimizer", ("train", "--optimizer", "adm"), ("--optimizer", "'adm'", "Did you mean 'adam'")),
    Bad("--archive naming a file that is not an archive", ("sweep", "max_vs_avg", "--runs-dir", "{runs}", "--archive", "{file}"), ("--archive", "a-file", "line 1", "name a new file")),
    Bad("a raw '@' in the --storage password", ("sweep", "max_vs_avg", "--runs-dir", "{runs}", "--storage", "postgresql://me:hunter2@x@127.0.0.1:1/db"), ("--storage", "me:***@", "not percent-encoded", "%40", "PGPASSWORD")),
    Bad("--tracking-uri of a scheme MLflow has no store for", ("sweep", "max_vs_avg", "--runs-dir", "{runs}", "--tracking-uri", "ftp://127.0.0.1/x"), ("--tracking-uri", "ftp://", "http://HOST:PORT")),
    Bad("--tracking-uri with no host", ("sweep", "max_vs_avg", "--runs-dir", "{runs}", "--tracking-uri", "https://"), ("--tracking-uri", "'https://'", "names no host", "https://HOST:PORT")),
    Bad("grant to a server that does not answer", ("grant", "--tracking-uri", "http://127.0.0.1:1", "--experiment", "x", "--user", "u"), ("--tracking-uri", "127.0.0.1:1", "did not answer")),
    Bad("grant to a local store", ("grant", "--tracking-uri", "sqlite:///{tmp}/mlflow.db", "--experiment", "x", "--user", "u"), ("--tracking-uri", "mlflow.db", "http(s)://HOST:PORT")),
    Bad("validation_size above the training set, in a dry run", ("sweep", "{tmp}/big_validation.py", "--dry-run", "--data-dir", "{mnist}", "--runs-dir", "{runs}"), ("data.validation_size", "60,000", "Change `data.validation_size`")),
    Bad("train_subset above the images left", ("sweep", "{tmp}/big_subset.py", "--data-dir", "{mnist}", "--runs-dir", "{runs}"), ("data.train_subset", "10,000,000", "Change `data.train_subset`")),
    # report, studies, ui
    Bad("a report whose table has an accuracy of 1.7", ("report", "max_vs_avg", "--reports-dir", "{tmp}/reports-accuracy-above-one"), ("results.csv, line 2", "`test_accuracy` is 1.7", "outside its range")),
    Bad("a report whose table has a cell twice with two results", ("report", "max_vs_avg", "--reports-dir", "{tmp}/reports-conflicting-duplicate"), ("results.csv", "different test accuracies")),
    Bad("a report given another sweep's table", ("report", "max_vs_avg", "--reports-dir", "{tmp}/reports-another-sweeps-table"), ("results.csv", "arm 'd0' is not an arm of sweep 'max_vs_avg'")),
    Bad("a report whose table's last row is cut in half", ("report", "max_vs_avg", "--reports-dir", "{tmp}/reports-a-row-cut-in-half"), ("results.csv, line 11", "is empty")),
    Bad("a report whose table is empty", ("report", "max_vs_avg", "--reports-dir", "{tmp}/reports-empty"), ("results.csv is empty", "not even a header row")),
    Bad("a report never written", ("report", "pooling", "--reports-dir", "{tmp}/no-reports"), ("no-reports/pooling", "no report to rebuild", "python -m cnnlab.sweep pooling")),
    Bad("a report of a misspelt sweep", ("report", "poolng", "--reports-dir", "{tmp}/no-reports"), ("poolng", "Did you mean 'pooling'")),
    Bad("studies: delete a study that is not there", ("studies", "--runs-dir", "{runs}", "--storage", "sqlite:///{runs}/optuna.db", "--delete", "nosuch"), ("'nosuch'",)),
    Bad("studies: an unknown database", ("studies", "--storage", "nonsense://x"), ("--storage", "'nonsense'")),
    Bad("ui: --runs-dir is a file", ("ui", "--runs-dir", "{file}"), ("--runs-dir", "a file")),
    Bad("ui: a port out of range", ("ui", "--runs-dir", "{runs}", "--port", "70000"), ("--port", "70000")),
]  # fmt: skip


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file's SHA-256 and every folder, by path (Python's own bytecode caches aside)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "folder"
        for p in folder.rglob("*")
        if "__pycache__" not in p.parts and not p.is_symlink()
    }


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The corpus' files: sweep files, a plain file, a runs folder with a study database in
    it, a read-only folder (root: a read-only bind mount) and a `tensorflow` that refuses."""
    tmp = tmp_path_factory.mktemp("bad-inputs")
    for name, text in SWEEP_FILES.items():
        (tmp / name).write_text(textwrap.dedent(text))
    (tmp / "a-file").write_text("not a folder\n")
    _own_files(tmp)
    runs = tmp / "runs"
    runs.mkdir()
    from cnnlab.sweep.stores.studies import default_storage_url, open_storage

    open_storage(default_storage_url(runs))  # an empty study database, as after `cnnlab studies`
    (runs / "kept.txt").write_text("a file the runs folder already had\n")
    for damage, table in _damaged_tables().items():
        report = tmp / f"reports-{damage}" / "max_vs_avg"
        shutil.copytree(GOOD_REPORT, report)
        (report / "results.csv").write_text(table)
    shim = tmp / "shim" / "tensorflow"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(NO_TENSORFLOW)
    readonly = tmp / "readonly"
    readonly.mkdir()
    mounted = False
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", str(readonly), str(readonly)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(readonly)], check=True)
        mounted = True
    yield {
        "tmp": tmp,
        "runs": runs,
        "file": tmp / "a-file",
        "readonly": readonly,
        "shim": shim.parent,
    }
    if mounted:
        subprocess.run(["umount", "-l", str(readonly)], check=False)


@pytest.mark.parametrize("bad", CORPUS, ids=[bad.name for bad in CORPUS])
def test_a_bad_input_is_refused_before_any_work(
    bad: Bad, bench: dict[str, Path], request: pytest.FixtureRequest
) -> None:
    if "{readonly}" in " ".join(bad.argv) and os.geteuid() != 0:
        missing("root, for a read-only bind mount")
    values = {name: str(path) for name, path in bench.items()}
    if "{mnist}" in " ".join(bad.argv):  # a size checked against the real dataset
        values["mnist"] = str(request.getfixturevalue("mnist_dir"))
    argv = [part.format(**values) for part in bad.argv]
    before = _snapshot(bench["tmp"])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([values["shim"], os.environ.get("PYTHONPATH", "")]),
        "CNNLAB_DATA_DIR": str(bench["tmp"] / "no-data-here"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "cnnlab", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=bench["tmp"],
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    assert "refusing a bad input" not in output, f"TensorFlow was imported first: {output}"
    for words in bad.says:
        assert words in result.stderr, f"{words!r} not in: {result.stderr}"
    assert "hunter2" not in output
    assert _snapshot(bench["tmp"]) == before
