"""The table of committed runs in `reports/README.md`: what made each report, from its files.

One row per folder with a `provenance.json`: the data, the commit that trained it, how it
trained (workers), how many trials its `results.csv` holds, the sweep's wall time and when it
finished. Remarks that no file records (what else the machine did meanwhile, the estimate
printed before the start) belong in the README's prose under the table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cnnlab.report.durations import format_duration
from cnnlab.report.provenance import Provenance

RUNS_START = "<!-- runs: written by `python -m cnnlab.report --index`; do not edit -->"
RUNS_END = "<!-- end of runs -->"


def _wall(seconds: float | None) -> str:
    return format_duration(seconds) if seconds else "n/a"


def runs_table(reports_dir: Path) -> str:
    """The generated block, markers included."""
    lines = [
        RUNS_START,
        "| report | data | trained at commit | training | machine | trials | sweep wall time "
        "| finished |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for provenance_json in sorted(reports_dir.glob("*/provenance.json")):
        folder = provenance_json.parent
        prov = Provenance.read(provenance_json)
        table = pd.read_csv(folder / "results.csv") if (folder / "results.csv").is_file() else None
        trials = 0 if table is None else len(table)
        kind = " (smoke run)" if prov.quick else ""
        # The trials' own epochs: a sweep whose conditions set the budget trains several.
        counts = [prov.epochs]
        if table is not None and "epochs" in table and len(table):
            counts = sorted({int(e) for e in table["epochs"]})
        words = " or ".join(map(str, counts))
        data = (
            f"{prov.dataset}, {words} epoch{'' if counts == [1] else 's'} on "
            f"{prov.train_images:,} images"
        )
        machine = prov.machine  # a map: its keys are whatever `machine()` recorded
        # Runs from before worker processes record no `workers`: they trained in one process.
        workers = prov.workers if isinstance(prov.workers, str) else ""
        training = workers or (
            f"in one process, TensorFlow's default threads ({machine.get('cores', '?')} cores)"
        )
        lines.append(
            f"| [`{folder.name}/`]({folder.name}/README.md){kind} | {data} | "
            f"`{prov.git_commit[:7]}{'-dirty' if prov.git_commit.endswith('-dirty') else ''}` | "
            f"{training} | {machine.get('cores', '?')}-core {machine.get('cpu', '?')} | {trials} | "
            f"{_wall(prov.sweep_wall_seconds)} | {prov.finished} |"
        )
    return "\n".join([*lines, RUNS_END])
