"""Dropout in the dense head of `small`: 0, 0.25 and 0.5.

Question: does dropout 0.5 after the hidden dense layer help test accuracy (the second seed's
model uses it)?
Prior: for a 3-epoch budget the network barely overfits MNIST, so dropout may not pay off yet.
Run:   python -m cnnlab.sweep dropout        (--quick for a smoke run)
Cost:  3 arms × 5–20 paired seeds × 3 epochs at batch 128; `cnnlab list` prints the estimate. The
       seeds follow a sequential plan: it stops once every claim is decided.
"""

from cnnlab.spec import Claim, Factor, SequentialPlan, Sweep, TrainSpec, TrialSpec, small

SWEEP = Sweep(
    name="dropout",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=3, batch_size=128)),
    factors=(Factor(path="arch.dropout", levels=(0.0, 0.25, 0.5), labels=("d0", "d25", "d50")),),
    seeds=SequentialPlan(),  # looks at 5, 8, 12, 20 paired seeds (cnnlab.spec.sequential)
    claims=(Claim(statement="dropout 0.5 beats no dropout", better="d50", worse="d0"),),
    baseline_band=(0.980, 0.995),
)
