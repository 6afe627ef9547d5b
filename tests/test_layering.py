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
    return names


def _modules() -> dict[str, set[str]]:
    return {
        str(path.relative_to(PACKAGE.parent).with_suffix("")).replace("/", "."): _imports(path)
        for path in PACKAGE.rglob("*.py")
    }


def test_tensorflow_only_in_data_model_train_probes_and_the_cli() -> None:
    allowed = ("cnnlab.data", "cnnlab.model", "cnnlab.train", "cnnlab.probes", "cnnlab.cli")
    for module, imports in _modules().items():
        if any(name.split(".")[0] in ("tensorflow", "keras") for name in imports):
            assert module.startswith(allowed), module


def test_space_geometry_and_presets_import_only_the_standard_library_and_each_other() -> None:
    inner = {"cnnlab.errors", "cnnlab.geometry", "cnnlab.space"}
    for module in ("cnnlab.space", "cnnlab.geometry", "cnnlab.errors", "cnnlab.presets"):
        for name in _modules()[module]:
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or name in inner or top == "__future__", (
                f"{module} imports {name}"
            )


def test_nothing_imports_the_cli() -> None:
    for module, imports in _modules().items():
        if module not in ("cnnlab.cli", "cnnlab.__main__"):
            assert "cnnlab.cli" not in imports, module


def test_importing_the_package_and_specs_does_not_import_tensorflow() -> None:
    code = (
        "import sys, cnnlab, cnnlab.space, cnnlab.presets, cnnlab.data, cnnlab.cli;"
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
