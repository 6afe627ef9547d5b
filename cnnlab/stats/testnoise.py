"""Test-set noise beside seed noise: a two-level bootstrap and per-seed McNemar counts.

One 10,000-image test set is a sample too: its binomial SD near 99 % accuracy is about 0.1 pp,
as large as the seed-to-seed SD of a small CNN (Jordan 2024). The verdict's t interval
(`cnnlab.stats.paired`) treats each seed's accuracy as exact, so it answers "would another seed
differ?" for *this* test set. The two-level bootstrap answers it for a new test set as well:
each draw resamples the seeds (with replacement) and, once per draw, the test examples, the
same example indices for every arm and every seed (the arms are compared on one test set, and
the seeds share it). It needs each trial's per-example correctness (`test_correct`, see
cnnlab.spec.metrics.CORRECTNESS); results recorded before that column existed give None.

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
_BLOCK = 20_000_000  # int8s per vectorised block (seeds × draws × examples): about 20 MB


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


def two_level_interval(
    better: np.ndarray,
    worse: np.ndarray,
    level: float,
    *,
    draws: int = DRAWS,
    seed: int = 0,
    resample_examples: bool = True,
) -> tuple[float, float]:
    """Percentile interval of the mean accuracy difference, resampling seeds and test examples.

    `better` and `worse` are seeds × examples booleans (row s of each is seed s). With
    `resample_examples=False` it is the seed-only bootstrap, for comparison.
    """
    diff = better.astype(np.int8) - worse.astype(np.int8)  # −1, 0, +1 per seed and example
    seeds, examples = diff.shape
    # Two streams, so the seed resamples are the same draws with or without example resampling.
    chosen = np.random.default_rng([seed, 0]).integers(0, seeds, size=(draws, seeds))
    rng = np.random.default_rng([seed, 1])
    per_seed = np.empty((draws, seeds))
    chunk = max(1, _BLOCK // (seeds * examples))
    for start in range(0, draws, chunk):
        block = min(chunk, draws - start)
        if resample_examples:
            picks = rng.integers(0, examples, size=(block, examples))
            # seeds × block × examples, averaged over the examples of each draw
            per_seed[start : start + block] = diff[:, picks].mean(axis=2, dtype=np.float64).T
        else:
            per_seed[start : start + block] = diff.mean(axis=1, dtype=np.float64)
    means = np.take_along_axis(per_seed, chosen, axis=1).mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class TestNoise:
    """The two-level interval beside the seed-only one, and per-seed disagreements."""

    __test__ = False  # not a pytest class, whatever its name

    level: float
    two_level: tuple[float, float]
    seed_only: tuple[float, float]  # the same bootstrap without resampling examples
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
        two_level=two_level_interval(better, worse, level, draws=draws, seed=seed),
        seed_only=two_level_interval(
            better, worse, level, draws=draws, seed=seed, resample_examples=False
        ),
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
