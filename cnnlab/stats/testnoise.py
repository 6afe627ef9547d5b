"""Test-set noise beside seed noise: a two-level bootstrap and per-seed McNemar counts.

One 10,000-image test set is a sample too: its binomial SD near 99 % accuracy is about 0.1 pp,
as large as the seed-to-seed SD of a small CNN (Jordan 2024). The verdict's t interval
(`cnnlab.stats.paired`) treats each seed's accuracy as exact, so it answers "would another seed
differ?" for *this* test set. The two-level interval answers it for a new test set as well.

A paired difference d[s, e] (seed s, test image e: −1, 0 or +1) is read as a crossed model,
d = μ + a_s + b_e + (ab)_se: a seed effect, an image effect shared by every seed, and their
interaction (which images one seed happens to get wrong). The mean difference over n seeds and
N images varies by Var(a)/n + Var(b)/N + Var(ab)/(nN). The seed means' spread already carries the
interaction (each seed's mean over the images holds its own (ab) share), so the images are
counted for their main effect only: the seed means' variance over n, plus the variance of
the image effects b_e (column means, shrunk by the method of moments so that it is Var(b) and
not Var(b) + Var(ab)/n) over N, with a Student t quantile (Welch–Satterthwaite degrees of
freedom): at 5 seeds a percentile bootstrap of the seeds is far narrower than the t interval
that decides. An earlier version bootstrapped seeds and whole images together, which counted
the interaction twice (and inherited the bootstrap's narrowness at few seeds). It needs each
trial's per-example correctness (`test_correct`, see cnnlab.spec.metrics.CORRECTNESS); results
recorded before that column existed give None.

The seed-only t interval decides verdicts; this interval is a diagnostic shown beside it,
and so are the per-seed disagreement counts: on how many test images A was right and B wrong,
and the reverse, with McNemar's exact test per seed (binomial on the discordant pairs).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

DRAWS = 2000


def unpack_correct(text: str) -> np.ndarray:
    """The boolean vector `cnnlab.training.result.pack_correct` wrote ("<N>:<base64>")."""
    count, _, payload = text.partition(":")
    bits = np.unpackbits(np.frombuffer(base64.b64decode(payload), dtype=np.uint8))
    return bits[: int(count)].astype(bool)


def correctness(texts: Sequence[object]) -> np.ndarray | None:
    """Rows × examples booleans, or None when any row lacks its correctness (older results)."""
    if not texts or any(not isinstance(t, str) or ":" not in t for t in texts):
        return None
    rows = [unpack_correct(str(t)) for t in texts]
    if len({len(r) for r in rows}) != 1:
        return None
    return np.stack(rows)


def image_effects(diff: np.ndarray) -> np.ndarray:
    """Each test image's main effect b_e in the crossed model, shrunk to the variance the
    image effect itself has (the column means also hold the interaction, averaged over n
    seeds): b_e scaled by sqrt(max(0, Var(col means) − Var(ab)/n) / Var(col means))."""
    seeds, examples = diff.shape
    seed_means = diff.mean(axis=1, dtype=np.float64)
    column_means = diff.mean(axis=0, dtype=np.float64)
    grand = float(seed_means.mean())
    effects: np.ndarray = column_means - grand
    spread = float(effects.var(ddof=1)) if examples > 1 else 0.0
    if seeds < 2 or spread == 0.0:
        return effects  # one seed (or none differing): nothing to separate
    residual = diff - seed_means[:, None] - column_means[None, :] + grand
    interaction = float((residual**2).sum()) / ((seeds - 1) * (examples - 1))
    shrink = math.sqrt(max(0.0, spread - interaction / seeds) / spread)
    shrunk: np.ndarray = effects * shrink
    return shrunk


def two_level_interval(better: np.ndarray, worse: np.ndarray, level: float) -> tuple[float, float]:
    """The interval of the mean accuracy difference over new seeds and new test images (see
    the module docstring: each variance component counted once).

    `better` and `worse` are seeds × examples booleans (row s of each is seed s). The variance
    is the seed means' (which carry the interaction) over n plus the image main effect's over
    N; the quantile is Student t with Welch–Satterthwaite degrees of freedom, so with a large
    test set it is the deciding t interval, and with identical seeds the binomial interval of
    the paired per-image differences.
    """
    diff = better.astype(np.int8) - worse.astype(np.int8)  # −1, 0, +1 per seed and example
    seeds, examples = diff.shape
    seed_means = diff.mean(axis=1, dtype=np.float64)
    mean = float(seed_means.mean())
    seed_part = float(seed_means.var(ddof=1)) / seeds if seeds > 1 else 0.0
    image_part = float(image_effects(diff).var(ddof=1)) / examples if examples > 1 else 0.0
    total = seed_part + image_part
    if total == 0.0:
        return mean, mean
    df = total**2 / (
        (seed_part**2 / (seeds - 1) if seeds > 1 else 0.0) + image_part**2 / (examples - 1)
    )
    half = float(sps.t.ppf(0.5 + level / 2, df)) * math.sqrt(total)
    return mean - half, mean + half


def seed_bootstrap_interval(
    better: np.ndarray, worse: np.ndarray, level: float, *, draws: int = DRAWS, seed: int = 0
) -> tuple[float, float]:
    """The percentile bootstrap of the seeds alone (this test set's images fixed)."""
    diff = better.astype(np.int8) - worse.astype(np.int8)
    seeds = diff.shape[0]
    chosen = np.random.default_rng([seed, 0]).integers(0, seeds, size=(draws, seeds))
    means = diff.mean(axis=1, dtype=np.float64)[chosen].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class TestNoise:
    """The two-level interval beside the seed-only one, and per-seed disagreements."""

    __test__ = False  # not a pytest class, whatever its name

    level: float
    two_level: tuple[float, float]
    seed_only: tuple[float, float]  # the percentile bootstrap of the seeds alone
    examples: int
    only_better_right: tuple[int, ...]  # per seed: test images A got right and B wrong
    only_worse_right: tuple[int, ...]  # per seed: the reverse
    mcnemar_p: tuple[float, ...]  # per seed: exact McNemar (two-sided binomial on the above)

    @property
    def seeds_differing(self) -> int:
        """Seeds on which McNemar's test finds the arms different at 0.05."""
        return sum(p < 0.05 for p in self.mcnemar_p)


def noise_diagnostics(
    better: np.ndarray, worse: np.ndarray, level: float, *, draws: int = DRAWS, seed: int = 0
) -> TestNoise:
    """Both bootstraps and the McNemar counts for one claim's paired seeds."""
    only_better = (better & ~worse).sum(axis=1)
    only_worse = (~better & worse).sum(axis=1)
    mcnemar = tuple(
        float(sps.binomtest(int(b), int(b + w), 0.5).pvalue) if b + w else 1.0
        for b, w in zip(only_better, only_worse, strict=True)
    )
    return TestNoise(
        level=level,
        two_level=two_level_interval(better, worse, level),
        seed_only=seed_bootstrap_interval(better, worse, level, draws=draws, seed=seed),
        examples=better.shape[1],
        only_better_right=tuple(int(x) for x in only_better),
        only_worse_right=tuple(int(x) for x in only_worse),
        mcnemar_p=mcnemar,
    )


def binomial_se(better: np.ndarray, worse: np.ndarray) -> float:
    """The standard error of a mean accuracy difference from the test examples alone (one seed's
    per-example differences): SD of the differences / √N."""
    diff = better.astype(float) - worse.astype(float)
    return float(diff.std(ddof=1) / math.sqrt(len(diff)))
