"""Filter counts of `small`'s two conv blocks: 16-32, 32-64 and 64-128.

Question: how much do wider convolutions buy on MNIST, and at what cost?
Prior: more filters help a little and cost FLOPs roughly in proportion; the report puts
accuracy against parameters and time.
Run:   python -m cnnlab.sweep filters        (--quick for a smoke run)
Cost:  3 arms × 5–20 paired seeds × 3 epochs at batch 128; `cnnlab list` prints the estimate. The
       seeds follow a sequential plan: it stops once every claim is decided.
"""

from cnnlab.spec import Claim, ConvBlock, Factor, SequentialPlan, Sweep, TrainSpec, TrialSpec, small

SWEEP = Sweep(
    name="filters",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=3, batch_size=128)),
    factors=(
        Factor(
            path="arch.blocks",
            levels=tuple(
                (ConvBlock(filters=a, kernel_size=3), ConvBlock(filters=b, kernel_size=3))
                for a, b in ((16, 32), (32, 64), (64, 128))
            ),
            labels=("16-32", "32-64", "64-128"),
        ),
    ),
    seeds=SequentialPlan(),  # looks at 5, 8, 12, 20 paired seeds (cnnlab.spec.sequential)
    claims=(Claim(statement="64-128 filters beat 16-32", better="64-128", worse="16-32"),),
    baseline_band=(0.975, 0.995),
)
