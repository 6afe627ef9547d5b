"""The cell cache: a cell trained before, bit for bit, in any study of the same store.

Every trial records its cell's fingerprint (`cnnlab.sweep.fingerprint`) when it begins. A
pending cell whose fingerprint equals a finished trial's is that trial again (training is
deterministic), so the run claims it like any cell and completes it from the source's stored
result instead of training it (`TrialBook.reuse`). The copy names its origin, `<study>/<trial>`
(`Key.REUSED_FROM`): a copy of a copy points to the original, so reports can count each
training once, and reused cells are never new confirmations.

The index is read from the storage itself (every study's finished trials), so it needs no
table of its own and works on SQLite, PostgreSQL and the journal alike; it is read once per
look, not per cell (a cell another study finishes meanwhile is trained, not lost).

A cell archive carries finished trainings where no store is shared: a JSON Lines file
(`cnnlab studies --export FILE` writes one; `--cells-from FILE` reads it), one line of
provenance, then one line per training with its fingerprint. A run that reads one takes its
trainings as it takes the store's (the store's own first), so a study continued on another
machine or in another session, with the same fingerprint, trains only what is left. A cell
from the same study (an earlier invocation of this very sweep) is restored, not reused: it is
this study's own training (`Key.RESTORED_FROM`), counted as such, and named by its trial in the
new store from then on (so an archive exported after a continuation numbers every cell alike).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from optuna.storages import BaseStorage
from optuna.trial import TrialState

from cnnlab.errors import CnnlabError
from cnnlab.spec.design import Cell
from cnnlab.sweep.fingerprint import TrainingEnvironment, cell_fingerprint
from cnnlab.sweep.stores.keys import Key


@dataclass(frozen=True)
class CachedCell:
    """A finished training that a pending cell may take over."""

    origin: str  # "<study>/<trial number>" of the training that produced it
    result: dict[str, Any]  # its `TrainingResult.to_dict()`, as stored
    mlflow_run_id: str | None  # the original's MLflow run, for a link


def origin_name(study_name: str, trial_number: int) -> str:
    return f"{study_name}/{trial_number}"


def origin_study(origin: str) -> str:
    """The study of an origin `<study>/<trial>`."""
    return origin.rsplit("/", 1)[0]


def finished_trainings(
    storage: BaseStorage, only: str | None = None, *, by_sweep: bool = True
) -> dict[str, CachedCell]:
    """Fingerprint -> the finished training of every study in `storage` (or of the studies
    `only` names: a study name, or with `by_sweep` a sweep's name for all its studies): an
    original over a copy of it, the first study's over a later one's."""
    index: dict[str, CachedCell] = {}
    copies: dict[str, CachedCell] = {}
    for study in storage.get_all_studies():
        names = (study.study_name, study.user_attrs.get(Key.SWEEP) if by_sweep else None)
        if only is not None and only not in names:
            continue
        trials = storage.get_all_trials(
            study._study_id, deepcopy=False, states=(TrialState.COMPLETE,)
        )
        for trial in trials:
            attrs = trial.user_attrs
            fingerprint, result = attrs.get(Key.FINGERPRINT), attrs.get(Key.RESULT)
            if not fingerprint or not result:
                continue
            # A restored cell is its study's own training, named by its trial in this store
            # (an archive exported from here then numbers every cell the same way).
            reused_from = attrs.get(Key.REUSED_FROM)
            if reused_from:
                copies.setdefault(
                    fingerprint, CachedCell(str(reused_from), result, attrs.get(Key.REUSED_RUN))
                )
            elif fingerprint not in index:
                origin = origin_name(study.study_name, trial.number)
                index[fingerprint] = CachedCell(origin, result, attrs.get(Key.MLFLOW_RUN_ID))
    return {**copies, **index}


# --- cell archives ---------------------------------------------------------------------------

ARCHIVE_FORMAT = "cnnlab cell archive"
ARCHIVE_VERSION = 1
_LINE_FIELDS = ("fingerprint", "origin", "mlflow_run_id", "result")


@dataclass(frozen=True)
class ArchiveProvenance:
    """An archive's first line: where and by what its cells were trained and exported."""

    store: str  # the store they were read from (password masked)
    studies: list[str]
    cells: int
    written: str  # when, ISO 8601 UTC
    git_commit: str
    versions: dict[str, str]
    machine: dict[str, str]


def export_cells(
    storage: BaseStorage,
    path: Path,
    *,
    store: str,
    only: str | None = None,
    by_sweep: bool = True,
) -> int:
    """Write the finished trainings of `storage` (or of the studies `only` names, as
    `finished_trainings` reads it) to the archive `path`, with where and by what they were
    trained; the number written (0: none, and nothing is written)."""
    from cnnlab.sweep.provenance import git_commit, machine, package_versions

    cells = finished_trainings(storage, only, by_sweep=by_sweep)
    if not cells:
        return 0
    provenance = ArchiveProvenance(
        store=store,
        studies=sorted({origin_study(cell.origin) for cell in cells.values()}),
        cells=len(cells),
        written=datetime.now(UTC).isoformat(timespec="seconds"),
        git_commit=git_commit(),
        versions=package_versions(),
        machine=machine(),
    )
    write_archive(path, cells, provenance)
    return len(cells)


def write_archive(
    path: Path, cells: Mapping[str, CachedCell], provenance: ArchiveProvenance
) -> None:
    """Write `cells` to `path` (replaced atomically: a reader never sees half a file), sorted
    by origin so that a later export of the same store changes only the lines it adds."""
    header = {"format": ARCHIVE_FORMAT, "version": ARCHIVE_VERSION, **asdict(provenance)}
    lines = [json.dumps(header, sort_keys=True)]
    for fingerprint, cell in sorted(cells.items(), key=lambda item: _origin_order(item[1])):
        entry = {
            "fingerprint": fingerprint,
            "origin": cell.origin,
            "mlflow_run_id": cell.mlflow_run_id,
            "result": cell.result,
        }
        lines.append(json.dumps(entry, sort_keys=True, separators=(",", ":")))
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", delete=False, encoding="utf-8"
    ) as tmp:
        tmp.write("\n".join(lines) + "\n")
    Path(tmp.name).chmod(0o644)  # a temporary file is private; an archive is for sharing
    Path(tmp.name).replace(path)


def _origin_order(cell: CachedCell) -> tuple[str, int]:
    study, _, number = cell.origin.rpartition("/")
    return (study, int(number) if number.isdigit() else -1)


def read_archives(paths: Iterable[tuple[str, Path]]) -> dict[str, CachedCell]:
    """Every training of the archives at `paths`, each given with the option that named it
    (an earlier file's over a later one's), each file checked whole first: a bad one is refused
    in words (option, file, line, field, fix)."""
    cells: dict[str, CachedCell] = {}
    for option, path in paths:
        for fingerprint, cell in read_archive(path, option).items():
            cells.setdefault(fingerprint, cell)
    return cells


def read_archive(path: Path, option: str = "--cells-from") -> dict[str, CachedCell]:
    """The trainings of one archive, by fingerprint (`option`: which option named it)."""
    fix = (
        "pass a file written by `cnnlab studies --export FILE`"
        if option == "--cells-from"
        else f"name a new file, or an archive a sweep wrote with {option}"
    )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CnnlabError(f"{option} {path}: no such file; {fix}.") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise CnnlabError(f"{option} {path}: cannot be read ({reason}); {fix}.") from None
    lines = text.splitlines()
    header = _json_line(path, 1, lines[0] if lines else "", fix, option)
    if header.get("format") != ARCHIVE_FORMAT:
        raise CnnlabError(
            f"{option} {path}: line 1 is not a cell archive's header "
            f"(format {header.get('format')!r}, expected {ARCHIVE_FORMAT!r}); {fix}."
        )
    if header.get("version") != ARCHIVE_VERSION:
        raise CnnlabError(
            f"{option} {path}: archive version {header.get('version')!r}, but this cnnlab "
            f"reads version {ARCHIVE_VERSION}; export it again with this cnnlab."
        )
    cells: dict[str, CachedCell] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        entry = _json_line(path, number, line, fix, option)
        for field in _LINE_FIELDS:
            if field not in entry:
                raise CnnlabError(
                    f"{option} {path}: line {number} has no {field!r} field (a line cut "
                    f"short, or edited by hand?); {fix}."
                )
        fingerprint, origin, result = entry["fingerprint"], entry["origin"], entry["result"]
        if not isinstance(fingerprint, str) or not fingerprint:
            raise CnnlabError(f"{option} {path}: line {number}: 'fingerprint' is empty; {fix}.")
        if not isinstance(origin, str) or "/" not in origin:
            raise CnnlabError(
                f"{option} {path}: line {number}: 'origin' is {origin!r}, not "
                f"'<study>/<trial>'; {fix}."
            )
        if not isinstance(result, dict) or "history" not in result:
            raise CnnlabError(
                f"{option} {path}: line {number}: 'result' is not a training result; {fix}."
            )
        run_id = entry["mlflow_run_id"]
        cells.setdefault(fingerprint, CachedCell(origin, result, run_id or None))
    return cells


def _json_line(path: Path, number: int, line: str, fix: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        raise CnnlabError(
            f"{option} {path}: line {number} is not JSON ({error.msg}); {fix}."
        ) from None
    if not isinstance(value, dict):
        raise CnnlabError(f"{option} {path}: line {number} is not a JSON object; {fix}.")
    return value


class CellCache:
    """Fingerprint -> finished training, over every study of one storage."""

    def __init__(
        self,
        storage: BaseStorage,
        environment: TrainingEnvironment,
        *,
        enabled: bool = True,
        archived: Mapping[str, CachedCell] | None = None,
    ) -> None:
        self.storage, self.environment, self.enabled = storage, environment, enabled
        self.archived = dict(archived or {})  # read from `--cells-from` files
        self._index: dict[str, CachedCell] = {}

    def fingerprint(self, cell: Cell) -> str:
        return cell_fingerprint(cell, self.environment)

    def refresh(self) -> None:
        """Read every study's finished trials again (the store's over an archive's)."""
        if self.enabled:
            self._index = {**self.archived, **finished_trainings(self.storage)}

    def find(self, cell: Cell) -> CachedCell | None:
        """The finished training this cell would repeat, or None."""
        if not self.enabled:
            return None
        return self._index.get(self.fingerprint(cell))

    def origin_study(self, cell: Cell) -> str:
        """The study of the training a held cell comes from."""
        found = self.find(cell)
        return "" if found is None else origin_study(found.origin)

    def hits(self, cells: list[Cell]) -> list[Cell]:
        """The cells of `cells` the cache holds."""
        return [cell for cell in cells if self.find(cell) is not None]
