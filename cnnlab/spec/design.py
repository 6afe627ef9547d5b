"""Declaring a sweep: factors, backgrounds, claims, and the design of paired replicates.

An experiment module (`experiments/<name>.py`) declares one `Sweep`. The sweep is validated
when it is constructed; `cells(sweep)` enumerates its design: every arm (a combination of
factor levels) × every paired seed (× every background draw, in a randomized ablation). One
cell is one training run, one Optuna trial and one MLflow child run.

Designs:
- `ablation`: one factor; the other fields fixed by `base`.
- `randomized`: as ablation, but background fields (filters, kernel, dropout ...) are drawn at
  random per replicate and shared by all arms of that replicate, so a claim is tested across
  many architectures rather than one.
- `factorial`: a full grid over two or three factors.
- `search`: Optuna's TPE over `factors` with pruning, to find a good architecture. Its trials
  are sampled, not enumerated, and are never used for claim verdicts.

A spec field is named by its dotted path everywhere (`arch.pooling`, `arch.blocks.0.kernel_size`,
`train.epochs`): spec field, Optuna parameter, MLflow parameter and results column.
Standard library only, like `cnnlab.spec.specs`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from cnnlab.errors import SpecError, did_you_mean
from cnnlab.spec.metrics import LOWER_IS_BETTER, METRICS, PROBE_METRICS, PROBES, is_scaled_shift
from cnnlab.spec.network import HIDDEN, LOCATION, HyperParams, Network
from cnnlab.spec.sequential import ComputeCap, SequentialPlan, plan_hash
from cnnlab.spec.specs import (
    DATASETS,
    DataSpec,
    TrialSpec,
    check_choice,
    check_float,
    check_int,
    definition_params,
    is_unset_addition,
)

Design = Literal["ablation", "randomized", "factorial", "search"]
DESIGNS: tuple[str, ...] = get_args(Design)
_SCALARS = (str, int, float, bool, type(None))


def replace_path(spec: Any, path: str, value: Any) -> Any:
    """A copy of the (nested, frozen) spec with the field at dotted `path` set to `value`."""
    head, _, rest = path.partition(".")
    if isinstance(spec, HyperParams):  # a network's named hyperparameter: `arch.hp.pooling`
        if rest:
            raise SpecError(path, f"`{path}`: a hyperparameter is one value, not a structure.")
        return spec.with_value(head, value)
    if isinstance(spec, tuple):
        if not head.isdigit() or int(head) >= len(spec):
            raise SpecError(path, f"`{path}`: index {head} does not exist (length {len(spec)}).")
        index = int(head)
        item = replace_path(spec[index], rest, value) if rest else value
        return (*spec[:index], item, *spec[index + 1 :])
    if not dataclasses.is_dataclass(spec) or head not in {f.name for f in dataclasses.fields(spec)}:
        known = [f.name for f in dataclasses.fields(spec)] if dataclasses.is_dataclass(spec) else []
        raise SpecError(
            path,
            f"`{path}`: there is no field {head!r} here; the fields are {known}."
            f"{did_you_mean(head, known)}",
        )
    current = getattr(spec, head)
    new_value = replace_path(current, rest, value) if rest else value
    return dataclasses.replace(spec, **{head: new_value})  # type: ignore[type-var]


def _near_path(spec: Any, path: str) -> str:
    """` Did you mean 'arch.pooling'?` for a dotted path with one misspelt part."""
    found: list[str] = []
    for part in path.split("."):
        if isinstance(spec, tuple) and part.isdigit() and int(part) < len(spec):
            spec = spec[int(part)]
        elif dataclasses.is_dataclass(spec):
            names = [f.name for f in dataclasses.fields(spec)]
            hint = did_you_mean(part, names)
            if part not in names and not hint:
                return ""
            part = part if part in names else hint.split("'")[1]
            spec = getattr(spec, part)
        else:
            return ""
        found.append(part)
    near = ".".join(found)
    return f" Did you mean {near!r}?" if near != path else ""


def get_path(spec: Any, path: str) -> Any:
    """The value of the field at dotted `path`."""
    for part in path.split("."):
        if isinstance(spec, HyperParams):
            spec = spec[part] if part in spec.names else spec.with_value(part, None)  # raises
        else:
            spec = spec[int(part)] if isinstance(spec, tuple) else getattr(spec, part)
    return spec


def _label(value: Any) -> str:
    return str(value) if isinstance(value, _SCALARS) else ""


@dataclass(frozen=True, kw_only=True)
class Factor:
    """A field under test and its levels. `labels` name the levels (required for non-scalars)."""

    path: str
    levels: tuple[Any, ...]
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(self.levels))
        if len(self.levels) < 1:
            raise SpecError("levels", f"Factor `{self.path}` needs at least one level.")
        labels = tuple(self.labels) or tuple(_label(level) for level in self.levels)
        if len(labels) != len(self.levels) or not all(labels):
            raise SpecError(
                "labels",
                f"Factor `{self.path}`: give one short label per level (labels={list(labels)} "
                f"for {len(self.levels)} levels); levels that are not plain values need labels.",
            )
        for i, j in itertools.combinations(range(len(self.levels)), 2):
            # By value, not by label: two labels for one value would make two identical arms
            # and a claim between them.
            if self.levels[i] == self.levels[j]:
                raise SpecError(
                    "levels",
                    f"Factor `{self.path}`: levels {i + 1} and {j + 1} are the same value "
                    f"({self.levels[i]!r}, labelled {labels[i]!r} and {labels[j]!r}): their arms "
                    "would be identical. Remove one, or give it the value you meant.",
                )
        if len(set(labels)) != len(labels):
            raise SpecError(
                "labels",
                f"Factor `{self.path}`: labels {list(labels)} repeat; give each level its own "
                "label (labels=(...), one per level, in order).",
            )
        for label in labels:
            if any(ch in label for ch in "/+= "):
                raise SpecError(
                    "labels",
                    f"Factor `{self.path}`: label {label!r} may not contain / + = or spaces.",
                )
        object.__setattr__(self, "labels", labels)

    def level(self, label: str) -> Any:
        return self.levels[self.labels.index(label)]


@dataclass(frozen=True, kw_only=True)
class Background:
    """A field drawn at random per replicate (randomized ablation) from `choices`."""

    path: str
    choices: tuple[Any, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if len(self.choices) < 2:
            raise SpecError("choices", f"Background `{self.path}` needs at least two choices.")


@dataclass(frozen=True, kw_only=True)
class Claim:
    """A pre-declared claim: arm `better` beats arm `worse` on `metric` (evaluated in reports).

    `rope` is the region of practical equivalence, in the metric's unit (accuracies are
    fractions: 0.001 = 0.1 percentage point). `higher_is_better` follows the metric unless
    given: lower is better for losses, drops, params, flops and seconds (`LOWER_IS_BETTER`),
    higher for accuracies; after construction it is always a bool.
    """

    statement: str
    metric: str = "test_accuracy"
    better: str = ""
    worse: str = ""
    rope: float = 0.001
    higher_is_better: bool | None = None  # None: from the metric

    def __post_init__(self) -> None:
        if not self.statement.strip():
            raise SpecError("statement", "A Claim needs a statement in plain words.")
        if not is_scaled_shift(self.metric):  # other sizes' shifts: checked against the data
            check_choice("metric", self.metric, METRICS)
        if self.higher_is_better is None:
            # Resolved here, not where it is read, so claims_hash sees the same value as for a
            # claim that spelled it out: declaring it or not does not change the fingerprint.
            lower = self.metric in LOWER_IS_BETTER or self.metric.endswith("_drop")
            object.__setattr__(self, "higher_is_better", not lower)
        elif not isinstance(self.higher_is_better, bool):
            raise SpecError(
                "higher_is_better",
                f"Claim {self.statement!r}: `higher_is_better` must be True, False or left out "
                f"(from the metric), but {self.higher_is_better!r} was passed.",
            )
        check_float("rope", self.rope, low=0.0)
        if not self.better or not self.worse or self.better == self.worse:
            raise SpecError(
                "better",
                f"Claim {self.statement!r}: `better` and `worse` must name two different arms "
                f"(got {self.better!r} and {self.worse!r}).",
            )


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One arm × one replicate (seed, background): a training run, an Optuna trial and an MLflow
    child run."""

    sweep: str
    arm: str
    labels: dict[str, str]  # factor path -> the label of its level in this cell
    seed: int
    background: int | None
    spec: TrialSpec
    probes: tuple[str, ...] = ()
    probe_images: int | None = None  # test images the probes use (None: all)
    condition: str = ""  # the label of its condition, in a sweep that declares conditions
    # A network you bring: the first arm's network of the same replicate, whose initial
    # weights this cell's network takes wherever a trainable variable's path, shape, layer type
    # and initializers match (pairing).
    pair_with: Network | None = None

    @property
    def key(self) -> str:
        """Stable identity of the cell within its study (used to skip finished cells):
        `arm/seed=NN[/bg=NN]`, after `condition/` in a sweep with conditions."""
        bg = "" if self.background is None else f"/bg={self.background:02d}"
        where = f"{self.condition}/" if self.condition else ""
        return f"{where}{self.arm}/seed={self.seed:02d}{bg}"

    @property
    def arm_key(self) -> str:
        """The arm within its condition (`e9/max`; the arm alone without conditions): cells
        with one arm key train alike, so the ETA times them together."""
        return self.key.rsplit("/seed=", 1)[0]

    @property
    def run_name(self) -> str:
        """The MLflow run name, e.g. `pooling/avg/seed=07`."""
        return f"{self.sweep}/{self.key}"


@dataclass(frozen=True, kw_only=True)
class Sweep:
    """A declared experiment. See the module docstring for the designs."""

    name: str
    base: TrialSpec
    factors: tuple[Factor, ...]
    seeds: int | tuple[int, ...] | SequentialPlan = 10
    design: Design = "ablation"
    backgrounds: tuple[Background, ...] = ()
    n_backgrounds: int = 1
    claims: tuple[Claim, ...] = ()
    # Expected test accuracy of the first arm, a sanity gate: one band (for the base spec's
    # dataset) or one per dataset, e.g. {"mnist": (0.98, 0.995), "fashion_mnist": (0.85, 0.92)}.
    # A run on a dataset without a band is judged without the gate, and its report says so.
    baseline_band: tuple[float, float] | Mapping[str, tuple[float, float]] | None = None
    n_trials: int = 20  # search design only
    probes: tuple[str, ...] = ()  # extra measurements after training, e.g. ("translation",)
    probe_images: int | None = None  # test images the probes use (None: all; --quick: fewer)
    # Conditions under which every claim is judged again, each with its own looks (a training
    # or network field: `train.epochs`, the network, its width); one replication verdict per
    # claim across them (cnnlab.stats.replication). Every condition shares the seeds.
    conditions: Factor | None = None
    # A budget pilot: no claims; its report applies the convergence rule to the validation
    # curves (cnnlab.stats.convergence). Run on seeds the sweeps it serves never use.
    pilot: bool = False
    # A ceiling on training time and the full plan it cuts short (`seeds` is then the shorter
    # plan that fits): the run and the report say what the full plan would have cost.
    compute_cap: ComputeCap | None = None
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.name or not all(ch.isalnum() or ch in "_-" for ch in self.name):
            raise SpecError("name", f"`name` must be letters, digits, _ or -, not {self.name!r}.")
        if not isinstance(self.base, TrialSpec):
            raise SpecError("base", "`base` must be a TrialSpec(arch=..., train=..., data=...).")
        for name, kind, example in (
            ("factors", Factor, "factors=(Factor(...),)"),
            ("backgrounds", Background, "backgrounds=(Background(...),)"),
            ("claims", Claim, "claims=(Claim(...),)"),
            ("probes", str, "probes=('translation',)"),
        ):
            value = getattr(self, name)
            if isinstance(value, kind) or not isinstance(value, list | tuple):
                # `(Factor(...))` without its trailing comma is one Factor, not a tuple.
                raise SpecError(
                    name,
                    f"`{name}` must be a tuple, but {type(value).__name__} {value!r:.60} was "
                    f"passed: write {example}, with the trailing comma.",
                )
            object.__setattr__(self, name, tuple(value))
        for probe in self.probes:
            check_choice("probes", probe, PROBES)
        check_choice("design", self.design, DESIGNS)
        if not self.factors:
            raise SpecError("factors", "A sweep needs at least one Factor.")
        if self.design in ("ablation", "randomized") and len(self.factors) != 1:
            raise SpecError(
                "factors",
                f"An {self.design} varies one factor; this sweep has {len(self.factors)}. "
                "Use design='factorial' for a grid.",
            )
        if self.design == "factorial" and len(self.factors) < 2:
            raise SpecError("factors", "A factorial design needs two or more factors.")
        if self.design == "search" and isinstance(self.base.arch, Network):
            # A search samples its networks trial by trial, so none is built (checked,
            # costed) before the start as every network you bring must be.
            raise SpecError(
                "design",
                "design='search' does not take a network you bring (`Network` in "
                "`base.arch`) yet; use design='ablation' or 'factorial' over its "
                "hyperparameters.",
            )
        if self.design == "randomized" and not self.backgrounds:
            raise SpecError("backgrounds", "A randomized ablation needs `backgrounds`.")
        if self.design != "randomized" and self.backgrounds:
            raise SpecError("backgrounds", "`backgrounds` belong to design='randomized'.")
        check_int("n_backgrounds", self.n_backgrounds, minimum=1, maximum=1000)
        check_int("n_trials", self.n_trials, minimum=1, maximum=100_000)
        if self.probe_images is not None:
            check_int("probe_images", self.probe_images, minimum=1)
        if isinstance(self.seeds, SequentialPlan):
            if self.design not in ("ablation", "randomized") or not self.claims:
                raise SpecError(
                    "seeds",
                    "A SequentialPlan stops when the claims are decided, so it needs an "
                    "ablation or randomized design with claims; give a seed count instead.",
                )
        elif isinstance(self.seeds, int):
            check_int("seeds", self.seeds, minimum=1, maximum=10_000)
        else:
            object.__setattr__(self, "seeds", tuple(self.seeds))
            for s in self.seeds:
                check_int("seeds", s, minimum=0)
            if len(set(self.seeds)) != len(self.seeds):
                raise SpecError("seeds", "`seeds` repeat a value.")
        paths = [f.path for f in self.factors] + [b.path for b in self.backgrounds]
        for i, a in enumerate(paths):
            for j, b in enumerate(paths):
                if i != j and (a == b or b.startswith(a + ".")):
                    raise SpecError(
                        "factors",
                        f"Factors/backgrounds overlap: `{a}` and `{b}` set the same field, so "
                        "one would silently undo the other. Vary each field once.",
                    )
        # Every level and background choice must make a valid spec: fail now, not mid-sweep.
        for factor in self.factors:
            for level in factor.levels:
                self._check_field(factor.path, level, "factors")
        for background in self.backgrounds:
            for choice in background.choices:
                self._check_field(background.path, choice, "backgrounds")
        self._check_conditions(paths)
        self._check_cap()
        if self.pilot and self.claims:
            raise SpecError(
                "pilot",
                "A pilot fixes a budget and tests no claim (its seeds must not count as "
                "evidence): remove its claims, or set pilot=False.",
            )
        arms = set(self.arm_labels())
        for i, claim in enumerate(self.claims):
            for side in (claim.better, claim.worse):
                if side not in arms:
                    raise SpecError(
                        f"claims.{i}",
                        f"Claim {claim.statement!r} names arm {side!r}, but the arms are "
                        f"{sorted(arms)}.",
                    )
            self._check_probe_metric(i, claim)
        if self.baseline_band is not None:
            object.__setattr__(self, "baseline_band", self._bands(self.baseline_band))

    def _check_cap(self) -> None:
        cap = self.compute_cap
        if cap is None:
            return
        if not isinstance(cap, ComputeCap):
            raise SpecError(
                "compute_cap",
                "`compute_cap` must be a ComputeCap(hours=..., full_plan=SequentialPlan(...)), "
                f"not {cap!r}.",
            )
        plan = self.seeds
        if not isinstance(plan, SequentialPlan):
            raise SpecError(
                "compute_cap",
                "A compute cap cuts a sequential plan short, so `seeds` must be the shorter "
                "SequentialPlan(looks=...) that fits the cap; this sweep has a fixed seed count.",
            )
        # `seeds` is either the full plan itself (its worst case fits the cap: the cap is
        # stated, and checked at the start) or a plan that stops before it.
        if plan.looks != cap.full_plan.looks and plan.seed_count >= cap.full_plan.seed_count:
            raise SpecError(
                "compute_cap",
                f"`seeds` (last look at {plan.seed_count}) must be the full plan (looks at "
                f"{', '.join(map(str, cap.full_plan.looks))}) or stop before it; drop "
                "`compute_cap` for a longer plan.",
            )

    def _check_conditions(self, paths: list[str]) -> None:
        if self.conditions is None:
            return
        if not isinstance(self.conditions, Factor):
            raise SpecError(
                "conditions",
                "`conditions` must be one Factor(path=..., levels=..., labels=...), e.g. "
                "Factor(path='train.epochs', levels=(3, 12), labels=('e3', 'e12')), but "
                f"{self.conditions!r} was passed.",
            )
        if len(self.conditions.levels) < 2:
            raise SpecError(
                "conditions",
                f"`conditions` on `{self.conditions.path}` has one level; a claim replicates "
                "across two or more. Give at least two levels, or drop `conditions`.",
            )
        if self.design not in ("ablation", "randomized") or not self.claims:
            raise SpecError(
                "conditions",
                "`conditions` judge every claim once per condition, so they need an ablation "
                f"or randomized design with claims; this sweep is a {self.design} with "
                f"{len(self.claims)} claim(s).",
            )
        path = self.conditions.path
        for other in paths:
            if other == path or other.startswith(path + ".") or path.startswith(other + "."):
                raise SpecError(
                    "conditions",
                    f"`conditions` on `{path}` and the factor or background `{other}` set the "
                    "same field: a condition must hold the arms' field still, not vary it.",
                )
        for level in self.conditions.levels:
            self._check_field(path, level, "conditions")
        for label in self.conditions.labels:
            if label in self.arm_labels():
                raise SpecError(
                    "conditions",
                    f"Condition label {label!r} is also an arm's label; give the conditions "
                    "labels of their own (e.g. 'e3', 'e12').",
                )

    def _bands(
        self, declared: tuple[float, float] | Mapping[str, tuple[float, float]]
    ) -> dict[str, tuple[float, float]]:
        """Every band keyed by its dataset: a single band is the base spec's dataset's, fixed
        here so that `--dataset` (which replaces the base spec's) does not carry it along."""
        if not isinstance(declared, Mapping):
            declared = {self.base.data.name: declared}
        bands: dict[str, tuple[float, float]] = {}
        for dataset, band in declared.items():
            where = f"baseline_band[{dataset!r}]"
            check_choice(where, dataset, (*DATASETS, self.base.data.name))
            if not isinstance(band, tuple | list) or len(band) != 2:
                raise SpecError(where, f"`{where}` must be (low, high), not {band!r}.")
            low, high = band
            check_float(where, low, low=0.0, high=1.0)
            check_float(where, high, low=0.0, high=1.0)
            if not low < high:
                raise SpecError(where, f"`{where}` must be (low, high), low < high.")
            bands[dataset] = (float(low), float(high))
        return bands

    def band_for(self, dataset: str) -> tuple[float, float] | None:
        """The declared baseline band on `dataset`, or None."""
        if self.baseline_band is None:
            return None
        bands = self.baseline_band if isinstance(self.baseline_band, Mapping) else {}
        return bands.get(dataset)

    def _check_probe_metric(self, index: int, claim: Claim) -> None:
        """A claim on a probe's metric needs that probe, or its results have no such column."""
        for probe, metrics in PROBE_METRICS.items():
            measured = claim.metric in metrics or is_scaled_shift(claim.metric)
            if measured and probe not in self.probes:
                raise SpecError(
                    f"claims.{index}",
                    f"Sweep {self.name!r}: claim {claim.statement!r} is about {claim.metric!r}, "
                    f"which only the {probe!r} probe measures, but the sweep's probes are "
                    f"{self.probes}. Add probes=({probe!r},) to the Sweep, or claim a metric "
                    "every run has.",
                )

    def _check_field(self, path: str, value: Any, where: str) -> None:
        try:
            get_path(self.base, path)
        except (AttributeError, IndexError, TypeError):
            raise SpecError(
                where,
                f"`{path}` is not a field of the base TrialSpec.{_near_path(self.base, path)}",
            ) from None
        try:
            replace_path(self.base, path, value)
        except SpecError as error:
            raise SpecError(where, f"`{path}` = {value!r} is not valid: {error}") from None

    @property
    def seed_values(self) -> tuple[int, ...]:
        """Every seed the sweep may use (a sequential plan's: up to its last look)."""
        if isinstance(self.seeds, SequentialPlan):
            return tuple(range(self.seeds.seed_count))
        return tuple(range(self.seeds)) if isinstance(self.seeds, int) else self.seeds

    @property
    def replicates_per_seed(self) -> int:
        """Paired replicates each seed makes: a randomized design's backgrounds, else one."""
        return self.n_backgrounds if self.design == "randomized" else 1

    @property
    def plan(self) -> SequentialPlan | None:
        """The sequential plan, when the seeds are declared as one."""
        return self.seeds if isinstance(self.seeds, SequentialPlan) else None

    def arm_labels(self) -> list[str]:
        """Arm names: the level label for one factor, labels joined by `+` for a grid."""
        return ["+".join(combo) for combo in _grid([f.labels for f in self.factors])]

    def arms(self) -> list[tuple[str, dict[str, str]]]:
        return [
            ("+".join(combo), dict(zip((f.path for f in self.factors), combo, strict=True)))
            for combo in _grid([f.labels for f in self.factors])
        ]

    def with_changes(self, **changes: Any) -> Sweep:
        return dataclasses.replace(self, **changes)


def _grid(label_lists: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    combos: list[tuple[str, ...]] = [()]
    for labels in label_lists:
        combos = [(*combo, label) for combo in combos for label in labels]
    return combos


# How a randomized design draws its backgrounds; part of its definition hash, so that a study
# made under an earlier scheme is refused on resume rather than mixed with new draws. (Until
# 2026-12-04 the draw depended on the draw index alone, so every seed repeated the same
# `n_backgrounds` architectures instead of drawing its own.)
BACKGROUND_DRAW = "per replicate: random.Random('NAME/background/SEED/DRAW')"


def background_values(sweep: Sweep, seed: int, background: int) -> dict[str, Any]:
    """The background fields of replicate (`seed`, draw `background`): drawn afresh for every
    replicate, and fixed by the sweep name, the seed and the draw index (a rerun or another
    worker draws the same)."""
    rng = random.Random(f"{sweep.name}/background/{seed}/{background}")
    return {b.path: rng.choice(b.choices) for b in sweep.backgrounds}


def condition_sweeps(sweep: Sweep) -> list[tuple[str, Sweep]]:
    """Each condition's own sweep: the base with the condition's level set, no conditions.
    Its cells are the condition's cells once `in_condition` names them."""
    if sweep.conditions is None:
        return []
    path = sweep.conditions.path
    return [
        (
            label,
            dataclasses.replace(sweep, base=replace_path(sweep.base, path, level), conditions=None),
        )
        for label, level in zip(sweep.conditions.labels, sweep.conditions.levels, strict=True)
    ]


def in_condition(cell: Cell, sweep: Sweep, label: str) -> Cell:
    """A condition's own cell as the sweep with conditions names it: the condition in its key
    and among its labels (so it is an Optuna parameter, an MLflow tag and a results column)."""
    assert sweep.conditions is not None
    labels = {**cell.labels, sweep.conditions.path: label}
    return dataclasses.replace(cell, condition=label, labels=labels)


def cells(sweep: Sweep) -> list[Cell]:
    """Every cell of an enumerated design, replicate by replicate (all arms of seed 0 first).

    Replicate-major order means a run stopped early (`--max-time`) leaves complete pairs.
    With conditions, each replicate's cells of every condition come together too.
    The search design has no enumeration: its trials are sampled.
    """
    if sweep.design == "search":
        return []
    if sweep.conditions is not None:
        tagged = [
            ((cell.seed, cell.background or 0, index, position), in_condition(cell, sweep, label))
            for index, (label, own) in enumerate(condition_sweeps(sweep))
            for position, cell in enumerate(cells(own))
        ]
        return [cell for _, cell in sorted(tagged, key=lambda item: item[0])]
    backgrounds: list[int | None] = (
        list(range(sweep.n_backgrounds)) if sweep.design == "randomized" else [None]
    )
    return [
        make_cell(sweep, labels, seed, background)
        for seed in sweep.seed_values
        for background in backgrounds
        for _, labels in sweep.arms()
    ]


def trial_count(sweep: Sweep) -> int:
    """The most trials a run of the sweep trains: every cell of an enumerated design (a
    sequential plan's every look), or a search's `n_trials`."""
    return sweep.n_trials if sweep.design == "search" else len(cells(sweep))


def make_cell(sweep: Sweep, labels: dict[str, str], seed: int, background: int | None) -> Cell:
    """The cell of factor `labels` (path -> label) for one replicate (seed, background draw)."""
    spec = sweep.base
    if background is not None:
        for path, value in background_values(sweep, seed, background).items():
            spec = replace_path(spec, path, value)
    reference = spec
    for factor in sweep.factors:
        spec = replace_path(spec, factor.path, factor.level(labels[factor.path]))
        reference = replace_path(reference, factor.path, factor.levels[0])
    pair_with = reference.arch if isinstance(reference.arch, Network) else None
    return Cell(
        sweep=sweep.name,
        arm="+".join(labels[f.path] for f in sweep.factors),
        labels=labels,
        seed=seed,
        background=background,
        spec=spec,
        probes=sweep.probes,
        probe_images=sweep.probe_images,
        pair_with=pair_with,
    )


def _canonical(value: Any) -> Any:
    """A spec value as plain data; fields added later that hold their default are left out,
    as in `definition_params`, so a factor whose levels are specs (`filters`' ConvBlocks)
    hashes as it did before the field existed."""
    if isinstance(value, HyperParams):
        return {name: _canonical(v) for name, v in value.items}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _canonical(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not is_unset_addition(f, getattr(value, f.name))
            and not f.metadata.get(HIDDEN)
            and not f.metadata.get(LOCATION)
        }
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    return value


def definition(sweep: Sweep) -> dict[str, Any]:
    """What a cell *means*, as plain values: base spec, factors, levels, backgrounds, design.

    Seeds and background counts are left out on purpose: adding seeds extends a study, it
    does not change what its finished cells mean. Claims are hashed separately
    (`claims_hash`), so editing a claim never invalidates results.
    """
    content: dict[str, Any] = {
        "base": definition_params(sweep.base),  # fields added later count once set
        "design": sweep.design,
        "factors": [_canonical(f) for f in sweep.factors],
        "backgrounds": [_canonical(b) for b in sweep.backgrounds],
    }
    if sweep.design == "randomized":  # only there, so every other sweep keeps its hash
        content["background_draw"] = BACKGROUND_DRAW
    if sweep.conditions is not None:  # likewise
        content["conditions"] = _canonical(sweep.conditions)
    plain: dict[str, Any] = json.loads(json.dumps(content, sort_keys=True, default=str))
    return plain


def config_hash(sweep: Sweep) -> str:
    """Fingerprint of `definition`: a study refuses a sweep whose hash changed."""
    text = json.dumps(definition(sweep), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def definition_changes(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The fields that differ between two `definition`s, as `base.train.epochs: 3 -> 5`."""
    changes: list[str] = []

    def walk(path: str, old: Any, new: Any) -> None:
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(set(old) | set(new)):
                walk(f"{path}.{key}" if path else key, old.get(key), new.get(key))
        elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
            for index, (a, b) in enumerate(zip(old, new, strict=True)):
                walk(f"{path}[{index}]", a, b)
        elif old != new:
            changes.append(f"{path}: {old!r} -> {new!r}")

    walk("", stored, current)
    return changes


def claims_hash(sweep: Sweep) -> str:
    """Fingerprint of the declared claims (for pre-registration checks in reports)."""
    content = [_canonical(c) for c in sweep.claims]
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def seeds_hash(sweep: Sweep) -> str:
    """The sequential plan's hash (with its compute cap, when one is declared), or "fixed" for
    a fixed seed count (pre-registration)."""
    if sweep.plan is None:
        return "fixed"
    if sweep.compute_cap is None:  # as before caps existed, so every other study keeps its hash
        return plan_hash(sweep.plan)
    content = {"plan": plan_hash(sweep.plan), "cap": dataclasses.asdict(sweep.compute_cap)}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


QUICK_SUFFIX = "-quick"  # a smoke run's study and report: never mixed with a full run's


def study_name(sweep_name: str, *, quick: bool, dataset: str = DataSpec().name) -> str:
    """The study (and report folder) of a run: `pooling`, `pooling-quick`,
    `pooling-fashion_mnist`; `--new-study` adds `-v2`, `-v3`, ... to it."""
    name = sweep_name + (QUICK_SUFFIX if quick else "")
    return name if dataset == DataSpec().name else f"{name}-{dataset}"


def sweep_of_study(name: str) -> str:
    """The sweep a smoke run's study or report belongs to (`pooling-quick` -> `pooling`)."""
    return name.removesuffix(QUICK_SUFFIX)
