"""Reports rendered from synthetic results tables (no training): verdicts, gates, flags, HTML."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cnnlab.report.build import ReportError, rebuild, write_report
from cnnlab.report.provenance import Provenance
from cnnlab.spec.design import cells, claims_hash
from cnnlab.spec.loading import load_sweep_file
from cnnlab.stats.table import ResultRow, results_frame
from tests.conftest import open_report_in_browser

SWEEP_FILE = '''"""Planted: a synthetic sweep for report tests.

Question: does a planted +0.3 pp effect come out supported?
"""

from cnnlab.spec.design import Claim, Factor, Sweep
from cnnlab.spec.presets import small
from cnnlab.spec.specs import TrainSpec, TrialSpec

SWEEP = Sweep(
    name="planted",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=3, batch_size=128)),
    factors=(Factor(path="arch.pooling", levels=("max", "avg", "none")),),
    seeds=20,
    probes=("translation",),
    claims=(
        Claim(statement="max beats avg", metric="test_accuracy", better="max", worse="avg",
              rope=0.001),
        Claim(statement="max equals none", metric="test_accuracy", better="max", worse="none",
              rope=0.002),
        Claim(statement="max loses less under shifts", metric="shift2_drop", better="max",
              worse="avg", rope=0.002, higher_is_better=False),
    ),
    baseline_band=(0.980, 0.995),
)
'''

# Planted: max +0.3 pp over avg (SD of the differences ~0.06 pp); none the same as max.
EFFECT = {"max": 0.003, "avg": 0.0, "none": 0.003}
PARAMS = {"max": 113_386, "avg": 113_386, "none": 2_370_282}


def _tables(sweep, drop_cell: str | None = None, shift: float = 0.0):  # type: ignore[no-untyped-def]
    """A results table and an epochs table like a sweep writes, with planted effects."""
    rng = np.random.default_rng(7)
    seed_noise = {s: rng.normal(0, 0.002) for s in sweep.seed_values}  # shared by a seed's arms
    rows, epoch_rows = [], []
    for number, cell in enumerate(cells(sweep)):
        if cell.key == drop_cell:
            continue
        level = 0.988 + shift + seed_noise[cell.seed] + rng.normal(0, 0.0004)
        accuracy = level + EFFECT[cell.arm]
        drop = 0.05 + (0.0 if cell.arm == "max" else 0.03) + rng.normal(0, 0.003)
        probes = {
            "shift1_drop": drop / 3,
            "shift2_drop": drop,
            "shift3_drop": 2 * drop,
            "rotm10_drop": drop,
            "rotm5_drop": drop / 2,
            "rotp5_drop": drop / 2,
            "rotp10_drop": drop,
        }
        rows.append(
            ResultRow(
                trial=number,
                cell=cell.key,
                arm=cell.arm,
                labels=dict(cell.labels),
                seed=cell.seed,
                background=None,
                test_accuracy=accuracy,
                test_loss=0.04,
                val_accuracy=accuracy,
                val_loss=0.04,
                train_accuracy=accuracy,
                train_loss=0.03,
                epochs=3,
                params=PARAMS[cell.arm],
                flops=2_827_008 if cell.arm != "none" else 15_727_360,
                seconds_per_epoch=5.0 if cell.arm != "none" else 21.0,
                wall_seconds=20.0,
                split_hash=f"split{cell.seed}",
                data_order_hash=f"order{cell.seed}",
                init_hash=f"init{cell.seed}",
                mlflow_run_id=None,
                probes=probes,
            )
        )
        for epoch in (1, 2, 3):
            epoch_rows.append(
                {
                    "trial": number,
                    "arm": cell.arm,
                    "seed": cell.seed,
                    "background": None,
                    "epoch": epoch,
                    "val_accuracy": accuracy - 0.004 * (3 - epoch),
                    "test_accuracy": accuracy - 0.004 * (3 - epoch),
                    "test_loss": 0.04,
                    "val_loss": 0.04,
                }
            )
    return results_frame(rows), pd.DataFrame(epoch_rows)


@pytest.fixture()
def planted(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "planted.py"
    path.write_text(SWEEP_FILE)
    return load_sweep_file(path), path


def _write(tmp_path: Path, sweep, source: Path, *, quick=False, **table_options):  # type: ignore[no-untyped-def]
    results, epochs = _tables(sweep, **table_options)
    folder = tmp_path / "reports" / "planted"
    folder.mkdir(parents=True, exist_ok=True)
    results.to_csv(tmp_path / "results.csv", index=False)
    epochs.to_csv(tmp_path / "epochs.csv", index=False)
    provenance = Provenance(
        report="planted",
        sweep="planted",
        sweep_source=str(source),
        study="planted",
        quick=quick,
        seeds=tuple(sweep.seed_values),
        n_backgrounds=1,
        epochs=3,
        batch_size=128,
        train_images=55_000,
        dataset="mnist",
        data_source="synthetic",
        data_sha256={},
        config_hash="planted",
        claims_hash_at_start=claims_hash(sweep),
        git_commit="unknown",
        versions={},
        threads={},
        machine={},
        trial_wall_seconds=0.0,
        sweep_wall_seconds=0.0,
        finished="",
    )
    return write_report(
        sweep,
        folder,
        quick=quick,
        provenance=provenance,
        results_csv=tmp_path / "results.csv",
        epochs_csv=tmp_path / "epochs.csv",
    )


def _verdicts(folder: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / "verdicts.json").read_text())


def test_a_planted_effect_yields_the_planted_verdicts(tmp_path: Path, planted) -> None:  # type: ignore[no-untyped-def]
    sweep, source = planted
    written = _write(tmp_path, sweep, source)
    verdicts = _verdicts(written.folder)
    assert verdicts["judged"] is True
    by_claim = {c["statement"]: c["verdict"] for c in verdicts["claims"]}
    assert by_claim == {
        "max beats avg": "supported",
        "max equals none": "equivalent",
        "max loses less under shifts": "supported",
    }
    readme = (written.folder / "README.md").read_text()
    # The verdict table leads: before any figure, in plain words, with the numbers.
    assert readme.index("| max beats avg | Supported | max beats avg:") < readme.index("![")
    assert "+0.30 pp" in readme or "+0.29 pp" in readme or "+0.31 pp" in readme
    assert "Practically equivalent" in readme
    figures = sorted(p.name for p in (written.folder / "figures").glob("*.png"))
    assert figures == [
        "accuracy_vs_cost.png",
        "distribution_shift2_drop.png",
        "distribution_test_accuracy.png",
        "effect_by_epoch.png",
        "learning_curves.png",
        "paired_differences.png",
        "shifted_accuracy.png",
    ]
    html = (written.folder / "index.html").read_text()
    assert html.count("data:image/png;base64,") == len(figures)
    assert "http://" not in html and "https://" not in html  # nothing to fetch
    assert "Does `arch.pooling` matter at all?" in readme  # three arms: the omnibus test
    # none has 21× the parameters of the control arm max: flagged.
    assert "Capacity differs: none has other parameter or FLOP counts" in readme


def test_a_missing_replicate_gives_not_judged(tmp_path: Path, planted) -> None:  # type: ignore[no-untyped-def]
    sweep, source = planted
    written = _write(tmp_path, sweep, source, drop_cell="avg/seed=07")
    verdicts = _verdicts(written.folder)
    assert verdicts["judged"] is False
    assert {c["verdict"] for c in verdicts["claims"]} == {"not judged"}
    assert "avg/seed=07" in verdicts["not_judged_because"][0]
    readme = (written.folder / "README.md").read_text()
    assert "> **Not judged: 1 declared cell(s) have no result (avg/seed=07)" in readme
    assert "| Supported |" not in readme


def test_a_baseline_outside_its_band_gives_not_judged_except_in_a_smoke_run(
    tmp_path: Path,
    planted,  # type: ignore[no-untyped-def]
) -> None:
    sweep, source = planted
    full = _verdicts(_write(tmp_path, sweep, source, shift=-0.05).folder)
    assert full["judged"] is False and "sanity gate" in full["not_judged_because"][0]
    smoke = _write(tmp_path, sweep, source, shift=-0.05, quick=True)
    assert _verdicts(smoke.folder)["judged"] is True  # smoke runs are not gated...
    readme = (smoke.folder / "README.md").read_text()
    assert "Smoke run (--quick)" in readme and "no evidence" in readme  # ...but bannered


def test_claims_edited_after_the_study_started_are_flagged(tmp_path: Path, planted) -> None:  # type: ignore[no-untyped-def]
    sweep, source = planted
    written = _write(tmp_path, sweep, source)
    provenance_path = written.folder / "provenance.json"
    provenance = json.loads(provenance_path.read_text())
    assert "Claims edited after results existed" not in (written.folder / "README.md").read_text()
    provenance["claims_hash_at_start"] = "0123456789abcdef"  # the claims hashed at start
    provenance_path.write_text(json.dumps(provenance))
    rebuilt = rebuild("planted", quick=False, reports_dir=tmp_path / "reports")
    assert _verdicts(rebuilt.folder)["claims_edited_after_results"] is True
    assert "Claims edited after results existed" in (rebuilt.folder / "README.md").read_text()


def test_rebuilding_gives_byte_identical_verdicts(tmp_path: Path, planted) -> None:  # type: ignore[no-untyped-def]
    sweep, source = planted
    written = _write(tmp_path, sweep, source)
    first = written.verdicts_json.read_bytes()
    figures = {p.name: p.read_bytes() for p in (written.folder / "figures").glob("*.png")}
    process = subprocess.run(
        [sys.executable, "-m", "cnnlab.report", "planted", "--reports-dir", "reports"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr
    assert "SUPPORTED     max beats avg" in process.stdout
    assert written.verdicts_json.read_bytes() == first
    again = {p.name: p.read_bytes() for p in (written.folder / "figures").glob("*.png")}
    assert again == figures  # the figures are deterministic too


def test_rebuilding_a_missing_report_names_what_exists(tmp_path: Path, planted) -> None:  # type: ignore[no-untyped-def]
    sweep, source = planted
    _write(tmp_path, sweep, source)
    with pytest.raises(ReportError, match=r"pooling-quick: no report to rebuild.*planted"):
        rebuild("pooling", quick=True, reports_dir=tmp_path / "reports")
    process = subprocess.run(
        [sys.executable, "-m", "cnnlab", "report", "pooling", "--quick", "--reports-dir", "x"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert process.returncode == 2
    assert "no report to rebuild" in process.stderr and "Traceback" not in process.stderr


def test_a_results_table_without_a_claims_metric_is_refused_by_name(
    tmp_path: Path, planted
) -> None:  # type: ignore[no-untyped-def]
    sweep, source = planted
    written = _write(tmp_path, sweep, source)
    table = pd.read_csv(written.folder / "results.csv").drop(columns=["shift2_drop"])
    table.to_csv(written.folder / "results.csv", index=False)
    with pytest.raises(ReportError, match=r"results.csv: column\(s\) shift2_drop missing"):
        rebuild("planted", quick=False, reports_dir=tmp_path / "reports")


@pytest.mark.integration
def test_the_report_opens_offline_in_chromium_with_every_figure(
    tmp_path: Path,
    planted,
    browser,  # type: ignore[no-untyped-def]
) -> None:
    sweep, source = planted
    written = _write(tmp_path, sweep, source)
    seen = open_report_in_browser(browser, written.index_html)
    assert seen["verdict_table_visible"]
    assert seen["verdict_rows"] == 3
    assert seen["verdict_cells"] == ["Supported", "Practically equivalent", "Supported"]
    figures = list((written.folder / "figures").glob("*.png"))
    assert len(seen["images"]) == len(figures) == 7
    assert all(complete and width > 0 and height > 0 for complete, width, height in seen["images"])
    assert seen["requests"], "the request listener saw nothing: it is not working"
    assert [u for u in seen["requests"] if not u.startswith(("file:", "data:"))] == []


def _randomized_results(sweep, params_of) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """A randomized sweep's results: max 0.2 pp ahead of avg, but 0.14 pp behind at seed 2."""
    rows = []
    for number, cell in enumerate(cells(sweep)):
        ahead = 0.002 if cell.seed != 2 else -0.0014
        accuracy = 0.985 + 0.001 * cell.seed + (ahead if cell.arm == "max" else 0.0)
        rows.append(
            ResultRow(
                trial=number, cell=cell.key, arm=cell.arm, labels=dict(cell.labels),
                seed=cell.seed, background=cell.background, test_accuracy=accuracy,
                test_loss=0.04, val_accuracy=accuracy, val_loss=0.04, train_accuracy=accuracy,
                train_loss=0.03, epochs=3, params=params_of(cell), flops=1, seconds_per_epoch=5.0,
                wall_seconds=20.0, split_hash=f"s{cell.seed}", data_order_hash=f"o{cell.seed}",
                init_hash=f"i{cell.seed}/{cell.background}", mlflow_run_id=None,
            )
        )  # fmt: skip
    return results_frame(rows)


def test_a_randomized_report_lists_every_replicates_drawn_architecture(tmp_path: Path) -> None:
    from cnnlab.report.build import analyse_results_csv
    from cnnlab.report.document import build_document
    from cnnlab.report.render import to_markdown
    from cnnlab.spec.design import background_values
    from cnnlab.spec.geometry import count_params
    from cnnlab.spec.loading import load_sweep

    sweep = load_sweep("pooling_randomized").with_changes(seeds=4)
    _randomized_results(sweep, lambda cell: count_params(cell.spec.arch)).to_csv(
        tmp_path / "results.csv", index=False
    )
    analysis = analyse_results_csv(sweep, tmp_path / "results.csv", quick=False)
    assert [(r.seed, r.background) for r in analysis.replicates] == [
        (seed, bg) for seed in range(4) for bg in range(2)
    ]
    text = to_markdown(build_document(analysis, [], ""))
    table = text[text.index("## Drawn architectures") :].split("\n\n")[2].splitlines()
    assert table[0] == (
        "| Seed | Draw | arch.blocks.0.filters | arch.blocks.1.filters | "
        "arch.blocks.0.kernel_size | arch.dropout | Parameters | max (%) | avg (%) | "
        "max − avg (pp) |"
    )
    assert len(table) == 2 + 8  # header, rule, one row per replicate
    drawn = background_values(sweep, 3, 1)
    cell = next(c for c in cells(sweep) if (c.seed, c.background, c.arm) == (3, 1, "max"))
    assert table[-1] == (
        f"| 3 | 1 | {' | '.join(str(v) for v in drawn.values())} | "
        f"{count_params(cell.spec.arch):,} | 99.00 | 98.80 | +0.20 |"
    )
    assert table[6].endswith("| 98.56 | 98.70 | −0.14 |")  # seed 2, draw 0: the report's minus
    assert "8 replicates, " in text and "distinct architectures" in text


def test_a_randomized_run_drawn_under_another_scheme_is_refused(tmp_path: Path) -> None:
    # Until 2026-12-04 every seed repeated seed 0's backgrounds; such a run's trials are not
    # the architectures the sweep draws now, and its report would name the wrong ones.
    from cnnlab.report.build import analyse_results_csv
    from cnnlab.spec.design import make_cell
    from cnnlab.spec.geometry import count_params
    from cnnlab.spec.loading import load_sweep

    sweep = load_sweep("pooling_randomized").with_changes(seeds=4)
    seed_zeros = lambda cell: count_params(  # noqa: E731
        make_cell(sweep, dict(cell.labels), 0, cell.background).spec.arch
    )
    _randomized_results(sweep, seed_zeros).to_csv(tmp_path / "results.csv", index=False)
    with pytest.raises(ReportError, match=r"parameters, but the background the sweep draws"):
        analyse_results_csv(sweep, tmp_path / "results.csv", quick=False)
