"""Budget as a condition: max vs average pooling and dropout 0.5 on `small`, at 3 epochs and at
the converged budget, with one replication verdict per claim.

Question: do the seeds' claims 1 ("max pooling beats average pooling") and 6 ("dropout 0.5
helps") hold at the 3-epoch budget every other `small` sweep uses, *and* once `small` has
converged? Or does the verdict depend on the budget?
Budget: 9 epochs at batch 128, fixed before this sweep by `small_pilot` (reports/small_pilot:
       the first epoch at which every arm's mean validation accuracy rose by less than 0.05 pp
       over the last 2 epochs), on seeds 100-102, outside this sweep's.
Prior: max beats avg at 3 epochs (reports/max_vs_avg); dropout 0.5 was practically equivalent
       to none at 3 epochs (reports/dropout), where the network barely overfits: if dropout
       helps anywhere, it is at the longer budget.
Arms:  max (`small`: max pooling, no dropout), avg (average pooling), d50 (dropout 0.5 in the
       dense head). `max` is both claims' reference.
Run:   python -m cnnlab.sweep budget   (--quick for a smoke run)
Cost:  each condition has its own looks at 5, 8, 12, 20 paired seeds; 3 arms × (3 + 9) epochs
       per seed; `cnnlab list` prints the estimate.
"""

import dataclasses

from cnnlab.spec import Claim, Factor, SequentialPlan, Sweep, TrainSpec, TrialSpec, small

avg = dataclasses.replace(small, pooling="avg")
d50 = dataclasses.replace(small, dropout=0.5)

SWEEP = Sweep(
    name="budget",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=3, batch_size=128)),
    factors=(Factor(path="arch", levels=(small, avg, d50), labels=("max", "avg", "d50")),),
    conditions=Factor(path="train.epochs", levels=(3, 9), labels=("e3", "e9")),
    seeds=SequentialPlan(),  # looks at 5, 8, 12, 20 paired seeds, in each condition
    claims=(
        Claim(statement="max pooling beats average pooling", better="max", worse="avg"),
        Claim(statement="dropout 0.5 beats no dropout", better="d50", worse="max"),
    ),
    baseline_band=(0.980, 0.995),
)
