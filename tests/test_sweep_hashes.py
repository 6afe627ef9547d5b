"""The definition hashes of the shipped sweeps stay put when the spec grows.

A study stores its sweep's `config_hash` and refuses to resume when it changes, so a new spec
field (such as `train.augmentation`) must leave every existing sweep's hash as it was. These
values were computed from the sweeps as committed before augmentation existed.
"""

from __future__ import annotations

import pytest

from cnnlab.spec.design import config_hash
from cnnlab.spec.loading import load_sweep

PINNED = {
    "dropout": "e6b773bd4f42694f",
    "filters": "7d0ad8125e389263",
    "first_kernel": "afca678dd71c0fe8",
    "geron_first_kernel": "547930140328bbf0",
    "pooling": "e68d81586b2a87bd",
    "pooling_randomized": "3dba3a8fd397bdf8",
    "pooling_x_kernel": "6e51a77bc39f67ac",
    "search": "fc66e3eafd86c051",
    "translation": "e68d81586b2a87bd",  # pooling's own definition, with a probe added
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_a_shipped_sweeps_definition_hash_is_unchanged(name: str) -> None:
    assert config_hash(load_sweep(name)) == PINNED[name]
