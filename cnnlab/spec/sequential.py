"""A sequential plan for a sweep's paired seeds: pre-declared looks and how alpha is spent.

Declared in place of a fixed seed count (`Sweep(seeds=SequentialPlan(looks=(5, 8, 12, 20)))`):
the sweep trains the first look's seeds, judges every claim at that look's levels, and trains
the next look's seeds only for arms that an undecided claim needs, until every claim is decided
or the last look is reached. The statistics (`cnnlab.stats.sequential`) turn the plan into
per-look levels: Lan–DeMets alpha spending over the information fractions n_k / n_K, for the
superiority test (two-sided) and for each one-sided test of TOST, with α split over the claims
by Bonferroni.

The plan is hashed on its own (`plan_hash`): the definition hash of a sweep leaves seeds out
(adding seeds extends a study, it does not change what a cell means), so switching a sweep
from a fixed count to a plan keeps its study and its pinned hashes; the report records the
plan's hash, so a plan edited after results existed is visible.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass
from typing import Literal, get_args

from cnnlab.errors import SpecError

Spending = Literal["pocock", "obrien-fleming", "hsd"]
SPENDINGS: tuple[str, ...] = get_args(Spending)
# Chosen by simulation for few expected seeds (tests/stats/test_sequential.py prints the
# comparison): at 5 seeds a t statistic has 4 degrees of freedom, and an O'Brien–Fleming-type
# first look spends so little that it needs a t of about a hundred and never stops; Pocock-type
# spending is the one whose first look can stop a large effect (docs/statistics.md).
DEFAULT_SPENDING: Spending = "pocock"
MAX_LOOK = 10_000


@dataclass(frozen=True, kw_only=True)
class SequentialPlan:
    """Looks at cumulative paired-seed counts, α spent by `spending`, optional futility stops.

    - `looks`: strictly increasing seed counts, the first at most 5 (a plan that cannot stop
      early is a fixed design in disguise) and at least 3 (the fewest a claim is judged on);
    - `spending`: the Lan–DeMets spending function ("pocock", "obrien-fleming", or "hsd" with
      `gamma`, Hwang–Shih–DeCani);
    - `futility`: stop a claim early when, at its estimated effect, the verdict rule's own power
      at the last look is below `futility_power` for every outcome. Non-binding: the levels do not
      count on it, so ignoring it never raises an error rate.
    """

    looks: tuple[int, ...] = (5, 8, 12, 20)
    alpha: float = 0.05
    spending: Spending = DEFAULT_SPENDING
    gamma: float = 1.0
    futility: bool = True
    futility_power: float = 0.1

    def __post_init__(self) -> None:
        looks = tuple(self.looks)
        object.__setattr__(self, "looks", looks)
        if not looks or not all(isinstance(n, int) and not isinstance(n, bool) for n in looks):
            raise SpecError(
                "seeds.looks",
                f"`looks` must be paired-seed counts such as (5, 8, 12, 20), got {looks!r}.",
            )
        if any(b <= a for a, b in itertools.pairwise(looks)):
            raise SpecError(
                "seeds.looks",
                f"`looks` must increase strictly (cumulative seed counts), got {looks!r}.",
            )
        if not 3 <= looks[0] <= 5:
            raise SpecError(
                "seeds.looks",
                f"the first look must be at 3 to 5 paired seeds (a claim needs 3 to be judged, "
                f"and a later first look is a fixed design in disguise), got {looks[0]}.",
            )
        if looks[-1] > MAX_LOOK:
            raise SpecError("seeds.looks", f"the last look must be at most {MAX_LOOK} seeds.")
        if self.spending not in SPENDINGS:
            raise SpecError(
                "seeds.spending",
                f"`spending` must be one of {', '.join(SPENDINGS)}, got {self.spending!r}.",
            )
        if not 0 < self.alpha < 0.5:
            raise SpecError("seeds.alpha", f"`alpha` must lie in (0, 0.5), got {self.alpha!r}.")
        if not 0 <= self.futility_power < 1:
            raise SpecError(
                "seeds.futility_power",
                f"`futility_power` must lie in [0, 1), got {self.futility_power!r}.",
            )

    @property
    def seed_count(self) -> int:
        """The most paired seeds the plan can use: its last look."""
        return self.looks[-1]

    def describe(self) -> str:
        """One line for a plan print-out and a report."""
        return (
            f"sequential: looks at {', '.join(str(n) for n in self.looks)} paired seeds, "
            f"{self.describe_levels()}"
        )

    def describe_levels(self) -> str:
        """How α is spent over the looks, and the futility rule."""
        spending = self.spending + (f" (γ = {self.gamma:g})" if self.spending == "hsd" else "")
        futility = (
            f"; non-binding futility below power {self.futility_power:g}" if self.futility else ""
        )
        return f"Lan–DeMets {spending}-type spending of α = {self.alpha:g}{futility}"


@dataclass(frozen=True, kw_only=True)
class ComputeCap:
    """A ceiling on a sweep's training time, declared before it starts, and the plan it cuts.

    A sweep whose full plan would train longer than `hours` declares a shorter plan as its
    `seeds` (e.g. looks at 5, 8, 12 instead of 5, 8, 12, 20) and this cap: the run prints both
    plans' estimates and their power at a true dz of 1, and the report says what the full plan
    would have cost. The shorter plan is the one judged (its own levels), never the full one.
    """

    hours: float  # the most wall-clock hours of training the run may take, on its machine
    full_plan: SequentialPlan = SequentialPlan()  # what the sweep would run without the cap

    def __post_init__(self) -> None:
        if isinstance(self.hours, bool) or not isinstance(self.hours, int | float):
            raise SpecError("compute_cap.hours", f"`hours` must be a number, got {self.hours!r}.")
        if not 0 < self.hours <= 24 * 31:
            raise SpecError(
                "compute_cap.hours",
                f"`hours` must lie in (0, 744] (a month), got {self.hours!r}.",
            )
        if not isinstance(self.full_plan, SequentialPlan):
            raise SpecError(
                "compute_cap.full_plan",
                "`full_plan` must be a SequentialPlan(looks=...), the plan the cap cuts short; "
                f"got {self.full_plan!r}.",
            )


def plan_hash(plan: SequentialPlan) -> str:
    """Fingerprint of a plan, kept apart from the definition and claims hashes."""
    return hashlib.sha256(json.dumps(asdict(plan), sort_keys=True).encode()).hexdigest()[:16]
