"""The cost of pooling (seed claim 5: "pooling reduces computation, memory and parameters").

`reports/cost/README.md` is written from committed files alone: the parameter and FLOP counts
of each arm from `reports/pooling/results.csv` (every trial records its model's exact
counts), activation sizes from the layer plan (`cnnlab.spec.geometry`, exact), and seconds
per epoch from `reports/cost/timing.json`, which `benchmarks/pooling_cost.py` writes from
trainings run one at a time. The sweep's own per-epoch times are not used: its trials shared
the two cores with one another, so they measure the crowd as much as the model.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cnnlab.report.build import ReportError
from cnnlab.spec.design import Cell, Sweep, cells
from cnnlab.spec.geometry import plan_layers
from cnnlab.spec.loading import load_sweep
from cnnlab.spec.specs import ArchSpec

SOURCE = "pooling"  # the report whose trials give the counts
TIMING = "timing.json"


@dataclass(frozen=True, kw_only=True)
class ArmCost:
    arm: str
    params: int
    flops: int  # forward FLOPs per image, 2 × multiply-accumulates (README.md)
    activations: int  # floats every layer outputs for one image, forward
    seconds: float | None  # median seconds per epoch, alone on the machine
    seconds_range: tuple[float, float] | None = None  # fastest and slowest training

    def ratios_to(self, base: ArmCost) -> list[tuple[str, float | None]]:
        """This arm's costs as multiples of `base`'s, by what is counted (None: not timed)."""
        time = None
        if self.seconds is not None and base.seconds:  # a zero time is no base
            time = self.seconds / base.seconds
        return [
            ("parameters", self.params / base.params),
            ("FLOPs", self.flops / base.flops),
            ("activations", self.activations / base.activations),
            ("seconds per epoch", time),
        ]


def activations(arch: ArchSpec) -> int:
    """Floats the layers output for one image (the input not counted, nor a flatten, which
    is a view of its input)."""
    return sum(
        math.prod(layer.output_shape) for layer in plan_layers(arch) if layer.kind != "flatten"
    )


def _counts(results: pd.DataFrame, path: Path) -> dict[str, tuple[int, int]]:
    """(params, FLOPs) per arm; refuses an arm whose trials disagree (not one model)."""
    counts: dict[str, tuple[int, int]] = {}
    for arm, rows in results.groupby("arm", sort=False):
        pairs = set(zip(rows["params"], rows["flops"], strict=True))
        if len(pairs) != 1:
            raise ReportError(f"{path}: arm {arm!r} has several parameter/FLOP counts {pairs}.")
        params, flops = pairs.pop()
        counts[str(arm)] = (int(params), int(flops))
    return counts


def arm_costs(reports_dir: Path) -> tuple[list[ArmCost], dict[str, Any] | None]:
    """Every arm of the pooling report with its costs, and the timing record if committed."""
    path = reports_dir / SOURCE / "results.csv"
    if not path.is_file():
        raise ReportError(f"{path} is missing: the cost report reads the pooling sweep's trials.")
    counts = _counts(pd.read_csv(path), path)
    timing_path = reports_dir / "cost" / TIMING
    timing = json.loads(timing_path.read_text()) if timing_path.is_file() else None
    medians = timing["median_seconds"] if timing else {}
    seconds = timing["seconds"] if timing else {}
    sweep = load_sweep(SOURCE)
    arches: dict[str, ArchSpec] = {}
    for cell in _first_seed_cells(sweep):
        assert isinstance(cell.spec.arch, ArchSpec)  # the pooling sweep's own CNNs
        arches[cell.arm] = cell.spec.arch
    return [
        ArmCost(
            arm=arm,
            params=params,
            flops=flops,
            activations=activations(arches[arm]),
            seconds=medians.get(arm),
            seconds_range=(min(seconds[arm]), max(seconds[arm])) if seconds.get(arm) else None,
        )
        for arm, (params, flops) in counts.items()
    ], timing


def _first_seed_cells(sweep: Sweep) -> list[Cell]:
    first = sweep.seed_values[0]
    return [cell for cell in cells(sweep) if cell.seed == first]


def _threads(threads: int | None) -> str:
    if not threads:
        return "on TensorFlow's default threads (every core)"
    # One thread is how each of a sweep's worker processes trains; it also keeps the timing
    # off this machine's bimodal scheduling of a two-thread `fit`.
    return f"TensorFlow limited to {threads} thread{'s' if threads > 1 else ''}"


def cost_markdown(reports_dir: Path) -> str:
    costs, timing = arm_costs(reports_dir)
    base = next(c for c in costs if c.arm == "max")
    lines = [
        "# The cost of pooling (seed claim 5)",
        "",
        'The seed claim: pooling "reduces computation, memory and parameters". Written by '
        "`python -m cnnlab.report --index` from committed files only: the counts from the "
        f"trials of [`{SOURCE}`](../{SOURCE}/README.md) (`results.csv`, every trial of an arm "
        "has the same model), activation sizes from the layer plan, and seconds per epoch from "
        f"[`{TIMING}`]({TIMING}).",
        "",
        "| arm | parameters | forward FLOPs per image | activations per image (floats) | "
        "seconds per epoch, median (fastest–slowest) | × max (params, FLOPs, activations, "
        "time) |",
        "|---|---|---|---|---|---|",
    ]
    for c in costs:
        seconds = "not measured yet"
        if c.seconds is not None:
            seconds = f"{c.seconds:.2f}"
            if c.seconds_range is not None:
                seconds += f" ({c.seconds_range[0]:.2f}–{c.seconds_range[1]:.2f})"
        ratios = ", ".join("–" if r is None else f"×{r:.2f}" for _, r in c.ratios_to(base))
        lines.append(
            f"| {c.arm} | {c.params:,} | {c.flops:,} | {c.activations:,} | {seconds} | {ratios} |"
        )
    lines += [
        "",
        "FLOPs: 2 × the multiply-accumulates of the convolution and dense layers (bias, "
        "activation and pooling not counted). Activations: the values every layer outputs for "
        "one image in the forward pass, a flatten not counted (4 bytes each in float32); "
        "training keeps them for the backward pass, so they scale the memory a batch needs.",
    ]
    if timing is not None:
        machine = timing.get("machine", {})
        lines += [
            "",
            f"Seconds per epoch: the median of {timing['repeats']} trainings per arm "
            f"({timing['train_images']:,} images, batch {timing['batch_size']}, the second "
            f"epoch of two, alone on the machine, {_threads(timing.get('threads'))}: "
            f"{machine.get('cores', '?')}-core {machine.get('cpu', '?')}), measured "
            f"{timing['measured']} at commit {str(timing.get('git_commit', '?'))[:7]} by "
            f"`{timing['command']}`.",
        ]
        spread = max((c.seconds_range[1] / c.seconds_range[0] for c in costs if c.seconds_range),
                     default=1.0)  # fmt: skip
        if spread >= 1.5:  # say it where a reader compares times, not only in the benchmark
            lines += [
                "",
                f"The same training ran up to ×{spread:.1f} slower on one repeat than on "
                "another here (the fastest–slowest column): this machine's speed comes in "
                "modes, so the time ratios, from medians, are rough; the counts are exact.",
            ]
    return "\n".join(lines) + "\n"


def write_cost(reports_dir: Path) -> Path | None:
    """Write `reports_dir/cost/README.md`, or None without the pooling report."""
    if not (reports_dir / SOURCE / "results.csv").is_file():
        return None
    folder = reports_dir / "cost"
    folder.mkdir(exist_ok=True)
    (folder / "README.md").write_text(cost_markdown(reports_dir))
    return folder / "README.md"
