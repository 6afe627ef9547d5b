"""Cell archives: a study continued in another store (another session, another machine) trains
only what is left, and a bad archive is refused in words before any work (real Optuna studies
and MLflow stores, tiny synthetic data)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from cnnlab.cli import main as cnnlab_main
from cnnlab.data import synthetic_dataset
from cnnlab.errors import CnnlabError
from cnnlab.spec.design import Factor, Sweep
from cnnlab.spec.presets import small
from cnnlab.spec.specs import DataSpec, TrainSpec, TrialSpec
from cnnlab.sweep.options import SweepOptions
from cnnlab.sweep.runner import run_sweep
from cnnlab.sweep.stores.cache import (
    ArchiveProvenance,
    CachedCell,
    read_archive,
    write_archive,
)
from cnnlab.sweep.stores.keys import Key
from cnnlab.sweep.stores.studies import default_storage_url, open_storage

DATA = synthetic_dataset(n_train=400, n_test=160, seed=5)
BASE = TrialSpec(
    arch=small,
    train=TrainSpec(epochs=2, batch_size=64),
    data=DataSpec(dataset="mnist", validation_size=80),
)
SWEEP = Sweep(
    name="carried",
    base=BASE,
    factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
    seeds=2,
)


def _run(runs: Path, sweep: Sweep = SWEEP, **options: object):  # type: ignore[no-untyped-def]
    return run_sweep(
        sweep,
        SweepOptions(runs_dir=runs, workers=1, **options),
        dataset=DATA,  # type: ignore[arg-type]
    )


def _trials(runs: Path, study: str) -> dict[str, optuna.trial.FrozenTrial]:
    loaded = optuna.load_study(study_name=study, storage=open_storage(default_storage_url(runs)))
    trials = loaded.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return {t.user_attrs[Key.CELL]: t for t in trials}


def _lines(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def first_session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A store with the whole sweep trained, and its archive written by the command line."""
    folder = tmp_path_factory.mktemp("archive")
    runs, archive = folder / "runs", folder / "carried.cells.jsonl"
    _run(runs)
    assert cnnlab_main(["studies", "--runs-dir", str(runs), "--export", str(archive)]) == 0
    return runs, archive


@pytest.mark.integration
def test_the_export_holds_every_finished_cell_with_its_fingerprint_and_provenance(
    first_session: tuple[Path, Path],
) -> None:
    runs, archive = first_session
    header, *entries = _lines(archive)
    assert header["format"] == "cnnlab cell archive" and header["cells"] == 4
    assert header["studies"] == ["carried"] and header["git_commit"]
    trials = _trials(runs, "carried")
    by_origin = {e["origin"]: e for e in entries}
    assert sorted(by_origin) == sorted(f"carried/{t.number}" for t in trials.values())
    for trial in trials.values():
        entry = by_origin[f"carried/{trial.number}"]
        assert entry["fingerprint"] == trial.user_attrs[Key.FINGERPRINT]
        assert entry["result"] == trial.user_attrs[Key.RESULT]
        assert entry["mlflow_run_id"] == trial.user_attrs[Key.MLFLOW_RUN_ID]


@pytest.mark.integration
def test_a_study_continued_in_a_new_store_trains_only_what_the_archive_lacks(
    first_session: tuple[Path, Path], tmp_path: Path
) -> None:
    runs, archive = first_session
    # The first session had finished only two cells: the archive it left holds those two.
    header, *entries = archive.read_text().splitlines()
    kept = [e for e in entries if json.loads(e)["result"]["seed"] == 0]
    partial = tmp_path / "partial.jsonl"
    partial.write_text("\n".join([header, *kept]) + "\n")
    second = tmp_path / "runs"
    _run(second, cells_from=(partial,))
    before, after = _trials(runs, "carried"), _trials(second, "carried")
    assert sorted(after) == sorted(before)
    timings = pd.read_csv(second / "results" / "carried" / "timings.csv")
    assert sorted(timings["cell"]) == ["avg/seed=01", "max/seed=01"]  # only these trained
    for cell in ("max/seed=00", "avg/seed=00"):
        restored, source = after[cell], before[cell]
        # Restored: this study's own training, not a copy from another study.
        assert restored.user_attrs[Key.RESTORED_FROM] == f"carried/{source.number}"
        assert Key.REUSED_FROM not in restored.user_attrs
        assert restored.user_attrs[Key.RESULT] == source.user_attrs[Key.RESULT]
        assert restored.intermediate_values == source.intermediate_values
    # The trained ones are the same bits as the first session's (deterministic training).
    for cell in ("max/seed=01", "avg/seed=01"):
        assert Key.RESTORED_FROM not in after[cell].user_attrs
        assert after[cell].value == before[cell].value
    # Restored cells are the study's own evidence: results.csv and the report copy nothing.
    results = pd.read_csv(second / "results" / "carried" / "results.csv", keep_default_na=False)
    assert set(results["reused_from"]) == {""}
    # Exported again, the continued study names every cell by its own trial in the new store
    # (restored ones too): one numbering, whatever session trained each cell.
    again = tmp_path / "again.jsonl"
    assert cnnlab_main(["studies", "--runs-dir", str(second), "--export", str(again)]) == 0
    assert {e["origin"] for e in _lines(again)[1:]} == {
        f"carried/{t.number}" for t in after.values()
    }


@pytest.mark.integration
def test_another_sweep_reuses_archived_cells_as_copies(
    first_session: tuple[Path, Path], tmp_path: Path
) -> None:
    _, archive = first_session
    other = Sweep(
        name="other",
        base=BASE,
        factors=(Factor(path="arch.pooling", levels=("max", "strided")),),
        seeds=2,
    )
    runs = tmp_path / "runs"
    _run(runs, other, cells_from=(archive,))
    trials = _trials(runs, "other")
    assert trials["max/seed=00"].user_attrs[Key.REUSED_FROM].startswith("carried/")
    assert Key.REUSED_FROM not in trials["strided/seed=00"].user_attrs
    timings = pd.read_csv(runs / "results" / "other" / "timings.csv")
    assert sorted(timings["cell"]) == ["strided/seed=00", "strided/seed=01"]


def test_an_archive_reads_back_what_was_written(tmp_path: Path) -> None:
    cells = {
        "f1": CachedCell("s/3", {"history": [], "seed": 1}, "run1"),
        "f2": CachedCell("s/10", {"history": [], "seed": 2}, None),
    }
    path = tmp_path / "a.jsonl"
    provenance = ArchiveProvenance("x", ["s"], 2, "2026-12-06T00:00:00+00:00", "c", {}, {})
    write_archive(path, cells, provenance)
    assert read_archive(path) == cells
    # Sorted by study and trial number, so a later export only appends lines.
    assert [e.get("origin") for e in _lines(path)[1:]] == ["s/3", "s/10"]


HEADER = json.dumps({"format": "cnnlab cell archive", "version": 1})
GOOD = json.dumps(
    {"fingerprint": "f", "origin": "s/1", "mlflow_run_id": None, "result": {"history": []}}
)
NOT_A_RESULT = GOOD.replace('{"history": []}', "7")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "line 1 is not JSON"),
        ("{not json\n", "line 1 is not JSON"),
        ('{"format": "something else"}\n', "line 1 is not a cell archive's header"),
        ('{"format": "cnnlab cell archive", "version": 9}\n', "archive version 9"),
        (f"{HEADER}\n{GOOD}\n{GOOD[:40]}\n", "line 3 is not JSON"),
        (f'{HEADER}\n{{"fingerprint": "f", "origin": "s/1"}}\n', "line 2 has no 'mlflow_run_id'"),
        (f"{HEADER}\n{GOOD.replace('s/1', 's1')}\n", "line 2: 'origin' is 's1'"),
        (f"{HEADER}\n{NOT_A_RESULT}\n", "'result' is not a training"),
        (f"{HEADER}\n[1, 2]\n", "line 2 is not a JSON object"),
    ],
)
def test_a_bad_archive_is_refused_naming_the_file_the_line_and_the_fix(
    tmp_path: Path, text: str, words: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(CnnlabError) as refused:
        read_archive(path)
    message = str(refused.value)
    assert f"--cells-from {path}" in message and words in message
    assert "cnnlab studies --export" in message or "export it again" in message


def test_a_missing_archive_or_one_beside_retrain_is_refused_before_any_work(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    with pytest.raises(CnnlabError, match="no such file"):
        _run(runs, cells_from=(tmp_path / "absent.jsonl",))
    archive = tmp_path / "a.jsonl"
    archive.write_text(f"{HEADER}\n{GOOD}\n")
    with pytest.raises(CnnlabError, match="--cells-from and --retrain contradict"):
        _run(runs, cells_from=(archive,), reuse=False)
    assert not runs.exists()  # refused before anything was written


def test_exporting_a_store_without_finished_cells_is_refused_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    optuna.create_study(study_name="empty", storage=open_storage(default_storage_url(runs)))
    target = tmp_path / "out.jsonl"
    code = cnnlab_main(["studies", "--runs-dir", str(runs), "--export", str(target)])
    assert code != 0 and not target.exists()
    assert "has no finished cell" in capsys.readouterr().err


@pytest.mark.integration
def test_one_archive_carries_a_sweep_across_stores_read_at_the_start_written_at_the_end(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "carried.cells.jsonl"
    first, second = tmp_path / "first", tmp_path / "second"
    _run(first, archive=archive)  # nothing to read yet; written at the end
    header, *entries = _lines(archive)
    assert header["studies"] == ["carried"] and len(entries) == 4
    before = _trials(first, "carried")
    _run(second, archive=archive)  # read at the start: every cell restored, none trained
    after = _trials(second, "carried")
    assert all(Key.RESTORED_FROM in t.user_attrs for t in after.values())
    assert [after[c].value for c in sorted(after)] == [before[c].value for c in sorted(before)]
    timings = second / "results" / "carried" / "timings.csv"
    assert not timings.exists() or pd.read_csv(timings).empty
    # Rewritten from the second store: one numbering, its own.
    assert {e["origin"] for e in _lines(archive)[1:]} == {
        f"carried/{t.number}" for t in after.values()
    }


def test_an_archive_that_names_a_folder_is_refused_before_any_work(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with pytest.raises(CnnlabError, match=r"--archive .* is a folder; name a file"):
        _run(runs, archive=tmp_path)
    assert not runs.exists()


@pytest.mark.integration
def test_an_interrupted_run_still_writes_what_finished_to_its_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cnnlab.sweep.trials.execution as execution

    real, calls = execution.train_cell, {"n": 0}

    def interrupted_third(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(execution, "train_cell", interrupted_third)
    archive = tmp_path / "cells.jsonl"
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "runs", archive=archive)
    finished = _trials(tmp_path / "runs", "carried")
    assert len(finished) == 2
    assert {e["fingerprint"] for e in _lines(archive)[1:]} == {
        t.user_attrs[Key.FINGERPRINT] for t in finished.values()
    }
