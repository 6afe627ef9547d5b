"""Finding and loading sweep declarations: shipped ones by name, any other by file path.

A sweep file is imported from its path, so the same code loads `experiments/pooling.py` and a
user's `~/my_sweep.py`. Every problem is a `SweepDefinitionError` that names the file, the
field and the reason: a syntax error, a missing `SWEEP`, a `SWEEP` that is not a `Sweep`, or
an invalid field (reported by the validation in `cnnlab.spec.design`).
"""

from __future__ import annotations

import importlib.util
import re
import traceback
from dataclasses import replace
from pathlib import Path

from cnnlab.errors import CnnlabError, SpecError, did_you_mean
from cnnlab.spec.design import Sweep


class SweepDefinitionError(CnnlabError):
    """A sweep file cannot be loaded or declares an invalid sweep."""


def experiments_dir() -> Path:
    """The folder of the shipped experiments (the package `cnnlab.experiments`)."""
    spec = importlib.util.find_spec("cnnlab.experiments")
    if spec is None or not spec.submodule_search_locations:
        raise CnnlabError("The shipped experiments (cnnlab.experiments) are not installed.")
    return Path(next(iter(spec.submodule_search_locations)))


def shipped_names() -> list[str]:
    return sorted(p.stem for p in experiments_dir().glob("*.py") if not p.stem.startswith("_"))


def _import_file(path: Path) -> object:
    module_name = f"cnnlab_sweep_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SweepDefinitionError(f"{path}: cannot be imported as a Python module.")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SpecError as error:
        raise SweepDefinitionError(f"{path}: field `{error.field}` is invalid: {error}") from None
    except CnnlabError as error:
        raise SweepDefinitionError(f"{path}: {error}") from None
    except SyntaxError as error:
        raise SweepDefinitionError(
            f"{path}, line {error.lineno}: syntax error: {error.msg}."
        ) from None
    except Exception as error:
        # The user's own line: the last frame in their file, not the library frame the error
        # surfaced in (a `raise` inside the standard library would name line 679 of a 14-line
        # file).
        frames = traceback.extract_tb(error.__traceback__)
        own = [f for f in frames if Path(f.filename).resolve() == path.resolve()]
        line = (own or frames)[-1].lineno
        raise SweepDefinitionError(
            f"{path}, line {line}: importing it raised {type(error).__name__}: {error}"
        ) from None
    return module


def load_sweep_file(path: Path) -> Sweep:
    """The `SWEEP` declared in `path`, with its docstring as `description`."""
    if not path.is_file():
        raise SweepDefinitionError(f"{path}: no such file.")
    module = _import_file(path)
    sweep = getattr(module, "SWEEP", None)
    if sweep is None:
        raise SweepDefinitionError(
            f"{path}: field `SWEEP` is missing; a sweep file defines `SWEEP = Sweep(...)`."
        )
    if not isinstance(sweep, Sweep):
        raise SweepDefinitionError(
            f"{path}: field `SWEEP` must be a cnnlab.spec.design.Sweep, not {type(sweep).__name__}."
        )
    doc = (getattr(module, "__doc__", None) or "").strip()
    if not doc:
        raise SweepDefinitionError(
            f"{path}: the module docstring is missing; it states the question, the prior, "
            "the command and the expected cost."
        )
    return replace(sweep, description=doc)


def load_sweep(name_or_path: str) -> Sweep:
    """A shipped sweep by name (`pooling`) or any sweep file by path (`path/to/file.py`)."""
    candidate = Path(name_or_path)
    if name_or_path.endswith(".py") or candidate.parent != Path():
        sweep = load_sweep_file(candidate)
        return sweep
    names = shipped_names()
    if name_or_path not in names:
        raise SweepDefinitionError(
            f"There is no sweep called {name_or_path!r}.{did_you_mean(name_or_path, names)} "
            "The shipped sweeps are: "
            f"{', '.join(names)}. A sweep of your own is run by its path: "
            "python -m cnnlab.sweep path/to/my_sweep.py"
        )
    path = experiments_dir() / f"{name_or_path}.py"
    sweep = load_sweep_file(path)
    if sweep.name != name_or_path:
        raise SweepDefinitionError(
            f"{path}: field `name` is {sweep.name!r}; a shipped sweep is named after its file "
            f"({name_or_path!r})."
        )
    return sweep


def question(sweep: Sweep) -> str:
    """The 'Question:' line of the sweep's docstring, or its first line."""
    lines = sweep.description.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Question:"):
            parts = [line.removeprefix("Question:").strip()]
            for more in lines[i + 1 :]:
                # The next field ("Prior:", "Run:") starts with a capital; a wrapped
                # sentence may start with "seed:" and still be the question.
                if re.match(r"^[A-Z][a-z]*:", more) or not more.strip():
                    break
                parts.append(more.strip())
            return " ".join(parts)
    return lines[0] if lines else ""


__all__ = ["SweepDefinitionError", "load_sweep", "load_sweep_file", "question", "shipped_names"]
