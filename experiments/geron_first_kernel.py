"""Géron's CNN: its 7×7 first layer against a 3×3 one.

Question: does the 7×7 first layer that Géron recommends (second seed) beat 3×3 in his own
1.4 M-parameter network?
Prior: small or no difference on MNIST; 7×7 costs 2.4 M more FLOPs per image.
Run:   python -m cnnlab.sweep geron_first_kernel   (for machines that can afford it: a GPU,
       or a long night on CPU; --quick for a smoke run)
Cost:  2 arms × 5–20 paired seeds × 3 epochs at batch 128; `geron` takes about 80 s per epoch on 2
       CPU cores, so this is hours on CPU. `cnnlab list` prints the estimate. The seeds follow a
       sequential plan: it stops once every claim is decided.
"""

from cnnlab.spec import Claim, Factor, SequentialPlan, Sweep, TrainSpec, TrialSpec, geron

SWEEP = Sweep(
    name="geron_first_kernel",
    base=TrialSpec(arch=geron, train=TrainSpec(epochs=3, batch_size=128)),
    factors=(Factor(path="arch.blocks.0.kernel_size", levels=(7, 3), labels=("k7", "k3")),),
    seeds=SequentialPlan(),  # looks at 5, 8, 12, 20 paired seeds (cnnlab.spec.sequential)
    claims=(Claim(statement="a 7×7 first kernel beats 3×3", better="k7", worse="k3"),),
    baseline_band=(0.985, 0.996),
)
