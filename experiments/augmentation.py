"""Augmentation by shifting and rotating: does it teach `small` what to ignore?

Question: does training on digits rotated by up to ±10° and moved by up to ±2 pixels make
`small` lose less accuracy on shifted and rotated test digits, and what does it do to accuracy
on the untouched test set? The first seed says such augmentation is "teaching to the NN what to
ignore". Moves are drawn per image and epoch, zero-filled, never flipped (a mirrored digit is
another symbol); the translation probe measures the drops, as in `translation`.
Prior: augmentation is the textbook cure for a lack of invariance (Simard et al. 2003 used
elastic and affine distortions on MNIST), so the drops under 2-pixel shifts and 10° rotations
should shrink clearly. On clean test images, 3 epochs of harder training may cost as much as
the extra variety gains: expect a difference near test-set noise.
Run:   python -m cnnlab.sweep augmentation   (--quick for a smoke run)
Cost:  2 arms × 5–20 paired seeds × 3 epochs at batch 128, plus 17 probe evaluations of the test set
       per trial; augmenting adds about 0.5 s to a 55,000-image epoch here (~10%). `cnnlab list`
       prints the estimate. The seeds follow a sequential plan: it stops once every claim is
       decided.
"""

from cnnlab.spec import (
    Augmentation,
    Claim,
    Factor,
    SequentialPlan,
    Sweep,
    TrainSpec,
    TrialSpec,
    small,
)

SWEEP = Sweep(
    name="augmentation",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=3, batch_size=128)),
    factors=(
        Factor(
            path="train.augmentation",
            levels=(Augmentation(), Augmentation(shift=2, rotation=10.0)),
            labels=("none", "shift_rotate"),
        ),
    ),
    seeds=SequentialPlan(),  # looks at 5, 8, 12, 20 paired seeds (cnnlab.spec.sequential)
    probes=("translation",),
    claims=(
        Claim(
            statement="augmentation loses less accuracy under 2-pixel shifts",
            metric="shift2_drop",
            better="shift_rotate",
            worse="none",
            rope=0.002,
            higher_is_better=False,
        ),
        Claim(
            statement="augmentation loses less accuracy under a 10° rotation",
            metric="rotp10_drop",
            better="shift_rotate",
            worse="none",
            rope=0.002,
            higher_is_better=False,
        ),
        # One test-set standard error (~0.1 pp at 99%), as for the pooling claims.
        Claim(
            statement="augmentation beats no augmentation on test accuracy",
            better="shift_rotate",
            worse="none",
            rope=0.001,
        ),
    ),
    baseline_band=(0.980, 0.995),  # the `none` arm is `translation`'s max arm: same spec
)
