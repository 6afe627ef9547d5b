"""Whether a claim replicates across conditions: one verdict from each condition's own.

A sweep with conditions (`Sweep.conditions`: epochs, the network, its width) judges every
claim once per condition, each with its own sequential looks (`cnnlab.stats.sequential`), at
the claim's own level. Across them, one replication verdict per claim, tried in this order:

- **holds in every condition**: supported in each. An intersection–union test (Berger 1982):
  the false-verdict rate is at most the largest of the conditions' own, with no correction
  for their number, because every one of them must be wrong at once.
- **depends on the condition**: the claim's paired differences change with the condition.
  Conditions share seeds (and so initial weights and data order), so this is a paired test
  at the seed level on the seeds every condition has: a paired t test of the two conditions'
  differences, or for three or more a repeated-measures ANOVA of the differences (seeds ×
  conditions) with Greenhouse–Geisser's correction, at `INTERACTION_ALPHA`. It may come with
  "holds in every condition": then the effect is everywhere, and its size differs.
- **holds on average** (five or more conditions only, `POOLED_MIN_CONDITIONS`): the pooled
  effect's interval lies above zero. Random effects, estimated at the seed level for the same
  reason: d(s, c) = μ + u_c + v_s + e(s, c) with the condition effects u_c ~ N(0, τ²), so the
  pooled mean's variance is τ²/k + Var(seed means over conditions)/n, with τ² from the two-way
  table's mean squares ((MS_conditions − MS_error)/n, at least 0). statsmodels'
  `combine_effects` assumes independent estimates, which shared seeds are not: it
  under-covers here (docs/statistics.md). I² = τ²/(τ² + MS_error/n); the prediction interval
  (Higgins, Thompson & Spiegelhalter 2009) is where a new condition's effect would fall.
- otherwise **undecided across conditions**, never "does not replicate": a condition that is
  open, inconclusive or stopped for futility has not shown the claim false.

With a sequential plan, the interaction test and the pooled effect read the first look's seeds
only: every condition trains them whatever its data say. The seeds all conditions reach later
are chosen by the stopping rule (a condition stops early when its first differences are
extreme, and trains no more), and on them the interaction test said "depends" 5.9 % of the
time under a homogeneous effect (dz 1 in both conditions, 10,000 simulated claims) against its
5 %. Both versions are simulated (`simulate_replication`, docs/statistics.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as sps

from cnnlab.spec.sequential import SequentialPlan
from cnnlab.stats.anova import greenhouse_geisser

INTERACTION_ALPHA = 0.05
POOLED_MIN_CONDITIONS = 5
POOLED_LEVEL = 0.95

Replicated = Literal[
    "holds in every condition",
    "depends on the condition",
    "holds on average",
    "undecided across conditions",
    "not judged yet",
]
REPLICATED: tuple[Replicated, ...] = (
    "holds in every condition",
    "depends on the condition",
    "holds on average",
    "undecided across conditions",
    "not judged yet",
)


@dataclass(frozen=True)
class ConditionEffect:
    """A claim in one condition: its verdict (or standing) and the interval that decided it."""

    condition: str
    verdict: str  # supported, refuted, equivalent, inconclusive; or "not judged"
    n: int
    mean: float
    ci: tuple[float, float]
    ci_level: float
    stopped_for_futility: bool = False


@dataclass(frozen=True)
class Interaction:
    """The paired, seed-level test of whether the differences change with the condition."""

    test: str
    seeds: int
    statistic: float
    df: tuple[float, float]
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < INTERACTION_ALPHA


@dataclass(frozen=True)
class Pooled:
    """The random-effects pooled effect over the conditions (seed level, see module)."""

    k: int
    seeds: int
    mean: float
    se: float
    df: float
    ci: tuple[float, float]
    prediction: tuple[float, float]
    tau2: float
    i2: float


@dataclass(frozen=True)
class Replication:
    """One claim across its conditions."""

    statement: str
    verdict: Replicated
    effects: tuple[ConditionEffect, ...]
    interaction: Interaction | None
    pooled: Pooled | None
    # Also true when the verdict is "holds in every condition": the size then differs.
    depends: bool = False


def common_table(differences: Mapping[str, Mapping[int, float]]) -> tuple[list[int], np.ndarray]:
    """The seeds every condition has, and their differences (seeds × conditions)."""
    seeds = sorted(set.intersection(*(set(d) for d in differences.values())))
    names = list(differences)
    table = np.array([[differences[c][s] for c in names] for s in seeds], dtype=float)
    return seeds, table.reshape(len(seeds), len(names))


def interaction_test(differences: Mapping[str, Mapping[int, float]]) -> Interaction | None:
    """Do a claim's per-seed differences change with the condition? On the common seeds; None
    when they are too few (a paired t needs 3, the ANOVA more seeds than conditions)."""
    _, table = common_table(differences)
    n, k = table.shape
    if k == 2:
        if n < 3:
            return None
        delta = table[:, 0] - table[:, 1]
        sd = float(delta.std(ddof=1))
        if sd == 0:
            return Interaction(
                "paired t", n, 0.0, (1.0, n - 1.0), 1.0 if delta.mean() == 0 else 0.0
            )
        t = float(delta.mean() / (sd / math.sqrt(n)))
        return Interaction("paired t", n, t, (1.0, n - 1.0), float(2 * sps.t.sf(abs(t), n - 1)))
    if n <= k:
        return None
    grand = table.mean()
    ss_conditions = n * float(((table.mean(axis=0) - grand) ** 2).sum())
    ss_seeds = k * float(((table.mean(axis=1) - grand) ** 2).sum())
    ss_error = float(((table - grand) ** 2).sum()) - ss_conditions - ss_seeds
    df1, df2 = k - 1.0, (k - 1.0) * (n - 1.0)
    if ss_error <= 0:
        return Interaction("repeated-measures ANOVA", n, math.inf, (df1, df2), 0.0)
    f = (ss_conditions / df1) / (ss_error / df2)
    epsilon = greenhouse_geisser(table)
    p = float(sps.f.sf(f, epsilon * df1, epsilon * df2))
    return Interaction(
        f"repeated-measures ANOVA (Greenhouse–Geisser ε = {epsilon:.2f})",
        n,
        f,
        (epsilon * df1, epsilon * df2),
        p,
    )


def pooled_effect(
    differences: Mapping[str, Mapping[int, float]], level: float = POOLED_LEVEL
) -> Pooled | None:
    """The random-effects pooled effect at the seed level (see the module docstring); None
    with fewer than `POOLED_MIN_CONDITIONS` conditions or fewer than 3 common seeds."""
    _, table = common_table(differences)
    n, k = table.shape
    if k < POOLED_MIN_CONDITIONS or n < 3:
        return None
    grand = float(table.mean())
    seed_means = table.mean(axis=1)
    ms_conditions = n * float(((table.mean(axis=0) - grand) ** 2).sum()) / (k - 1)
    residual = table - table.mean(axis=0) - seed_means[:, None] + grand
    ms_error = float((residual**2).sum()) / ((k - 1) * (n - 1))
    tau2 = max(0.0, (ms_conditions - ms_error) / n)
    seed_part = float(seed_means.var(ddof=1)) / n  # shared seed effects and their noise
    condition_part = tau2 / k
    var = seed_part + condition_part
    se = math.sqrt(var)
    # Satterthwaite's degrees of freedom for the sum of the two variance estimates.
    parts = [(seed_part, n - 1.0)]
    if condition_part > 0:
        parts.append((condition_part, k - 1.0))
    df = var**2 / sum(p**2 / d for p, d in parts) if var > 0 else n - 1.0
    crit = float(sps.t.ppf(0.5 + level / 2, df))
    i2 = tau2 / (tau2 + ms_error / n) if tau2 + ms_error > 0 else 0.0
    spread = math.sqrt(tau2 + var)
    crit_new = float(sps.t.ppf(0.5 + level / 2, max(k - 2, 1)))
    return Pooled(
        k=k,
        seeds=n,
        mean=grand,
        se=se,
        df=df,
        ci=(grand - crit * se, grand + crit * se),
        prediction=(grand - crit_new * spread, grand + crit_new * spread),
        tau2=tau2,
        i2=i2,
    )


def replication_verdict(
    statement: str,
    effects: Sequence[ConditionEffect],
    differences: Mapping[str, Mapping[int, float]],
) -> Replication:
    """The claim's replication verdict from its conditions' verdicts and per-seed differences
    (condition -> seed -> difference, in the claim's direction)."""
    interaction = interaction_test(differences) if len(differences) >= 2 else None
    pooled = pooled_effect(differences)
    depends = interaction is not None and interaction.significant
    verdict: Replicated
    if any(e.verdict == "not judged" for e in effects):
        verdict = "not judged yet"
    elif all(e.verdict == "supported" for e in effects):
        verdict = "holds in every condition"
    elif depends:
        verdict = "depends on the condition"
    elif pooled is not None and pooled.ci[0] > 0:
        verdict = "holds on average"
    else:
        verdict = "undecided across conditions"
    return Replication(statement, verdict, tuple(effects), interaction, pooled, depends)


# --- the verdicts' error rates, simulated with each condition's sequential stopping ---------


@dataclass(frozen=True)
class ReplicationRates:
    """Rates over simulated claims: every condition judged by its plan (stopping included), the
    replication verdict on the seeds each condition's verdict rests on."""

    sims: int
    holds_everywhere: float  # "holds in every condition"
    depends: float  # the interaction test significant
    pooled_coverage: float  # the pooled interval covers the conditions' mean effect (k ≥ 5)
    naive_coverage: float  # the same, by statsmodels' combine_effects (independent estimates)
    mean_common_seeds: float


def condition_draws(
    rng: np.random.Generator, sims: int, seeds: int, effects: Sequence[float], rho: float
) -> np.ndarray:
    """sims × seeds × conditions differences in SD units: d = μ_c + v_s + e, with the seed
    effect v shared by every condition (correlation `rho` between two conditions' differences
    of one seed) and each condition's own noise e; every condition's differences have SD 1."""
    shared = rng.standard_normal((sims, seeds, 1)) * math.sqrt(rho)
    own = rng.standard_normal((sims, seeds, len(effects))) * math.sqrt(1 - rho)
    return np.asarray(effects, dtype=float)[None, None, :] + shared + own


def simulate_replication(
    plan: SequentialPlan,
    effects: Sequence[float],
    *,
    rho: float,
    claims: int = 1,
    rope_sd: float = 1.0,
    tau: float = 0.0,
    sims: int = 4000,
    seed: int = 0,
    across: Literal["first look", "common"] = "first look",
) -> ReplicationRates:
    """The replication verdicts' rates when each condition's true effect (dz) is `effects`
    (plus, with `tau` > 0, a random N(0, tau²) condition effect drawn per simulated claim).

    `across`: the seeds the interaction test and the pooled effect read: the first look's
    (what `cnnlab.stats.replication.conditions` does), or every seed all conditions reached,
    which the stopping rule chose (kept to show what it costs: docs/statistics.md)."""
    from statsmodels.stats.meta_analysis import combine_effects

    from cnnlab.stats.sequential import OUTCOMES, look_levels, simulate_plan

    rng = np.random.default_rng(seed)
    levels = look_levels(plan, claims)
    k = len(effects)
    draws = condition_draws(rng, sims, plan.seed_count, effects, rho)
    if tau > 0:
        draws = draws + rng.standard_normal((sims, 1, k)) * tau
    reached = np.empty((sims, k), dtype=np.int64)
    supported = np.ones(sims, dtype=bool)
    for c in range(k):
        outcome = simulate_plan(plan, levels, draws[:, :, c], rope_sd)
        last = np.full(sims, len(levels) - 1)
        look = np.where(outcome.look >= 0, outcome.look, last)
        reached[:, c] = np.array([lvl.seeds for lvl in levels])[look]
        supported &= outcome.outcome == OUTCOMES.index("supported")
    common = reached.min(axis=1) if across == "common" else np.full(sims, levels[0].seeds)
    depends = np.zeros(sims, dtype=bool)
    covered, naive = [], []
    for i in range(sims):
        table = draws[i, : common[i], :]
        differences = {str(c): dict(enumerate(table[:, c])) for c in range(k)}
        interaction = interaction_test(differences)
        depends[i] = interaction is not None and interaction.significant
        if k >= POOLED_MIN_CONDITIONS:
            target = float(np.mean(effects))
            pooled = pooled_effect(differences)
            if pooled is not None:
                covered.append(pooled.ci[0] <= target <= pooled.ci[1])
            means = table.mean(axis=0)
            variances = table.var(axis=0, ddof=1) / len(table)
            low, high = combine_effects(means, variances, method_re="dl").conf_int(alpha=0.05)[1]
            naive.append(low <= target <= high)
    return ReplicationRates(
        sims=sims,
        holds_everywhere=float(supported.mean()),
        depends=float(depends.mean()),
        pooled_coverage=float(np.mean(covered)) if covered else float("nan"),
        naive_coverage=float(np.mean(naive)) if naive else float("nan"),
        mean_common_seeds=float(common.mean()),
    )


def rates_table(sims: int = 4000) -> str:
    """The Markdown tables of docs/statistics.md ("Replication across conditions"): the
    default plan, one claim, ROPE 1 SD; `python -m cnnlab.stats.replication.verdict`."""
    plan = SequentialPlan()
    lines = [
        "| question | true effects (dz) | ρ | rate (first-look seeds) | rate (seeds all reached) |",
        "|---|---|---|---|---|",
    ]
    cases: list[tuple[str, tuple[float, ...], float, str]] = [
        ("holds in every condition (false when any dz ≤ 0)", (0.0, 2.0), rho, "holds")
        for rho in (0.0, 0.5, 0.9)
    ]
    cases += [("holds in every condition (power)", (1.0, 1.0), 0.5, "holds")]
    cases += [
        ("depends on the condition (false: homogeneous)", effects, rho, "depends")
        for effects in ((0.0, 0.0), (0.5, 0.5), (1.0, 1.0), (1.0, 1.0, 1.0), (0.5,) * 5)
        for rho in (0.5, 0.9)
    ]
    cases += [("depends on the condition (power)", (0.0, 1.0), 0.5, "depends")]
    for i, (question, effects, rho, field) in enumerate(cases):
        found = []
        for across in ("first look", "common"):
            rates = simulate_replication(
                plan, effects, rho=rho, sims=sims, seed=100 + i, across=across
            )
            found.append(rates.holds_everywhere if field == "holds" else rates.depends)
        shown = ", ".join(f"{e:g}" for e in effects)
        lines.append(f"| {question} | {shown} | {rho:g} | {found[0]:.4f} | {found[1]:.4f} |")
    lines += [
        "",
        "| pooled effect, 5 conditions (dz 0.5) | τ | ρ | coverage, seed level (cnnlab) | "
        "coverage, statsmodels combine_effects |",
        "|---|---|---|---|---|",
    ]
    for j, (tau, rho) in enumerate(((0.0, 0.0), (0.0, 0.5), (0.0, 0.9), (0.5, 0.0), (0.5, 0.5))):
        rates = simulate_replication(plan, (0.5,) * 5, rho=rho, tau=tau, sims=sims, seed=200 + j)
        lines.append(
            f"| 95 % interval | {tau:g} | {rho:g} | {rates.pooled_coverage:.4f} | "
            f"{rates.naive_coverage:.4f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore", category=RuntimeWarning)  # statsmodels' τ² = 0 case
    print(rates_table())
