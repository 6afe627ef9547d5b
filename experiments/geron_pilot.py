"""The pilot that fixes the budget of the Géron sweeps, before they start.

Question: after how many epochs has Géron's CNN stopped improving, in every arm the Géron
sweeps compare (his network; its first layer 3×3 instead of 7×7; no dropout instead of 0.5)?
Prior: Géron trains 5 epochs at batch 32; his log's training accuracy still rises by 0.1 pp
       a epoch at epoch 5 (98.5 → 98.6 %), so expect the rule to pick 6 to 10.
Rule:  "converged" at the first epoch E at which the mean validation accuracy (over the pilot's
       seeds) of every arm has risen by less than 0.05 pp over the last 2 epochs (E-2 to E).
       `python -m cnnlab.report geron_pilot` prints the curves and the epoch the rule picks.
Seeds: 100, 101, 102: outside the sweeps' seeds (0-19), so the pilot that fixes a budget never
       also counts as evidence under it.
Recipe: the second seed's (Adam at 1e-3, batch 32) in mixed bfloat16, as the sweeps train
       (benchmarks/precision.py: twice float32's speed on this CPU); 12 epochs, beyond the
       seed's 5.
Run:   python -m cnnlab.sweep geron_pilot
Cost:  3 arms × 3 seeds × 12 epochs of `geron`: about 3 hours on 2 CPU cores.
"""

import dataclasses

from cnnlab.spec import Factor, Sweep, TrainSpec, TrialSpec, geron

k3 = dataclasses.replace(
    geron, blocks=(dataclasses.replace(geron.blocks[0], kernel_size=3), *geron.blocks[1:])
)
d0 = dataclasses.replace(geron, dropout=0.0)

SWEEP = Sweep(
    name="geron_pilot",
    base=TrialSpec(arch=geron, train=TrainSpec(epochs=12, precision="mixed_bfloat16")),
    factors=(Factor(path="arch", levels=(geron, k3, d0), labels=("geron", "k3", "d0")),),
    seeds=(100, 101, 102),
    baseline_band=(0.985, 0.997),
    pilot=True,
)
