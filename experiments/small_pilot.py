"""The pilot that fixes the converged budget of `small` for the budget sweep, before it starts.

Question: after how many epochs has `small` (batch 128) stopped improving, in each arm the
budget sweep compares (max pooling, average pooling, dropout 0.5 in the dense head)?
Prior: test accuracy still rises after epoch 3 (96.92, 98.35, 98.68, 98.78 % over epochs 1–4,
       benchmarks/README.md); dropout's effect, if any, should show once the network overfits.
Rule:  `cnnlab.stats.convergence`: the first epoch at which every arm's mean validation
       accuracy rose by less than 0.05 pp over the last 2 epochs. The report prints it.
Seeds: 100, 101, 102: outside the budget sweep's seeds (0-19).
Run:   python -m cnnlab.sweep small_pilot
Cost:  3 arms × 3 seeds × 20 epochs of `small` at batch 128: 1 h 57 min on 2 CPU cores, measured
       (reports/small_pilot/provenance.json), beside other work on the same cores.
"""

import dataclasses

from cnnlab.spec import Factor, Sweep, TrainSpec, TrialSpec, small

avg = dataclasses.replace(small, pooling="avg")
d50 = dataclasses.replace(small, dropout=0.5)

SWEEP = Sweep(
    name="small_pilot",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=20, batch_size=128)),
    factors=(Factor(path="arch", levels=(small, avg, d50), labels=("max", "avg", "d50")),),
    seeds=(100, 101, 102),
    baseline_band=(0.980, 0.995),
    pilot=True,
)
