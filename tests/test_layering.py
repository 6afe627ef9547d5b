"""The pipeline's import rules (docs/architecture.md), checked by walking the source.

Stages: spec → data → training → sweep, and spec → stats → report. The sweep is the stage that
runs the others; stats and report work from a results table alone, which is why a report
rebuilds on a machine without TensorFlow or the stores.
"""

from __future__ import annotations

import ast
import graphlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnnlab"
MAP = PACKAGE.parent / "docs" / "architecture.md"
STAGES = ("spec", "data", "training", "sweep", "stats", "report")


def rule_table(text: str, heading: str) -> dict[str, set[str]]:
    """The "| part | may import | why |" table whose header row starts with `heading`, read
    from docs/architecture.md: the document states the rules, this file holds the code to them."""
    rows = text.split(f"| {heading} | may import | why |", 1)[1].split("\n\n", 1)[0]
    table = {}
    for line in rows.strip().splitlines()[1:]:  # the first is |---|
        part, allowed = line.split("|")[1:3]
        table[part.strip().strip("`")] = set(re.findall(r"`(\w+)`", allowed))
    return table


# Which stages each stage may import (cnnlab.errors is shared by all). The top level (cli, ui,
# cliutil, the old-path shims) may import any stage; no stage imports the top level.
MAY_IMPORT = rule_table(MAP.read_text(), "stage")
# Inside sweep/: which parts each part may import (tests below).
SWEEP_MAY_IMPORT = rule_table(MAP.read_text(), "part of sweep")
SWEEP_VALUES = {"options", "parallelism", "provenance", "fingerprint"}
SWEEP_FOLDERS = ("console", "stores", "trials")
SHIMS = {"cnnlab.design", "cnnlab.space", "cnnlab.presets"}  # old import paths of sweep files
TOP_LEVEL = {"cnnlab", "cnnlab.__main__", "cnnlab.cli", "cnnlab.cliutil", "cnnlab.ui"}
SHARED = ("cnnlab.errors", "cnnlab.version")  # what every stage may use
ENTRY_HELPERS = "cnnlab.cliutil"  # for the stages' own entry points (`python -m cnnlab.sweep`)


def _imports(path: Path, *, runtime_only: bool = False) -> set[str]:
    """The modules a file imports, at any depth (a function's own import counts). With
    `runtime_only`, not those under `if TYPE_CHECKING:`, which name a type for the checker and
    import nothing."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if runtime_only and isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            # `from cnnlab.spec import presets` imports the module cnnlab.spec.presets
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return names


def _module_name(path: Path) -> str:
    name = str(path.relative_to(PACKAGE.parent).with_suffix("")).replace("/", ".")
    return name.removesuffix(".__init__")


def _modules() -> dict[str, set[str]]:
    return {_module_name(path): _imports(path) for path in PACKAGE.rglob("*.py")}


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "cnnlab" and parts[1] in STAGES else None


def _importers_of(*tops: str) -> set[str]:
    return {
        module
        for module, imports in _modules().items()
        if any(name.split(".")[0] in tops for name in imports)
    }


def test_every_module_belongs_to_a_stage_or_the_top_level() -> None:
    loose = {m for m in _modules() if _stage(m) is None} - TOP_LEVEL - SHIMS - set(SHARED)
    assert loose == set()


def test_stages_import_only_the_stages_before_them() -> None:
    broken = []
    for module, imports in _modules().items():
        stage = _stage(module)
        if stage is None:
            continue
        for name in imports:
            if not name.startswith("cnnlab.") or name.startswith(SHARED):
                continue
            if module.endswith(".__main__") and name.startswith(ENTRY_HELPERS):
                continue
            target = _stage(name)
            if target != stage and target not in MAY_IMPORT[stage]:
                broken.append(f"{module} imports {name}")
    assert broken == []


def test_the_rule_tables_are_read_from_the_map() -> None:
    assert set(MAY_IMPORT) == set(STAGES) and MAY_IMPORT["spec"] == set()
    assert MAY_IMPORT["report"] == {"spec", "stats"}
    assert set(SWEEP_MAY_IMPORT) == {"values", *SWEEP_FOLDERS, "run"}


def _sweep_part(module: str) -> str | None:
    """`values`, `console`, `stores`, `trials` or `run` for a module of cnnlab.sweep."""
    parts = module.split(".")
    if parts[:2] != ["cnnlab", "sweep"]:
        return None
    if len(parts) > 2 and parts[2] in SWEEP_FOLDERS:
        return parts[2]
    return "values" if len(parts) > 2 and parts[2] in SWEEP_VALUES else "run"


def sweep_rule_breaks(modules: dict[str, set[str]]) -> list[str]:
    known = set(modules)
    broken = []
    for module, imports in modules.items():
        part = _sweep_part(module)
        if part is None or module == "cnnlab.sweep":  # the face re-exports every part
            continue
        for name in imports & known:
            target = _sweep_part(name)
            if target is not None and target != part and target not in SWEEP_MAY_IMPORT[part]:
                broken.append(f"{module} ({part}) imports {name} ({target})")
    return broken


def test_the_parts_of_sweep_import_only_the_parts_below_them() -> None:
    assert sweep_rule_breaks(_modules()) == []


def test_a_planted_upward_import_inside_sweep_fails() -> None:
    modules = _modules()
    modules["cnnlab.sweep.console.progress"] |= {"cnnlab.sweep.stores.studies"}
    modules["cnnlab.sweep.stores.keys"] |= {"cnnlab.sweep.runner"}
    assert sorted(sweep_rule_breaks(modules)) == [
        "cnnlab.sweep.console.progress (console) imports cnnlab.sweep.stores.studies (stores)",
        "cnnlab.sweep.stores.keys (stores) imports cnnlab.sweep.runner (run)",
    ]


def _reach(modules: dict[str, set[str]], start: str) -> set[str]:
    """Every name imported by `start` or by a cnnlab module it reaches, however deep."""
    seen, todo, names = {start}, [start], set()
    while todo:
        for name in modules[todo.pop()]:
            names.add(name)
            if name in modules and name not in seen:
                seen.add(name)
                todo.append(name)
    return names


def test_the_console_reaches_no_optuna_or_mlflow_even_through_another_module() -> None:
    modules = _modules()
    for module in (m for m in modules if m.startswith("cnnlab.sweep.console")):
        tops = {name.split(".")[0] for name in _reach(modules, module)}
        assert not tops & {"optuna", "mlflow"}, module


def import_cycle(modules: dict[str, set[str]]) -> list[str] | None:
    """A cycle of cnnlab modules importing each other, or None."""
    graph = {m: {n for n in imports if n in modules and n != m} for m, imports in modules.items()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as cycle:
        return list(cycle.args[1])
    return None


def _runtime_modules() -> dict[str, set[str]]:
    return {_module_name(path): _imports(path, runtime_only=True) for path in PACKAGE.rglob("*.py")}


def test_no_import_cycle_anywhere_in_the_package() -> None:
    # Lazy imports inside functions count: they are how the preflight <-> studies cycle hid.
    assert import_cycle(_runtime_modules()) is None


def test_a_planted_import_cycle_is_found() -> None:
    modules = _runtime_modules()
    modules["cnnlab.sweep.stores.redact"] |= {"cnnlab.sweep.stores.preflight"}
    cycle = import_cycle(modules)
    assert cycle is not None
    assert {"cnnlab.sweep.stores.redact", "cnnlab.sweep.stores.preflight"} <= set(cycle)


def test_no_stage_imports_the_top_level_or_the_old_paths() -> None:
    forbidden = (TOP_LEVEL - {"cnnlab"}) | SHIMS
    for module, imports in _modules().items():
        entry_point = module.endswith(".__main__")
        forbidden_here = forbidden - {ENTRY_HELPERS} if entry_point else forbidden
        if _stage(module) is not None or module == "cnnlab.errors":
            assert not imports & forbidden_here, module


def test_nothing_imports_the_command_line() -> None:
    entry_points = {"cnnlab.cli", "cnnlab.ui", "cnnlab.__main__", "cnnlab.sweep.__main__"}
    for module, imports in _modules().items():
        allowed = {"cnnlab.__main__": {"cnnlab.cli"}, "cnnlab.cli": entry_points}.get(module, set())
        assert imports & entry_points <= allowed, module


def test_tensorflow_only_in_data_and_training() -> None:
    importers = _importers_of("tensorflow", "keras")
    assert {_stage(m) for m in importers} <= {"data", "training"}, importers


def test_optuna_only_under_sweep() -> None:
    importers = _importers_of("optuna")
    assert importers and {_stage(m) for m in importers} == {"sweep"}, importers


def test_mlflow_in_one_module() -> None:
    assert _importers_of("mlflow") == {"cnnlab.sweep.stores.tracking"}


def test_plotting_only_in_report() -> None:
    importers = _importers_of("matplotlib", "seaborn")
    assert {_stage(m) for m in importers} == {"report"}, importers


def test_spec_imports_only_the_standard_library() -> None:
    for module, imports in _modules().items():
        if _stage(module) != "spec":
            continue
        for name in imports:
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top in ("__future__", "cnnlab"), (
                f"{module} imports {name}"
            )


def test_stats_imports_no_framework() -> None:
    frameworks = {"tensorflow", "keras", "optuna", "mlflow", "matplotlib", "seaborn"}
    for module, imports in _modules().items():
        if _stage(module) == "stats":
            assert not {name.split(".")[0] for name in imports} & frameworks, module


def test_store_keys_are_spelled_only_in_the_key_table() -> None:
    # A `"cnnlab.…"` string that is not a module name is a store key (an Optuna attribute or
    # an MLflow tag): it must come from cnnlab.sweep.stores.keys, where each is defined once.
    modules = set(_modules()) | {"cnnlab.experiments"}
    key_like = re.compile(r"^cnnlab\.[a-z_]+(\.[A-Za-z0-9_]*)*$")
    found = []
    for path in PACKAGE.rglob("*.py"):
        if _module_name(path) == "cnnlab.sweep.stores.keys":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if key_like.match(text) and text not in modules:
                    found.append(f"{path.name}:{node.lineno}: {text!r}")
    assert found == []


def test_importing_the_package_the_specs_and_the_stages_does_not_import_tensorflow() -> None:
    code = (
        "import sys, cnnlab, cnnlab.spec, cnnlab.design, cnnlab.space, cnnlab.presets, "
        "cnnlab.data, cnnlab.training, cnnlab.sweep, cnnlab.stats, cnnlab.report, cnnlab.cli;"
        "print(sorted(m for m in ('tensorflow', 'keras', 'optuna', 'mlflow') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_no_configuration_at_import_time() -> None:
    # Logging levels, the matplotlib backend and signal handlers are set by the entry points.
    calls = re.compile(r"^(matplotlib\.use|.*set_verbosity|.*\.setLevel|signal\.signal)\(")
    for path in PACKAGE.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:  # module level only
            statements = node.body if isinstance(node, ast.For | ast.If | ast.With) else [node]
            for statement in statements:
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
                    text = ast.unparse(statement.value)
                    assert not calls.match(text), f"{path.name}:{statement.lineno}: {text}"


def test_the_sweep_process_imports_tensorflow_only_to_train_itself() -> None:
    # With worker processes (the default) the sweep process only hands out cells and records
    # results: importing TensorFlow there (~10 s of a core) would delay the workers' start.
    code = (
        "import sys, cnnlab.sweep.runner, cnnlab.sweep.__main__;"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_launching_a_run_imports_nothing_heavy() -> None:
    # `python -m cnnlab.sweep` launches (plan, dataset, workers started) before it imports the
    # rest of the sweep stage, so that the workers' TensorFlow import overlaps its own.
    heavy = ("tensorflow", "keras", "optuna", "mlflow", "pandas", "scipy", "matplotlib")
    code = (
        "import sys, cnnlab.sweep.launch, cnnlab.sweep.__main__;"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
def test_a_worker_trains_without_the_modules_it_declines(tmp_path: Path) -> None:
    # Keras imports scikit-learn, matplotlib and pandas only if it can; a worker declines them
    # (~4 s less start-up). Should a Keras release need one of them, this fails here, not
    # as a worker that never becomes ready.
    code = """
import sys
from cnnlab.training.runtime import UNUSED_WHEN_TRAINING, decline_unused_imports
decline_unused_imports()
from cnnlab.training.runtime import import_tensorflow_quietly
import_tensorflow_quietly()
from pathlib import Path
from cnnlab.data import synthetic_dataset
from cnnlab.spec.design import Factor, Sweep, cells
from cnnlab.spec.presets import small
from cnnlab.spec.specs import DataSpec, TrainSpec, TrialSpec
from cnnlab.sweep.trials.artifacts import write_trial_files
from cnnlab.training.cell import train_cell
base = TrialSpec(arch=small, train=TrainSpec(epochs=1, batch_size=32),
                 data=DataSpec(dataset="mnist", validation_size=32))
sweep = Sweep(name="t", base=base,
              factors=(Factor(path="arch.pooling", levels=("max",)),), seeds=1)
cell = cells(sweep)[0]
result = train_cell(cell, synthetic_dataset(n_train=128, n_test=64))
write_trial_files(result, cell, Path(sys.argv[1]))
for name in UNUSED_WHEN_TRAINING:
    try:
        __import__(name)
    except ImportError:
        continue
    raise SystemExit(f"{name} was imported")
print(sorted(m for m in sys.modules if m.split('.')[0] in UNUSED_WHEN_TRAINING
             and sys.modules[m] is not None))
"""
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "final.weights.h5").stat().st_size > 0
