"""Max vs average pooling on scikit-learn's 8×8 digits, in a network of your own: the path a
user takes with their own data and their own `build(hp)`.

Question: does max pooling beat average pooling on the 8×8 digits' test accuracy, all else
fixed, in a small CNN built by a function (`build` below), not by cnnlab's ArchSpec?
Data:  digits.npz beside this file (made by `_digits_data.py`): scikit-learn's 1,797 bundled
       images, split once (stratified, seed 0) into 1,437 training and 360 test images; float32
       pixels in [0, 1], used as given. 200 training images are held out for validation (seeded).
Prior: none worth the name: on MNIST max beats avg at 3 epochs (reports/max_vs_avg), but an
       8×8 image has one pooling step's worth of detail. The test set is small: accuracy moves
       in steps of 1/360 = 0.28 pp, coarser than the 0.1 pp ROPE, so a small difference may be
       left undecided.
Run:   python -m cnnlab.sweep digits_pooling   (--quick for a smoke run)
Cost:  2 arms × 5–20 paired seeds × 30 epochs at batch 32 on 1,237 images: seconds per cell.
"""

from pathlib import Path
from typing import Any

from cnnlab.spec import (
    Claim,
    DataSpec,
    Factor,
    Network,
    OwnData,
    SequentialPlan,
    Sweep,
    TrainSpec,
    TrialSpec,
)


def build(hp: dict[str, Any]) -> Any:
    """Two 3×3 convolutions (16 and 32 filters, same padding), each followed by 2×2 pooling of
    the kind `hp["pooling"]` names, then a 64-unit dense layer and the 10-way softmax."""
    import keras  # here, not at the top: reading the sweep file stays light

    pool = keras.layers.MaxPooling2D if hp["pooling"] == "max" else keras.layers.AveragePooling2D
    inputs = keras.Input(shape=(8, 8, 1))
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = pool(2, name="pool1")(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = pool(2, name="pool2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(64, activation="relu", name="dense1")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


DIGITS = OwnData(name="digits", path=str(Path(__file__).with_name("digits.npz")), test_images=360)

SWEEP = Sweep(
    name="digits_pooling",
    base=TrialSpec(
        arch=Network(build=build, hp={"pooling": "max"}),
        train=TrainSpec(epochs=30, batch_size=32),
        data=DataSpec(dataset=DIGITS, validation_size=200),
    ),
    factors=(Factor(path="arch.hp.pooling", levels=("max", "avg")),),
    seeds=SequentialPlan(),  # looks at 5, 8, 12, 20 paired seeds (cnnlab.spec.sequential)
    claims=(Claim(statement="max pooling beats average pooling", better="max", worse="avg"),),
)
