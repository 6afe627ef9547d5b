"""The import rules of DESIGN.md §3, checked by walking the source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cnnlab"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            # `from cnnlab import sweep` imports the module cnnlab.sweep
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules() -> dict[str, set[str]]:
    return {
        str(path.relative_to(PACKAGE.parent).with_suffix("")).replace("/", "."): _imports(path)
        for path in PACKAGE.rglob("*.py")
    }


def _importers_of(*tops: str) -> set[str]:
    return {
        module
        for module, imports in _modules().items()
        if any(name.split(".")[0] in tops for name in imports)
    }


def _outside(modules: set[str], allowed: tuple[str, ...]) -> set[str]:
    return {m for m in modules if not m.startswith(allowed)}


def test_tensorflow_only_in_data_model_train_probes_and_the_entry_points() -> None:
    allowed = ("cnnlab.data", "cnnlab.model", "cnnlab.train", "cnnlab.probes", "cnnlab.cli")
    assert _outside(_importers_of("tensorflow", "keras"), allowed) == set()


def test_mlflow_only_in_tracking() -> None:
    assert _importers_of("mlflow") == {"cnnlab.tracking"}


def test_plotting_only_in_report() -> None:
    assert _outside(_importers_of("matplotlib", "seaborn"), ("cnnlab.report",)) == set()


def test_optuna_only_in_the_study_layer() -> None:
    allowed = (
        "cnnlab.objective",
        "cnnlab.studies",
        "cnnlab.runner",
        "cnnlab.results",
        "cnnlab.trials",
        "cnnlab.execution",
        "cnnlab.summary",
    )
    assert _outside(_importers_of("optuna"), allowed) == set()


def test_declarations_import_only_the_standard_library_and_each_other() -> None:
    inner = {"cnnlab.errors", "cnnlab.geometry", "cnnlab.space", "cnnlab.design"}
    for module in (*inner, "cnnlab.presets"):
        for name in _modules()[module]:
            top = name.split(".")[0]
            parent = name.rsplit(".", 1)[0]
            internal = name in inner or parent in inner
            assert top in sys.stdlib_module_names or internal or top == "__future__", (
                f"{module} imports {name}"
            )


def test_only_the_entry_points_import_the_entry_points() -> None:
    entry_points = {"cnnlab.cli", "cnnlab.sweep", "cnnlab.ui", "cnnlab.__main__"}
    for module, imports in _modules().items():
        if module not in entry_points:
            assert not imports & entry_points, module


def test_importing_the_package_and_specs_does_not_import_tensorflow() -> None:
    code = (
        "import sys, cnnlab, cnnlab.space, cnnlab.presets, cnnlab.data, cnnlab.cli;"
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
