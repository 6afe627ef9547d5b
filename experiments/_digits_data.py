"""Writes `digits.npz` beside this file: scikit-learn's bundled 8×8 digits, split once.

The digits example (`digits_pooling.py`) reads the file as any user's `.npz` is read; this
script is how it was made, and remakes it byte for byte:

    python experiments/_digits_data.py

scikit-learn ships the 1,797 images inside its package (no download). They are split once,
stratified by class, 80 % for training and 20 % for testing (360 images), with a fixed seed.
Pixels are counts 0–16 in the original; they are stored as float32 in [0, 1] (divided by 16),
which cnnlab uses as given.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).with_name("digits.npz")
TEST_SHARE = 0.2
SPLIT_SEED = 0


def arrays() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)  # N×8×8
    labels = digits.target.astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=TEST_SHARE, stratify=labels, random_state=SPLIT_SEED
    )
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def write(path: Path = OUT) -> None:
    """The same bytes every time: numpy.savez would stamp each member with the current time."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays().items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


if __name__ == "__main__":
    write()
    print(f"wrote {OUT}")
