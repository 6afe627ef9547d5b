"""Max vs average pooling (and no pooling, and a learned stride-2 downsampling) on `small`.

Question: does max pooling beat average pooling on MNIST test accuracy, all else fixed? And does
"pooling throws information away" (the first seed's intuition) mean that no pooling does better?
Prior: Scherer et al. (2010) favour max pooling (on NORB); on MNIST the max − avg gap should be
near test-set noise (a pilot here: +0.15 pp, SD 0.09 pp over 6 paired seeds). Without pooling,
`small` has 21× the parameters (2,370,282) and about 3× the training time: a capacity confound
the report flags. `strided` is the matched control: a 2×2 stride-2 convolution in the pooling
layer's place, same output shapes.
Run:   python -m cnnlab.sweep pooling        (--quick for a one-minute smoke run)
Cost:  4 arms × 5–20 paired seeds × 3 epochs at batch 128, dominated by the `none` arm; `cnnlab
       list` prints the estimate for this machine. The seeds follow a sequential plan: it stops
       once every claim is decided.
"""

from cnnlab.spec import Claim, Factor, SequentialPlan, Sweep, TrainSpec, TrialSpec, small

SWEEP = Sweep(
    name="pooling",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=3, batch_size=128)),
    factors=(Factor(path="arch.pooling", levels=("max", "avg", "none", "strided")),),
    seeds=SequentialPlan(),  # looks at 5, 8, 12, 20 paired seeds (cnnlab.spec.sequential)
    claims=(
        Claim(statement="max pooling beats average pooling", better="max", worse="avg"),
        Claim(statement="no pooling beats max pooling", better="none", worse="max"),
        Claim(statement="max pooling beats a stride-2 convolution", better="max", worse="strided"),
    ),
    # `max` on `small` at 3 epochs: ~98.6 % on MNIST; ~88 % on Fashion-MNIST (a pilot: max
    # 88.0 %, avg 86.5 %, none 90.2 %), so each dataset has its band (--dataset fashion_mnist).
    baseline_band={"mnist": (0.980, 0.995), "fashion_mnist": (0.850, 0.920)},
)
