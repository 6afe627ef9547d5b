"""Randomized ablation: max vs average pooling across many `small`-like architectures.

Question: does max pooling beat average pooling not just for one architecture but across
filter counts, first-kernel sizes and dropout rates?
Design: for each paired seed, two backgrounds (filters, first kernel, dropout) are drawn at
random and shared by both arms of that replicate, so every comparison stays paired.
Prior: if the gap is real it should survive the change of background; its size may vary.
Run:   python -m cnnlab.sweep pooling_randomized   (--quick for a smoke run)
Cost:  2 arms × 5–20 seeds × 2 backgrounds × 3 epochs at batch 128; `cnnlab list` prints it. The
       seeds follow a sequential plan: it stops once every claim is decided.
"""

from cnnlab.spec import (
    Background,
    Claim,
    Factor,
    SequentialPlan,
    Sweep,
    TrainSpec,
    TrialSpec,
    small,
)

SWEEP = Sweep(
    name="pooling_randomized",
    design="randomized",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=3, batch_size=128)),
    factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
    backgrounds=(
        Background(path="arch.blocks.0.filters", choices=(16, 32, 64)),
        Background(path="arch.blocks.1.filters", choices=(32, 64)),
        Background(path="arch.blocks.0.kernel_size", choices=(3, 5, 7)),
        Background(path="arch.dropout", choices=(0.0, 0.25, 0.5)),
    ),
    n_backgrounds=2,
    seeds=SequentialPlan(),  # looks at 5, 8, 12, 20 paired seeds (cnnlab.spec.sequential)
    claims=(Claim(statement="max pooling beats average pooling", better="max", worse="avg"),),
)
