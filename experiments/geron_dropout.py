"""Géron's CNN: dropout 0.5 in both dense layers against none, at the budget the pilot fixed.

Question: does the dropout 0.5 that Géron puts in both dense layers of his network (second
seed, claim 6) beat no dropout in that network, trained as he trains it?
Prior: on `small` at 3 epochs (reports/dropout) dropout 0.5 was practically equivalent to none;
       `geron` has 1.4 M parameters, 1.2 M of them in its dense head, where dropout acts. The
       pilot's 12-epoch test accuracy: with dropout 99.21 ± 0.09 %, without 98.84 ± 0.34 %
       (3 seeds, outside this sweep's).
Budget: 5 epochs at batch 32 in mixed bfloat16, fixed by `geron_pilot` (see geron_first_kernel.py
       for the rule and what it picked).
Arms:  d50 (`geron` itself) and d0 (dropout 0.0 in both dense layers). `d50` is the same network
       as `geron_first_kernel`'s `k7`: run both in one runs folder with the same `--workers`
       and it is trained once.
Run:   python -m cnnlab.sweep geron_dropout --workers 1 \\
         --archive reports/geron_dropout/cells.jsonl --max-time 2h
Cost:  2 arms × 5, 8, 12 or 20 paired seeds × 5 epochs, about 7.5 min a cell on 2 CPU cores,
       minus the `d50` cells `geron_first_kernel` already trained. Its compute cap is 6 hours of
       training, like that sweep's; the full plan fits it, so it runs the full plan.
"""

from cnnlab.spec import (
    Claim,
    ComputeCap,
    Factor,
    SequentialPlan,
    Sweep,
    TrainSpec,
    TrialSpec,
    geron,
)

SWEEP = Sweep(
    name="geron_dropout",
    base=TrialSpec(arch=geron, train=TrainSpec(epochs=5, precision="mixed_bfloat16")),
    factors=(Factor(path="arch.dropout", levels=(0.5, 0.0), labels=("d50", "d0")),),
    seeds=SequentialPlan(looks=(5, 8, 12, 20)),  # the full plan: it fits the cap below
    compute_cap=ComputeCap(hours=6, full_plan=SequentialPlan(looks=(5, 8, 12, 20))),
    claims=(Claim(statement="dropout 0.5 beats no dropout", better="d50", worse="d0"),),
    baseline_band=(0.985, 0.997),
)
