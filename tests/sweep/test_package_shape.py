"""The shape of the sweep stage's code, checked with `ast` (nothing imported): short parameter
lists, no `**kwargs` passed through, no untyped bag in place of named parameters. A run's
shared values live on `SweepRun` and typed records (`Stores`, `StudyIdentity`, `RunFacts`),
not in ever-longer argument lists."""

from __future__ import annotations

import ast

from tests.conftest import REPO

SWEEP = REPO / "cnnlab" / "sweep"
MAX_PARAMETERS = 6  # `self`/`cls` not counted; keyword-only ones are
# A mapping of key -> value that goes to a store as it is (MLflow tags and params, a failure
# record in Optuna, timing rows in a CSV) is data, not a bag of parameters.
STORED_MAPPINGS = {"tags", "params", "failure", "rows", "values", "metrics", "settings"}
BAGS = ("SimpleNamespace", "Namespace", "dict[str, Any]", "Mapping[str, Any]", "dict[str, object]")


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    args = function.args
    named = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    if named and named[0].arg in ("self", "cls"):
        named = named[1:]
    return named + ([args.vararg] if args.vararg else [])


def shape_problems(source: str, name: str) -> list[str]:
    """What breaks the rules in one module's source."""
    problems = []
    tree = ast.parse(source)
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for node in sorted(functions, key=lambda n: n.lineno):
        where = f"{name}:{node.lineno} {node.name}"
        parameters = _parameters(node)
        if len(parameters) > MAX_PARAMETERS:
            problems.append(f"{where} takes {len(parameters)} parameters")
        if node.args.kwarg is not None:
            problems.append(f"{where} takes **{node.args.kwarg.arg}")
        for parameter in parameters:
            annotation = ast.unparse(parameter.annotation) if parameter.annotation else ""
            if annotation in BAGS and parameter.arg not in STORED_MAPPINGS:
                problems.append(f"{where}: {parameter.arg}: {annotation} is an untyped bag")
    return problems


def test_no_function_of_the_sweep_stage_has_a_long_or_untyped_parameter_list() -> None:
    problems = [
        problem
        for path in sorted(SWEEP.rglob("*.py"))
        for problem in shape_problems(path.read_text(), str(path.relative_to(SWEEP)))
    ]
    assert problems == []


def test_the_shape_check_finds_what_it_forbids() -> None:
    planted = """
class Run:
    def execute(self, sweep, stores, cells, book, trainers, options, latch): ...
def forward(cell, **options): ...
def bag(options: dict[str, Any], tags: dict[str, Any], *, extra: SimpleNamespace): ...
def fine(self_made, a, b, c, *, d, e): ...
"""
    assert shape_problems(planted, "planted.py") == [
        "planted.py:3 execute takes 7 parameters",
        "planted.py:4 forward takes **options",
        "planted.py:5 bag: options: dict[str, Any] is an untyped bag",
        "planted.py:5 bag: extra: SimpleNamespace is an untyped bag",
    ]


def test_the_run_asks_whether_a_sweep_is_a_search_in_one_place() -> None:
    # How cells are produced is chosen once (sources.cell_source); stores, trials and the run
    # ask the chosen source. The plan line and the estimate, printed before Optuna is even
    # imported, describe a search in their own words.
    describing = {"launch.py", "console/estimate.py"}
    asking = sorted(
        str(path.relative_to(SWEEP))
        for path in SWEEP.rglob("*.py")
        if '.design == "search"' in path.read_text() or '.design != "search"' in path.read_text()
    )
    assert [a for a in asking if a not in describing] == ["sources.py"]
