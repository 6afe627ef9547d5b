"""No pooling against max pooling at equal capacity: `small` with a global-average-pooling head.

Question: with a global-average-pooling head, so that every arm has the same 15,082 parameters,
does no pooling beat max pooling? In `pooling` the `none` arm has 21× the parameters of `max`
(2,370,282 against 113,386), so "no pooling does as well" there could be capacity, not the
information that pooling throws away; here the arms differ in the pooling layers alone.
Prior: a GAP head averages the feature maps anyway, so the max arm's two poolings add a little
translation tolerance and lose little; `none` convolves at full resolution (about 3× the
FLOPs and the time).
Band: the first full run (2026-12-04, commit 8ed13d1) was stopped after 6 trials because the
band declared then, 90–99.5 %, had been guessed without a run of this head, and the max arm
reached 86.8–88.7 % on its first four seeds: 32 averaged features after two convolutions are
far weaker than `small`'s flattened 800. The band is now 80–95 %, around those four numbers,
and the sweep reruns from scratch; the gate is there to catch a broken run, not to judge.
Run:   python -m cnnlab.sweep pooling_gap     (--quick for a smoke run)
Cost:  2 arms × 5–20 paired seeds × 3 epochs at batch 128, dominated by the `none` arm; `cnnlab
       list` prints the estimate. The seeds follow a sequential plan: it stops once every claim
       is decided.
"""

import dataclasses

from cnnlab.spec import Claim, Factor, SequentialPlan, Sweep, TrainSpec, TrialSpec, small

SWEEP = Sweep(
    name="pooling_gap",
    base=TrialSpec(
        arch=dataclasses.replace(small, head="gap"), train=TrainSpec(epochs=3, batch_size=128)
    ),
    factors=(Factor(path="arch.pooling", levels=("max", "none")),),
    seeds=SequentialPlan(),  # looks at 5, 8, 12, 20 paired seeds (cnnlab.spec.sequential)
    claims=(
        Claim(
            statement="with a GAP head (equal parameters), no pooling beats max pooling",
            better="none",
            worse="max",
        ),
    ),
    baseline_band=(0.800, 0.950),
)
