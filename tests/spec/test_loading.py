"""Finding and loading sweep files: shipped names, paths, and errors that name file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnlab.spec.design import cells
from cnnlab.spec.loading import SweepDefinitionError, load_sweep, question, shipped_names

REQUIRED = {"pooling", "first_kernel", "dropout", "filters", "pooling_x_kernel", "translation",
            "geron_first_kernel", "pooling_randomized", "search", "augmentation"}  # fmt: skip

GOOD = '''"""A sweep of my own.
Question: does it load?
"""
from cnnlab.spec.design import Factor, Sweep
from cnnlab.spec.presets import small
from cnnlab.spec.specs import TrialSpec

SWEEP = Sweep(name="mine", base=TrialSpec(arch=small),
              factors=(Factor(path="arch.pooling", levels=("max", "avg")),), seeds=2)
'''


def test_every_required_sweep_is_shipped_and_valid() -> None:
    assert set(shipped_names()) >= REQUIRED
    for name in shipped_names():
        sweep = load_sweep(name)
        assert sweep.name == name
        for key in ("Question:", "Prior:", "Run:", "Cost:"):
            assert key in sweep.description, (name, key)
        assert question(sweep)
        if sweep.design != "search":
            conditions = 1 if sweep.conditions is None else len(sweep.conditions.levels)
            assert (
                len(cells(sweep))
                == len(sweep.arm_labels())
                * len(sweep.seed_values)
                * (sweep.n_backgrounds if sweep.design == "randomized" else 1)
                * conditions
            )


def test_designs_of_the_shipped_sweeps() -> None:
    designs = {load_sweep(name).design for name in shipped_names()}
    assert designs == {"ablation", "randomized", "factorial", "search"}
    assert load_sweep("pooling").arm_labels() == ["max", "avg", "none", "strided"]
    assert load_sweep("geron_first_kernel").base.arch.blocks[0].kernel_size == 7


def test_a_sweep_file_outside_the_repository(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(GOOD)
    sweep = load_sweep(str(path))
    assert sweep.name == "mine" and question(sweep) == "does it load?"


def test_an_unknown_name_lists_the_available_sweeps() -> None:
    with pytest.raises(SweepDefinitionError) as error:
        load_sweep("poolin")
    assert "no sweep called 'poolin'" in str(error.value)
    assert "pooling, pooling_gap, pooling_randomized" in str(error.value)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            GOOD.replace('"arch.pooling"', '"arch.poolng"'),
            "field `factors` is invalid: `arch.poolng`",
        ),
        (GOOD.replace('("max", "avg")', '("max", "mean")'), "field `factors` is invalid"),
        (GOOD.replace("seeds=2", "seeds=0"), "field `seeds` is invalid"),
        (GOOD.replace("SWEEP =", "OTHER ="), "field `SWEEP` is missing"),
        (GOOD.replace("SWEEP = Sweep(", "SWEEP = dict("), "field `SWEEP` must be a"),
        (
            GOOD.replace("from cnnlab.spec.specs", "from cnnlab.spaec"),
            "line 6: importing it raised",
        ),
        (GOOD + "\ndef broken(:\n", "line 11: syntax error"),
        (GOOD.split("\n", 3)[3], "docstring is missing"),
    ],
)
def test_a_bad_definition_names_file_field_and_reason(
    tmp_path: Path, source: str, expected: str
) -> None:
    path = tmp_path / "bad.py"
    path.write_text(source)
    with pytest.raises(SweepDefinitionError) as error:
        load_sweep(str(path))
    assert str(path) in str(error.value)
    assert expected in str(error.value)
