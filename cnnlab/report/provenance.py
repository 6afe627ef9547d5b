"""Provenance: the typed record of a run's `provenance.json` (what ran, on what, where).

The sweep builds one when it ends (`cnnlab.sweep.publish`) and `to_json` writes it; the rebuild,
the report's banners and provenance table, and the index pages read it back with `read` or
`from_json` and use its attributes. A misspelt field is an AttributeError (and a mypy error),
not a silent None; a key the record does not know is refused with the file and the key named.

The file's bytes are what every earlier version wrote: `json.dumps(record, indent=2,
sort_keys=True)` plus a newline, so `to_json(from_json(text)) == text` for every committed
report. Three keys came later than the others and are missing from older files:
`plan_hash_at_start` and `sequential_plan` (sequential plans), and `workers` (worker
processes). Those fields may be `ABSENT`, which is left out of the JSON; that is not None,
which is written as null (a fixed run's `sequential_plan` is null, an old run has none).
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cnnlab.errors import CnnlabError, did_you_mean
from cnnlab.report import ReportError
from cnnlab.spec.sequential import SequentialPlan
from cnnlab.spec.specs import DATASETS


class Absent(enum.Enum):
    """The type of `ABSENT`: one member, so `x is ABSENT` narrows a field's type."""

    ABSENT = "absent"


ABSENT: Final = Absent.ABSENT  # a key the file does not have (and `to_json` leaves out)


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """One run's provenance, field for key of provenance.json."""

    report: str  # the report's folder name under reports/ (the study's name)
    sweep: str  # the sweep's name
    sweep_source: str  # the sweep definition the run loaded (a shipped name or a .py path)
    study: str  # the Optuna study
    quick: bool  # a smoke run (`--quick`)
    seeds: tuple[int, ...]  # the seeds run (the plan's last look for a sequential plan)
    n_backgrounds: int  # background draws per seed (randomized designs; else 1)
    epochs: int
    batch_size: int
    train_images: int
    dataset: str  # a shipped dataset (`mnist`, `fashion_mnist`) or the name of yours
    data_source: str  # where the dataset was loaded from
    data_sha256: dict[str, str]  # file name -> SHA-256
    config_hash: str  # the definition hash
    claims_hash_at_start: str | None  # the claims hashed when the study was created
    git_commit: str  # as the sweep started ("-dirty" when the tree had edits)
    versions: dict[str, str]  # package -> version
    threads: dict[str, int]  # the trials' TensorFlow thread settings and the visible cores
    machine: dict[str, str]  # host, os, cpu, cores
    trial_wall_seconds: float  # summed over the trials
    sweep_wall_seconds: float  # the invocation that finished the sweep
    finished: str  # "YYYY-MM-DD HH:MM UTC"
    # Later additions, ABSENT in older files (None is a recorded null, not an absence):
    plan_hash_at_start: str | Absent | None = ABSENT  # "fixed" for a fixed seed count
    sequential_plan: SequentialPlan | Absent | None = ABSENT  # None: a fixed seed count
    workers: str | Absent = ABSENT  # e.g. "2 worker processes, 1 thread each (2 cores)"
    # The verdict rule when the study was created (`cnnlab.stats.calibration.RULE`); None or
    # ABSENT: before the rule was recorded, so verdicts under today's rule came after the data.
    rule_at_start: str | Absent | None = ABSENT
    # The data's form, pixel scaling, image shape, test size and images per class (train, test)
    # by class name; ABSENT before 2026-12-06.
    data_facts: dict[str, Any] | Absent = ABSENT

    @classmethod
    def read(cls, path: Path) -> Provenance:
        """A report folder's provenance.json, or a ReportError saying what is wrong with it."""
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ReportError(
                f"{path}: not valid JSON ({error}); rerun the sweep to rewrite it."
            ) from None
        return cls.from_json(data, origin=path)

    @classmethod
    def from_json(
        cls, text_or_dict: str | Mapping[str, Any], *, origin: Path | str = "provenance.json"
    ) -> Provenance:
        """The record of a provenance.json's text (or its parsed object); `origin` names the
        file in error messages. Every key must be a field, and every field without a default
        a key, each of its JSON type."""
        data = json.loads(text_or_dict) if isinstance(text_or_dict, str) else text_or_dict
        if not isinstance(data, Mapping):
            raise ReportError(
                f"{origin}: holds {type(data).__name__}, not a JSON object; rerun the sweep to "
                "rewrite it."
            )
        unknown = sorted(set(data) - set(_READERS))
        if unknown:
            named = ", ".join(f"`{key}`" for key in unknown)
            raise ReportError(
                f"{origin}: unknown key(s) {named}.{did_you_mean(unknown[0], _READERS)} "
                "provenance.json is written by the sweep, never by hand: undo the edit, or "
                "rerun the sweep to rewrite it."
            )
        missing = [name for name in _REQUIRED if name not in data]
        if missing:
            named = ", ".join(f"`{key}`" for key in missing)
            raise ReportError(
                f"{origin}: key(s) {named} missing; rerun the sweep to rewrite it (or restore "
                "the file from version control)."
            )
        values: dict[str, Any] = {}
        for key, value in data.items():
            try:
                values[key] = _READERS[key](value)
            except (TypeError, ValueError, CnnlabError) as error:
                raise ReportError(
                    f"{origin}: key `{key}` holds {value!r}: {error}. Rerun the sweep to "
                    "rewrite it."
                ) from None
        return cls(**values)

    def to_record(self) -> dict[str, Any]:
        """The JSON object, ABSENT fields left out."""
        record: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is ABSENT:
                continue
            if isinstance(value, SequentialPlan):
                value = dataclasses.asdict(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, dict):
                value = dict(value)
            record[field.name] = value
        return record

    def to_json(self) -> str:
        """provenance.json's text, byte for byte as the sweep has always written it."""
        return json.dumps(self.to_record(), indent=2, sort_keys=True) + "\n"


# --- reading each key's JSON value into its field's type ---------------------------------


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected an integer")
    return value


def _number(value: Any) -> float:
    # An integer stays an integer: converting it would write 12 back as 12.0.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("expected a number")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("expected true or false")
    return value


def _dataset(value: Any) -> str:
    """A shipped dataset's name, or the name you gave your own (letters, digits, _ or -)."""
    name = _text(value)
    if name not in DATASETS and not (name and all(ch.isalnum() or ch in "_-" for ch in name)):
        raise ValueError(f"expected one of {', '.join(DATASETS)} or your data's name")
    return name


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _integers(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise TypeError("expected a list of integers")
    return tuple(_integer(item) for item in value)


def _map_of(read: Callable[[Any], Any]) -> Callable[[Any], dict[str, Any]]:
    def read_map(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise TypeError("expected an object")
        return {_text(key): read(item) for key, item in value.items()}

    return read_map


def _plan(value: Any) -> SequentialPlan | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError("expected a sequential plan's fields or null")
    names = {field.name for field in dataclasses.fields(SequentialPlan)}
    unknown = sorted(set(value) - names)
    if unknown:  # the plan's own keys are as closed as the record's
        raise ValueError(f"unknown plan field(s) {', '.join(unknown)}")
    missing = sorted(names - set(value))
    if missing:  # a default filled in here would be written back as a key the file lacks
        raise ValueError(f"plan field(s) {', '.join(missing)} missing")
    return SequentialPlan(**value)


def _data_facts(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("expected an object")
    expected = {"format", "scaling", "image_shape", "test_images", "classes"}
    if set(value) != expected:
        raise ValueError(f"expected the keys {sorted(expected)}")
    shape = _integers(value["image_shape"])
    if len(shape) != 3:
        raise ValueError("image_shape must be [height, width, channels]")
    counts = _map_of(_integers)(value["classes"])
    if any(len(pair) != 2 for pair in counts.values()):
        raise ValueError("each class holds [training images, test images]")
    return {
        "format": _text(value["format"]),
        "scaling": _text(value["scaling"]),
        "image_shape": list(shape),
        "test_images": _integer(value["test_images"]),
        "classes": {name: list(pair) for name, pair in counts.items()},
    }


_READERS: dict[str, Callable[[Any], Any]] = {
    "report": _text,
    "sweep": _text,
    "sweep_source": _text,
    "study": _text,
    "quick": _flag,
    "seeds": _integers,
    "n_backgrounds": _integer,
    "epochs": _integer,
    "batch_size": _integer,
    "train_images": _integer,
    "dataset": _dataset,
    "data_source": _text,
    "data_sha256": _map_of(_text),
    "config_hash": _text,
    "claims_hash_at_start": _optional_text,
    "git_commit": _text,
    "versions": _map_of(_text),
    "threads": _map_of(_integer),
    "machine": _map_of(_text),
    "trial_wall_seconds": _number,
    "sweep_wall_seconds": _number,
    "finished": _text,
    "plan_hash_at_start": _optional_text,
    "sequential_plan": _plan,
    "workers": _text,
    "rule_at_start": _optional_text,
    "data_facts": _data_facts,
}
# The keys every provenance.json has: the fields without a default.
_REQUIRED = tuple(
    field.name
    for field in dataclasses.fields(Provenance)
    if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
)

__all__ = ["ABSENT", "Absent", "Provenance"]
