"""Search: Optuna's TPE over pooling, first kernel, filters and dropout, with pruning.
Question: which `small`-like architecture does best on the validation set within 3 epochs?
Prior: max pooling, wider filters and a little dropout; the spread between the best few
should be within noise, which is why a search never decides claims.
Design: 30 sampled trials; each reports validation accuracy per epoch and weak ones are
pruned (median rule). Search results rank architectures; they never decide claims (the
winner of a search is biased upwards; ablations with paired seeds decide claims).
Run:   python -m cnnlab.sweep search          (--quick for a smoke run)
Cost:  up to 30 trials × 3 epochs at batch 128; `cnnlab list` prints the estimate.
"""

from cnnlab.spec import Factor, Sweep, TrainSpec, TrialSpec, small

SWEEP = Sweep(
    name="search",
    design="search",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=3, batch_size=128)),
    factors=(
        Factor(path="arch.pooling", levels=("max", "avg", "strided")),
        Factor(path="arch.blocks.0.kernel_size", levels=(3, 5, 7), labels=("k3", "k5", "k7")),
        Factor(path="arch.blocks.0.filters", levels=(16, 32, 64), labels=("f16", "f32", "f64")),
        Factor(path="arch.blocks.1.filters", levels=(32, 64), labels=("g32", "g64")),
        Factor(path="arch.dropout", levels=(0.0, 0.25, 0.5), labels=("d0", "d25", "d50")),
    ),
    seeds=1,
    n_trials=30,
)
