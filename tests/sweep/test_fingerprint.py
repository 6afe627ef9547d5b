"""A cell's fingerprint changes with everything that decides its bits, and only with that."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cnnlab.data import synthetic_dataset
from cnnlab.spec.design import Factor, Sweep, cells
from cnnlab.spec.presets import small
from cnnlab.spec.specs import TrainSpec, TrialSpec
from cnnlab.sweep.fingerprint import (
    cell_fingerprint,
    code_hash,
    content_checksums,
    cpu_flags,
    resolved_threads,
    training_environment,
)

SWEEP = Sweep(
    name="a",
    base=TrialSpec(arch=small, train=TrainSpec(epochs=2)),
    factors=(Factor(path="arch.pooling", levels=("max", "avg")),),
    seeds=2,
)
DATA = synthetic_dataset(n_train=64, n_test=32, seed=1)
ENV = training_environment(content_checksums(DATA), threads=1, cores=2)


def test_the_same_cell_in_another_sweep_has_the_same_fingerprint() -> None:
    renamed = dataclasses.replace(SWEEP, name="b")
    for mine, theirs in zip(cells(SWEEP), cells(renamed), strict=True):
        assert mine.sweep != theirs.sweep
        assert cell_fingerprint(mine, ENV) == cell_fingerprint(theirs, ENV)


def test_seed_spec_probes_and_environment_each_change_it() -> None:
    cell = cells(SWEEP)[0]
    base = cell_fingerprint(cell, ENV)
    changed = [
        dataclasses.replace(cell, seed=cell.seed + 1),
        dataclasses.replace(cell, spec=dataclasses.replace(cell.spec, train=TrainSpec(epochs=3))),
        dataclasses.replace(
            cell,
            spec=dataclasses.replace(
                cell.spec, train=TrainSpec(precision="mixed_bfloat16", epochs=2)
            ),
        ),
        dataclasses.replace(cell, probes=("translation",)),
        dataclasses.replace(cell, probe_images=100),
    ]
    assert len({base, *(cell_fingerprint(c, ENV) for c in changed)}) == 1 + len(changed)
    environments = [
        dataclasses.replace(ENV, threads=2),
        dataclasses.replace(ENV, cpu_flags="other"),
        dataclasses.replace(ENV, versions=(("tensorflow", "0.0"),)),
        dataclasses.replace(ENV, code="other"),
        training_environment(
            content_checksums(synthetic_dataset(n_train=64, n_test=32, seed=2)), 1, 2
        ),
    ]
    assert len({base, *(cell_fingerprint(cell, e) for e in environments)}) == 1 + len(environments)


def test_threads_are_resolved_so_the_default_means_every_core() -> None:
    assert resolved_threads(0, cores=2) == 2
    assert resolved_threads(1, cores=2) == 1
    assert training_environment({}, 0, 2).threads == training_environment({}, 2, 2).threads


def test_array_checksums_cover_dtype_shape_and_bytes() -> None:
    same = content_checksums(synthetic_dataset(n_train=64, n_test=32, seed=1))
    assert same == content_checksums(DATA)
    reshaped = dataclasses.replace(
        DATA, x_train=DATA.x_train.reshape(len(DATA.x_train), -1), sha256={}
    )
    assert content_checksums(reshaped)["x_train"] != same["x_train"]
    verified = dataclasses.replace(DATA, sha256={"train-images-idx3-ubyte": "abc"})
    assert content_checksums(verified) == {"train-images-idx3-ubyte": "abc"}


def test_cpu_flags_come_from_the_flags_line(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.write_text("model name : X\nflags : sse avx512f amx_bf16\n")
    two.write_text("model name : Y\nflags : amx_bf16 sse avx512f\n")  # order does not matter
    assert cpu_flags(one) == cpu_flags(two)
    two.write_text("model name : Y\nflags : sse avx2\n")
    assert cpu_flags(one) != cpu_flags(two)


def test_code_hash_follows_the_training_code(tmp_path: Path) -> None:
    for part in ("training", "data"):
        (tmp_path / part).mkdir()
        (tmp_path / part / "m.py").write_text("x = 1\n")
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "geometry.py").write_text("g = 1\n")
    (tmp_path / "spec" / "design.py").write_text("d = 1\n")
    before = code_hash(tmp_path)
    (tmp_path / "spec" / "design.py").write_text("d = 2\n")  # not training code
    assert code_hash(tmp_path) == before
    (tmp_path / "training" / "m.py").write_text("x = 2\n")
    assert code_hash(tmp_path) != before


def build_for_fingerprint(hp: dict[str, object]) -> object:
    return hp  # never called here: the fingerprint reads the network's definition only


def test_a_network_you_bring_is_fingerprinted_with_the_arm_it_is_paired_with() -> None:
    from cnnlab.spec.network import Network

    def sweep(first: str) -> Sweep:
        base = TrialSpec(arch=Network(build=build_for_fingerprint, hp={"pooling": first}))
        levels = (first, "avg")
        return Sweep(name="n", base=base, factors=(Factor(path="arch.hp.pooling", levels=levels),))

    # The same avg arm, paired with a max arm in one sweep and with a none arm in the other.
    beside_max = next(c for c in cells(sweep("max")) if c.arm == "avg" and c.seed == 0)
    beside_none = next(c for c in cells(sweep("none")) if c.arm == "avg" and c.seed == 0)
    assert beside_max.spec == beside_none.spec
    assert cell_fingerprint(beside_max, ENV) != cell_fingerprint(beside_none, ENV)


def test_your_data_elsewhere_is_the_same_training_but_other_data_is_not() -> None:
    from cnnlab.spec.specs import DataSpec, OwnData

    def first_cell(path: str, name: str = "mine") -> str:
        data = DataSpec(dataset=OwnData(name=name, path=path), validation_size=8)
        sweep = dataclasses.replace(SWEEP, base=dataclasses.replace(SWEEP.base, data=data))
        return cell_fingerprint(cells(sweep)[0], ENV)

    # Another checkout or machine: the content checksums (in ENV) decide, not the path.
    assert first_cell("/home/a/mine.npz") == first_cell("/srv/b/mine.npz")
    assert first_cell("/home/a/mine.npz") != first_cell("/home/a/mine.npz", name="theirs")
