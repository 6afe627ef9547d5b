"""Géron's CNN: its 7×7 first layer against a 3×3 one, at the budget the pilot fixed.

Question: does the 7×7 first layer that Géron recommends (second seed, claim 2) beat 3×3 in his
own 1.4 M-parameter network, trained as he trains it?
Prior: small or no difference on MNIST; 7×7 costs 2.4 M more FLOPs per image. On `small`
       (reports/first_kernel) both of claim 2's rows stopped for futility: tested, not answered.
Budget: 5 epochs at batch 32 (the seed's recipe), in mixed bfloat16. Fixed before this sweep
       by `geron_pilot` (reports/geron_pilot, seeds 100-102, outside this sweep's): the first
       epoch at which every arm's mean validation accuracy rose by less than 0.05 pp over the
       last 2 epochs. That is the declared rule's answer, not a plateau: the pilot's `geron`
       rises again from 98.79 % at epoch 5 to 99.08 % at epoch 7.
Precision: mixed bfloat16 trains twice as fast as float32 on this CPU (benchmarks/precision.py);
       `geron_precision` checks that it leaves the verdicts as they are.
Arms:  k7 (`geron` itself) and k3 (its first layer 3×3). `k7` is the same network as
       `geron_dropout`'s `d50` and `geron_precision`'s `geron`: run in one runs folder, with
       the same `--workers`, each is trained once and reused (`cnnlab.reused_from`).
Run:   python -m cnnlab.sweep geron_first_kernel --workers 1 \\
         --archive reports/geron_first_kernel/cells.jsonl --max-time 2h
       (--archive carries finished cells from one session to the next; --quick for a smoke run)
Cost:  2 arms × 5, 8, 12 or 20 paired seeds × 5 epochs; about 7.5 min a cell on 2 CPU cores.
       The compute cap, stated before the start, is 6 hours of training; the full plan's worst
       case (40 cells) was estimated at 5 h 03 min on this machine, within the cap, so the sweep
       runs the full plan (power 0.84 at a true dz of 1; looks at 5, 8, 12 alone: 0.51). It takes
       several invocations: run each with --max-time.
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
    name="geron_first_kernel",
    base=TrialSpec(arch=geron, train=TrainSpec(epochs=5, precision="mixed_bfloat16")),
    factors=(Factor(path="arch.blocks.0.kernel_size", levels=(7, 3), labels=("k7", "k3")),),
    seeds=SequentialPlan(looks=(5, 8, 12, 20)),  # the full plan: it fits the cap below
    compute_cap=ComputeCap(hours=6, full_plan=SequentialPlan(looks=(5, 8, 12, 20))),
    claims=(Claim(statement="a 7×7 first kernel beats 3×3", better="k7", worse="k3"),),
    baseline_band=(0.985, 0.997),
)
