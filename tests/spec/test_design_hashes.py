"""The definition hashes of the shipped sweeps stay put when the spec grows.

A study stores its sweep's `config_hash` and refuses to resume when it changes, so a new spec
field (such as `train.augmentation`) must leave every existing sweep's hash as it was. These
values were computed from the sweeps as committed before augmentation existed.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from cnnlab.spec.design import claims_hash, config_hash
from cnnlab.spec.loading import experiments_dir, load_sweep, load_sweep_file

PINNED = {
    "dropout": "e6b773bd4f42694f",
    "filters": "7d0ad8125e389263",
    "first_kernel": "afca678dd71c0fe8",
    "geron_first_kernel": "b0d7d9500225c1f1",  # 2026-12-06: the pilot's budget (never run before)
    "pooling": "e68d81586b2a87bd",
    "pooling_gap": "d13b560ab0fed42b",
    "pooling_randomized": "d2a90d93299c2531",  # 2026-12-04: a background per replicate
    "pooling_x_kernel": "6e51a77bc39f67ac",
    "search": "fc66e3eafd86c051",
    "translation": "e68d81586b2a87bd",  # pooling's own definition, with a probe added
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_a_shipped_sweeps_definition_hash_is_unchanged(name: str) -> None:
    assert config_hash(load_sweep(name)) == PINNED[name]


OLD_IMPORTS = (
    "from cnnlab.design import Claim, Factor, Sweep\n"
    "from cnnlab.presets import small\n"
    "from cnnlab.space import TrainSpec, TrialSpec\n"
)


@pytest.mark.parametrize("name", ["pooling", "first_kernel", "dropout"])
def test_a_sweep_file_with_the_old_imports_loads_and_hashes_the_same(
    name: str, tmp_path: Path
) -> None:
    # Sweep files written before the stage layout import cnnlab.design / .space / .presets;
    # they must keep loading, and mean the same cells, so their studies resume.
    text = (experiments_dir() / f"{name}.py").read_text()
    # Such files also declared a seed count (sequential plans came later, and are not in
    # the definition hash either).
    text = re.sub(r"seeds=SequentialPlan\(\),.*", "seeds=10,", text)
    new_line = next(line for line in text.splitlines() if line.startswith("from cnnlab.spec"))
    old = tmp_path / f"{name}.py"
    old.write_text(text.replace(new_line + "\n", OLD_IMPORTS))
    assert "from cnnlab.spec" not in old.read_text()
    sweep = load_sweep_file(old)
    assert config_hash(sweep) == PINNED[name]
    assert claims_hash(sweep) == claims_hash(load_sweep(name))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("cnnlab.design", "cnnlab.spec.design"),
        ("cnnlab.space", "cnnlab.spec.specs"),
        ("cnnlab.presets", "cnnlab.spec.presets"),
    ],
)
def test_an_old_import_path_warns_with_the_new_one_and_exports_only_its_names(
    old: str, new: str
) -> None:
    # A fresh interpreter: a module warns once, when first imported.
    code = f"import {old}"
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "from cnnlab.spec import" in done.stderr and new in done.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module(old)
    exported = set(module.__all__)
    assert {"json", "hashlib", "annotations", "dataclass"}.isdisjoint(exported)
    assert all(
        getattr(module, name) is getattr(importlib.import_module(new), name) for name in exported
    )
