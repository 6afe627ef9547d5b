"""Factorial: pooling (max, avg) × first-layer kernel (3×3, 7×7) on `small`.

Question: does the max-vs-average difference hold at both first-kernel sizes, or does one
choice interact with the other?
Prior: no interaction expected; a reversal would be the interesting result.
Run:   python -m cnnlab.sweep pooling_x_kernel   (--quick for a smoke run)
Cost:  4 cells × 10 paired seeds × 3 epochs at batch 128; `cnnlab list` prints the estimate.
Seeds: a fixed count, not a sequential plan: the interaction model needs every cell at every
       seed, and a plan stops arms as soon as their claims are decided.
"""

from cnnlab.spec import Claim, Factor, Sweep, TrainSpec, TrialSpec, small

SWEEP = Sweep(
    name="pooling_x_kernel",
    design="factorial",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=3, batch_size=128)),
    factors=(
        Factor(path="arch.pooling", levels=("max", "avg")),
        Factor(path="arch.blocks.0.kernel_size", levels=(3, 7), labels=("k3", "k7")),
    ),
    seeds=10,
    claims=(
        Claim(statement="max beats avg with a 3×3 first kernel", better="max+k3", worse="avg+k3"),
        Claim(statement="max beats avg with a 7×7 first kernel", better="max+k7", worse="avg+k7"),
    ),
    baseline_band=(0.980, 0.995),
)
