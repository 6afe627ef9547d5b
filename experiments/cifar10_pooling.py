"""Max vs average pooling on CIFAR-10: the first seed's question asked of colour photographs.

Question: does max pooling beat average pooling on CIFAR-10 test accuracy, all else fixed, in a
small CNN (`small`'s two 3×3 convolutions of 32 filters and its 128-unit head, taking 32×32×3
images)?
Data:  Keras' CIFAR-10 cache, read offline: where there is internet, run once
       `python -c "import keras; keras.datasets.cifar10.load_data()"`, which downloads it to
       ~/.keras/datasets/cifar-10-batches-py (or $KERAS_HOME/datasets/); copy that folder to
       the same place on a machine without internet. 50,000 training images (5,000 held out
       for validation, seeded) and 10,000 test images, uint8, scaled by 1/255.
Prior: on MNIST, max beats avg at 3 epochs (reports/max_vs_avg); natural images have textures
       and backgrounds where the strongest response and the mean differ more.
Run:   python -m cnnlab.sweep cifar10_pooling   (--quick for a smoke run: 1 epoch, 3 seeds, on
       all 45,000 training images, since cnnlab does not know your data's size before it loads)
Cost:  2 arms × 5–20 paired seeds × 10 epochs at batch 128; `python -m cnnlab.sweep
       cifar10_pooling --dry-run` checks the data and the networks without training.
"""

import dataclasses
import os
from pathlib import Path

from cnnlab.spec import (
    Claim,
    DataSpec,
    Factor,
    OwnData,
    SequentialPlan,
    Sweep,
    TrainSpec,
    TrialSpec,
    small,
)

# Where keras.datasets.cifar10 keeps its download: $KERAS_HOME/datasets, else ~/.keras/datasets.
KERAS_HOME = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
CIFAR10 = OwnData(
    name="cifar10",
    path=str(KERAS_HOME / "datasets" / "cifar-10-batches-py"),
    test_images=10_000,
)
network = dataclasses.replace(small, input_shape=(32, 32, 3), num_classes=10)

SWEEP = Sweep(
    name="cifar10_pooling",
    base=TrialSpec(
        arch=network,
        train=TrainSpec(epochs=10, batch_size=128),
        data=DataSpec(dataset=CIFAR10, validation_size=5_000),
    ),
    factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
    seeds=SequentialPlan(),  # looks at 5, 8, 12, 20 paired seeds (cnnlab.spec.sequential)
    claims=(Claim(statement="max pooling beats average pooling", better="max", worse="avg"),),
)
