"""Translation invariance: does max pooling lose less accuracy on shifted digits?

Question: Géron (second seed) says max pooling "introduces some level of invariance to small
translations". Measured here: accuracy on the test images moved 1, 2 and 3 pixels in each
direction (zero-filled, never wrapped) and rotated by ±5° and ±10°, as the drop from the
unshifted accuracy, for max / avg / none / strided pooling on `small`.
Prior: two 2×2 poolings give at most a pixel or two of tolerance; without pooling the dense
layer sees exact positions, so `none` should lose the most.
Run:   python -m cnnlab.sweep translation     (--quick for a smoke run)
Cost:  4 arms × 5–20 paired seeds × 3 epochs at batch 128, plus 17 probe evaluations of the test set
       per trial; `cnnlab list` prints the estimate. The seeds follow a sequential plan: it stops
       once every claim is decided.
"""

from cnnlab.spec import Claim, Factor, SequentialPlan, Sweep, TrainSpec, TrialSpec, small

SWEEP = Sweep(
    name="translation",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=3, batch_size=128)),
    factors=(Factor(path="arch.pooling", levels=("max", "avg", "none", "strided")),),
    seeds=SequentialPlan(),  # looks at 5, 8, 12, 20 paired seeds (cnnlab.spec.sequential)
    probes=("translation",),
    claims=(
        Claim(
            statement="max pooling loses less accuracy than avg under 2-pixel shifts",
            metric="shift2_drop",
            better="max",
            worse="avg",
            rope=0.002,
            higher_is_better=False,
        ),
        Claim(
            statement="max pooling loses less accuracy than no pooling under 2-pixel shifts",
            metric="shift2_drop",
            better="max",
            worse="none",
            rope=0.002,
            higher_is_better=False,
        ),
    ),
    # `max` on `small` at 3 epochs: ~98.6 % on MNIST; ~88 % on Fashion-MNIST (a pilot: max
    # 88.0 %, avg 86.5 %, none 90.2 %), so each dataset has its band (--dataset fashion_mnist).
    baseline_band={"mnist": (0.980, 0.995), "fashion_mnist": (0.850, 0.920)},
)
