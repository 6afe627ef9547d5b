"""Max vs average pooling on `small`, and nothing else: the first seed's question, decided with
as few paired seeds as it takes.

Question: does max pooling beat average pooling on MNIST test accuracy, all else fixed?
Prior: Scherer et al. (2010) favour max pooling (on NORB); a pilot here measured +0.15 pp with an
SD of 0.09 pp over 6 paired seeds (dz ≈ 1.7), and the fixed 10-seed pooling run +0.26 pp.
Run:   python -m cnnlab.sweep max_vs_avg     (--quick for a smoke run)
Cost:  2 arms × 5–20 paired seeds × 3 epochs at batch 128 (the pooling sweep's recipe). The seeds
       follow a sequential plan: at the pilot's effect (dz 1.75) the first look (10 trials)
       decides it about 58 % of the time, and 6.6 paired seeds are expected
       (tests/stats/test_sequential.py prints these figures).
"""

from cnnlab.spec import Claim, Factor, SequentialPlan, Sweep, TrainSpec, TrialSpec, small

SWEEP = Sweep(
    name="max_vs_avg",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=3, batch_size=128)),
    factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
    seeds=SequentialPlan(),  # looks at 5, 8, 12, 20 paired seeds (cnnlab.spec.sequential)
    claims=(Claim(statement="max pooling beats average pooling", better="max", worse="avg"),),
    baseline_band=(0.980, 0.995),
)
