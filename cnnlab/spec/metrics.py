"""The names of everything a trial measures, from one source (results columns, claims, probes).

A metric's name is the same in code, in MLflow and in results.csv. Probe metrics are derived
here from the probe's own variants (`SHIFTS`, `ANGLES`), and the probe that measures them
(`cnnlab.training.probes`) names its outputs with the same functions, so the two cannot drift.
Metrics are fractions (0.9871), never percentages; costs are counts and seconds.
"""

from __future__ import annotations

PROBES = ("translation",)  # accuracy on shifted and rotated test images
SHIFTS = (1, 2, 3)  # pixels, in each of the four directions (zero-filled, never wrapped)
ANGLES = (-10, -5, 5, 10)  # degrees about the image centre


def shift_name(pixels: int) -> str:
    """`shift2` for a move of 2 pixels (the mean over the four directions)."""
    return f"shift{pixels}"


def rotation_name(degrees: float) -> str:
    """`rotm10` for −10°, `rotp5` for +5°."""
    return f"rot{'m' if degrees < 0 else 'p'}{abs(degrees):g}"


def probe_shifts(width: int) -> tuple[int, ...]:
    """The translation probe's shifts, in pixels, for images `width` pixels wide: MNIST's 1, 2
    and 3 at width 28, scaled by width/28 for other sizes (at least 1 pixel, repeats dropped:
    an 8-pixel image is shifted by 1 only, a 64-pixel one by 2, 5 and 7)."""
    if width == 28:
        return SHIFTS
    return tuple(dict.fromkeys(max(1, round(k * width / 28)) for k in SHIFTS))


def shift_metrics(width: int) -> tuple[str, ...]:
    """The shift metrics the probe adds for images `width` pixels wide (MNIST's at 28)."""
    return tuple(
        f"{shift_name(k)}_{kind}" for k in probe_shifts(width) for kind in ("accuracy", "drop")
    )


def probe_variants() -> tuple[str, ...]:
    """The translation probe's variants in the order it measures them."""
    return (*(shift_name(k) for k in SHIFTS), *(rotation_name(a) for a in ANGLES))


PROBE_METRICS: dict[str, tuple[str, ...]] = {  # probe -> the metrics it adds to a results row
    "translation": tuple(
        f"{name}_{kind}" for name in probe_variants() for kind in ("accuracy", "drop")
    )
}
# Every metric of a results row a claim may be about.
METRICS = (
    "test_accuracy",
    "test_loss",
    "val_accuracy",
    "val_loss",
    "seconds_per_epoch",
    "params",
    "flops",
    *PROBE_METRICS["translation"],
)
# Metrics where a smaller value is the better one: losses, accuracy drops and costs.
LOWER_IS_BETTER = frozenset(
    {"test_loss", "val_loss", "seconds_per_epoch", "params", "flops"}
    | {metric for metric in PROBE_METRICS["translation"] if metric.endswith("_drop")}
)


def is_scaled_shift(metric: str) -> bool:
    """`shift5_drop`: a shift metric of images other than 28 pixels wide (`probe_shifts`)."""
    name, _, kind = metric.partition("_")
    return name.startswith("shift") and name[5:].isdigit() and kind in ("accuracy", "drop")


# Which test images a trial's final model classified correctly, one bit each: the results column
# (and result.json field) `test_correct`, written as "<N>:<base64 of numpy.packbits(bits)>" (bit
# order big-endian, padded with zeros to a whole byte; N = the number of test images). About
# 1.7 KB per trial for MNIST: small enough for the committed results.csv, so a clone can
# resample test examples (the two-level bootstrap of cnnlab.stats.testnoise) without retraining.
CORRECTNESS = "test_correct"


def resolution(metric: str, test_images: int | None) -> float | None:
    """The step a metric moves in, where it is a count over the whole test set (else None).

    Test accuracy is k / test_images. Probe metrics average several shifted copies (and drops
    subtract two accuracies), so their steps are finer and not declared here. A dataset you
    bring without declaring `test_images` has no known step either (None).
    """
    return 1 / test_images if metric == "test_accuracy" and test_images else None
