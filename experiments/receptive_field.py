"""No pooling against max pooling with the receptive field matched: does pooling lose
information, or does no pooling just see less?

Question: the seeds' claim 3 ("pooling throws information away, so accuracy should drop") was
tested at equal parameters in `pooling_gap` (`small` with a global-average-pooling head), but
there the arms see different windows: two valid 3×3 convolutions with two 2×2 poolings give
each final position a 10×10 receptive field, without pooling only 5×5. Here two more arms
remove pooling *and* widen the second convolution's view by dilating it (the same 3×3 taps,
spaced 3 or 4 pixels apart), so they reach 9×9 and 11×11, the odd sizes either side of 10 (a
stack of stride-1 3×3 convolutions always sees an odd window), with exactly the same 15,082
parameters as the pooled arm. Pooled against undilated separates nothing; pooled against
dilated holds capacity and receptive field and leaves the information pooling discards (and
the positions it drops); undilated against dilated is the receptive field alone.
Arms (receptive field, parameters, forward FLOPs per image): max 10×10, 15,082, 2,630,400;
none 5×5, 15,082, 11,016,960; rf9 9×9, 15,082, 7,772,928; rf11 11×11, 15,082, 6,372,096.
Prior: a GAP head already averages away position, so the pooled arm gains little from its
poolings' tolerance; if no pooling's deficit in `pooling_gap` was its 5×5 view, the dilated arms
close it.
Run:   python -m cnnlab.sweep receptive_field   (--quick for a smoke run)
Cost:  4 arms × 5–20 paired seeds × 3 epochs at batch 128, dominated by the three unpooled arms
       (about 3× the pooled arm's time each); `cnnlab list` prints the estimate.
"""

import dataclasses

from cnnlab.spec import Claim, Factor, SequentialPlan, Sweep, TrainSpec, TrialSpec, small

gap = dataclasses.replace(small, head="gap")
unpooled = dataclasses.replace(gap, pooling="none")


def _dilated(dilation: int):  # type: ignore[no-untyped-def]
    second = dataclasses.replace(unpooled.blocks[1], dilation=dilation)
    return dataclasses.replace(unpooled, blocks=(unpooled.blocks[0], second))


SWEEP = Sweep(
    name="receptive_field",
    base=TrialSpec(arch=gap, train=TrainSpec(epochs=3, batch_size=128)),
    factors=(
        Factor(
            path="arch",
            levels=(gap, unpooled, _dilated(3), _dilated(4)),
            labels=("max", "none", "rf9", "rf11"),
        ),
    ),
    seeds=SequentialPlan(),  # looks at 5, 8, 12, 20 paired seeds (cnnlab.spec.sequential)
    claims=(
        Claim(
            statement="no pooling (5×5 view) beats max pooling (10×10), at equal parameters",
            better="none",
            worse="max",
        ),
        Claim(
            statement="no pooling with a 9×9 view beats max pooling (10×10), at equal parameters",
            better="rf9",
            worse="max",
        ),
        Claim(
            statement="no pooling with an 11×11 view beats max pooling (10×10), at equal "
            "parameters",
            better="rf11",
            worse="max",
        ),
        Claim(
            statement="without pooling, an 11×11 view beats a 5×5 one",
            better="rf11",
            worse="none",
        ),
    ),
    baseline_band=(0.800, 0.950),
)
