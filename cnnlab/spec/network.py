"""A network you bring: a module-level `build(hp) -> keras.Model` and its named hyperparameters.

`Network(build=build, hp={"pooling": "max", "width": 32})` stands where an `ArchSpec` would
(`TrialSpec.arch`); factors then name hyperparameters (`Factor(path="arch.hp.pooling", ...)`).
What a Network *is*, for a study's definition hash and the cell cache, is the function's
qualified name, the SHA-256 of its source and the hyperparameters: editing the function refuses
resume, as any changed definition does. Where the function lives (its file) is recorded but not
hashed, so the same sweep in another checkout is the same study.

Worker processes are spawned and import the function themselves: a Network pickles as its
file, qualified name and source hash, and unpickling imports that file (once per process) and
checks that the source is still the one hashed. So only a module-level function will do; a
lambda, a nested function or a bound method is refused when the sweep file is read.

Standard library only (`inspect`, `importlib`): the function is called, and Keras imported,
only in `cnnlab.training`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnlab.errors import SpecError, did_you_mean

_SCALARS = (str, int, float, bool, type(None))
HIDDEN = "hidden"  # a field that is neither recorded nor hashed (the callable itself)
LOCATION = "location"  # recorded (MLflow params) but not hashed: where a thing is, not what


@dataclass(frozen=True)
class HyperParams:
    """Named hyperparameters, a frozen mapping: what `build(hp)` receives as a dict."""

    items: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, values: Mapping[str, Any] | HyperParams) -> HyperParams:
        if isinstance(values, HyperParams):
            return values
        if not isinstance(values, Mapping):
            raise SpecError(
                "arch.hp",
                "`arch.hp` must be a dict of named hyperparameters, e.g. {'pooling': 'max'}, "
                f"but {values!r} was passed.",
            )
        for name, value in values.items():
            _check_value(name, value)
        return cls(tuple(sorted(values.items())))

    def as_dict(self) -> dict[str, Any]:
        return dict(self.items)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.items)

    def __getitem__(self, name: str) -> Any:
        for key, value in self.items:
            if key == name:
                return value
        raise KeyError(name)

    def with_value(self, name: str, value: Any) -> HyperParams:
        """A copy with `name` set; only a hyperparameter the base declares may be varied."""
        if name not in self.names:
            raise SpecError(
                f"arch.hp.{name}",
                f"`arch.hp.{name}`: the network's base hyperparameters have no {name!r}; they "
                f"are {list(self.names)}.{did_you_mean(name, self.names)} Declare it in the "
                "base Network's hp, with the value the other arms keep.",
            )
        _check_value(name, value)
        return HyperParams(tuple((k, value if k == name else v) for k, v in self.items))


def _check_value(name: Any, value: Any) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise SpecError(
            "arch.hp", f"Hyperparameter names are identifiers (letters, digits, _); got {name!r}."
        )
    plain = isinstance(value, _SCALARS) or (
        isinstance(value, tuple) and all(isinstance(v, _SCALARS) for v in value)
    )
    if not plain:
        raise SpecError(
            f"arch.hp.{name}",
            f"`arch.hp.{name}` must be a plain value (str, int, float, bool, None, or a tuple "
            f"of them) so that it can be recorded and hashed, but {value!r} was passed.",
        )


def _refusal(build: Any) -> str | None:
    """Why `build` cannot be a network's function, or None."""
    if not callable(build) or not inspect.isfunction(build):
        return f"`arch.build` must be a function, but {build!r} was passed"
    if build.__name__ == "<lambda>":
        return (
            "`arch.build` is a lambda; worker processes import the function by name, so "
            "define it with `def build(hp):` at the top level of a module"
        )
    if "<locals>" in build.__qualname__:
        return (
            f"`arch.build` ({build.__qualname__}) is defined inside another function (a "
            "closure); worker processes import it by name, so define it at the top level of "
            "a module"
        )
    return None


def _source(build: Callable[..., Any]) -> tuple[str, str]:
    try:
        file = inspect.getsourcefile(build)
        text = inspect.getsource(build)
    except (OSError, TypeError):
        file, text = None, ""
    if not file or not text:
        raise SpecError(
            "arch.build",
            f"`arch.build` ({build.__qualname__}) has no source file cnnlab can read; define "
            "it in a .py file (a sweep file or a module), not in an interactive session.",
        )
    return str(Path(file).resolve()), text


@dataclass(frozen=True, kw_only=True)
class Network:
    """A network you bring (see the module docstring). `build(hp)` receives `hp` as a dict and
    returns an uncompiled `keras.Model` whose input is the dataset's image shape and whose
    output is one softmax probability per class."""

    build: Callable[[dict[str, Any]], Any] = field(
        compare=False, repr=False, metadata={HIDDEN: True}
    )
    hp: HyperParams = field(default_factory=HyperParams)
    # `file-stem:qualname` (`digits_pooling:build`), for people and the definition: not the
    # module's name, which for a sweep file read by path is made up by the reader.
    function: str = field(init=False)
    source_sha256: str = field(init=False)  # the function's source: editing it is a new study
    file: str = field(init=False, compare=False, metadata={LOCATION: True})

    def __post_init__(self) -> None:
        refusal = _refusal(self.build)
        if refusal:
            raise SpecError("arch.build", refusal + ".")
        file, text = _source(self.build)
        object.__setattr__(self, "hp", HyperParams.of(self.hp))
        object.__setattr__(self, "function", f"{Path(file).stem}:{self.build.__qualname__}")
        object.__setattr__(self, "source_sha256", hashlib.sha256(text.encode()).hexdigest())
        object.__setattr__(self, "file", file)

    def __reduce__(self) -> tuple[Any, ...]:
        # Spawned workers cannot import a sweep file by its module name; they import its path.
        return (_restore, (self.file, self.build.__qualname__, self.hp, self.source_sha256))


@functools.cache
def _module_of(file: str) -> Any:
    """A sweep file (or module) imported by path, once per process."""
    for module in list(sys.modules.values()):  # already imported here (the sweep's process)
        where = getattr(module, "__file__", None)
        if where and str(Path(where).resolve()) == file:
            return module
    spec = importlib.util.spec_from_file_location(f"cnnlab_network_{abs(hash(file))}", file)
    if spec is None or spec.loader is None:
        raise SpecError("arch.build", f"{file} cannot be imported as a module.")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _restore(file: str, qualname: str, hp: HyperParams, source_sha256: str) -> Network:
    build: Any = _module_of(file)
    for part in qualname.split("."):
        build = getattr(build, part)
    network = Network(build=build, hp=hp)
    if network.source_sha256 != source_sha256:
        raise SpecError(
            "arch.build",
            f"{file}: {qualname} was edited while the sweep ran (its source no longer has the "
            "hash the study was started with). Undo the edit, or start a new study "
            "(--new-study) with the new function.",
        )
    return network


__all__ = ["HIDDEN", "LOCATION", "HyperParams", "Network"]
