"""A larger first-layer kernel (5×5, 7×7) against 3×3 on `small`.

Question: does a larger first convolution kernel beat 3×3 (Géron's advice, quoted in the second
seed: "5×5 or 7×7 for the first layer")?
Prior: on 28×28 digits a 3×3 stack already covers the strokes; expect differences near noise.
A larger kernel changes parameters (320 → 1,600 for 7×7) and FLOPs; the report flags it.
Run:   python -m cnnlab.sweep first_kernel   (--quick for a smoke run)
Cost:  3 arms × 5–20 paired seeds × 3 epochs at batch 128; `cnnlab list` prints the estimate. The
       seeds follow a sequential plan: it stops once every claim is decided.
"""

from cnnlab.spec import Claim, Factor, SequentialPlan, Sweep, TrainSpec, TrialSpec, small

SWEEP = Sweep(
    name="first_kernel",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=3, batch_size=128)),
    factors=(
        Factor(path="arch.blocks.0.kernel_size", levels=(3, 5, 7), labels=("k3", "k5", "k7")),
    ),
    seeds=SequentialPlan(),  # looks at 5, 8, 12, 20 paired seeds (cnnlab.spec.sequential)
    claims=(
        Claim(statement="a 5×5 first kernel beats 3×3", better="k5", worse="k3"),
        Claim(statement="a 7×7 first kernel beats 3×3", better="k7", worse="k3"),
    ),
    baseline_band=(0.980, 0.995),
)
