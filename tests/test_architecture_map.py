"""docs/architecture.md is the map of the code, and this keeps it true: every module of cnnlab/
is on it, every path it names exists, no folder outgrows it, and the code cites no document
that is not in the repository. Cheap: the filesystem and `ast`, nothing imported."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "cnnlab"
MAP = REPO / "docs" / "architecture.md"
MAX_MODULES = 12  # per folder, non-dunder .py files; experiments/ holds declarations, exempt


def modules_per_folder(package: Path) -> dict[str, int]:
    """Each package folder's count of modules, not counting `__init__`/`__main__`."""
    return {
        str(folder.relative_to(package.parent)): sum(
            1 for f in folder.glob("*.py") if not f.name.startswith("__")
        )
        for folder in [package, *(p.parent for p in package.rglob("*/__init__.py"))]
    }


def test_no_folder_of_the_package_holds_more_than_twelve_modules() -> None:
    counts = modules_per_folder(PACKAGE)
    assert {f: n for f, n in counts.items() if n > MAX_MODULES} == {}, counts


def test_the_folder_count_fails_on_a_crowded_folder(tmp_path: Path) -> None:
    # The check above, on a planted package with one folder over the limit.
    crowded = tmp_path / "pkg" / "crowded"
    crowded.mkdir(parents=True)
    for path in (tmp_path / "pkg" / "__init__.py", crowded / "__init__.py"):
        path.write_text("")
    for i in range(MAX_MODULES + 1):
        (crowded / f"m{i}.py").write_text("")
    assert modules_per_folder(tmp_path / "pkg") == {"pkg": 0, "pkg/crowded": MAX_MODULES + 1}


def _module_paths() -> set[str]:
    return {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}


def test_every_module_is_on_the_map() -> None:
    text = MAP.read_text()
    named = set(re.findall(r"`([\w/]+\.py)`", text))
    # `design.py`, `space.py`, `presets.py` on one row name three top-level modules
    missing = sorted(m for m in _module_paths() if m not in named)
    assert missing == [], f"modules missing from docs/architecture.md: {missing}"


def _named_paths(text: str) -> set[str]:
    paths = set(re.findall(r"`((?:[\w.-]+/)+[\w.-]*)`", text))  # `a/b.py`, `tests/spec/`
    return {p for p in paths if not p.startswith(("http", "."))}


def _exists(name: str) -> bool:
    # A path on the map is relative to the package (`sweep/runner.py`) or the repository
    # (`tests/end_to_end/`, `docs/statistics.md`).
    return (PACKAGE / name).exists() or (REPO / name).exists()


def _named_modules(text: str) -> set[str]:
    # `cnnlab.levels` is a stored key, not a module: only names whose second part is a module
    # or package of cnnlab/ (or the installed experiments) are module references.
    tops = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir()}
    names = set(re.findall(r"`(cnnlab(?:\.\w+)+)", text))
    return {n for n in names if n.split(".")[1] in tops | {"experiments"}}


def _dotted_exists(dotted: str) -> bool:
    """`cnnlab.sweep.stores.keys.Key`: packages down to a module, then its attributes; a
    package's attribute must at least be spelled in its `__init__.py` (a face's name)."""
    parts = dotted.split(".")
    where = REPO / "experiments" if parts[1] == "experiments" else PACKAGE / parts[1]
    for i, part in enumerate(parts[2:], start=2):
        if where.with_suffix(".py").is_file():
            return True  # a module: the rest are its attributes
        if not (where / "__init__.py").is_file():
            return False
        if (where / part).is_dir() or (where / f"{part}.py").is_file():
            where = where / part
            continue
        init = (where / "__init__.py").read_text()
        return re.search(rf"\b{part}\b", init) is not None and i == len(parts) - 1
    return where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()


def test_every_path_and_module_the_map_names_exists() -> None:
    text = MAP.read_text()
    gone = sorted(p for p in _named_paths(text) if not _exists(p))
    gone += sorted(m for m in _named_modules(text) if not _dotted_exists(m))
    assert gone == [], f"docs/architecture.md names what does not exist: {gone}"


def test_the_map_check_fails_on_a_stale_path() -> None:
    stale = "| `sweep/studies.py` | moved | and `cnnlab.sweep.claiming.next_enumerated_trial` |"
    assert not _exists(next(iter(_named_paths(stale))))
    assert not _dotted_exists(next(iter(_named_modules(stale))))
    assert _dotted_exists("cnnlab.sweep.stores.claiming.next_enumerated_trial")


CITED_DOCUMENT = re.compile(r"\b([\w./-]*[\w-]+\.md)\b")


def _cited_documents(text: str) -> set[str]:
    return {m.rsplit("/", 1)[-1] for m in CITED_DOCUMENT.findall(text)}


def test_code_cites_only_documents_in_the_repository() -> None:
    # A comment saying "see DESIGN.md §7b" sends the next engineer to a file they do not
    # have: cite docs/statistics.md, a test, or say it in place.
    in_repo = {p.name for p in REPO.rglob("*.md") if ".venv" not in p.parts}
    cited: dict[str, list[str]] = {}
    sources = [*PACKAGE.rglob("*.py"), *(REPO / "tests").rglob("*.py")]
    sources += [*(REPO / "benchmarks").rglob("*.py"), *(REPO / "experiments").rglob("*.py")]
    for path in sources:
        if path.resolve() == Path(__file__).resolve():
            continue  # its own planted examples
        for name in _cited_documents(path.read_text()) - in_repo:
            cited.setdefault(name, []).append(str(path.relative_to(REPO)))
    assert cited == {}, cited


def test_the_citation_check_sees_a_document_outside_the_repository() -> None:
    assert _cited_documents("# as DESIGN.md §7b says; see docs/statistics.md") == {
        "DESIGN.md",
        "statistics.md",
    }
