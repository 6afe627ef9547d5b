"""Value: what makes two cells' trainings the same bits, as one hash (the cell cache's key).

Training is deterministic: the same spec, seed, data, thread count, instruction set and
library versions give bit-identical weights and metrics (docs/architecture.md, "the
determinism promise"). A cell's fingerprint hashes exactly those, so a cell whose fingerprint
equals a finished trial's in the same store is that trial again and is reused, not retrained
(`cnnlab.sweep.stores.cache`). Anything left out here would let a reuse differ from a retrain;
anything extra only costs a needless retrain, so the list errs on the side of more:

- the cell's whole spec (`content_params`: architecture, training including precision, data;
  not where your data or your network's file is),
  its seed, and the probes it measures (a reuse must have every number the new cell would);
- the dataset's content checksums (not its path: a copy elsewhere is the same data);
- the *resolved* intra-op thread count (0, "TensorFlow's default", resolved to the cores it
  means), since a reduction split over more threads adds in another order;
- the CPU's instruction-set flags (oneDNN picks kernels by them: AVX-512, AMX, BF16);
- TensorFlow's, Keras's and NumPy's versions;
- for a network you bring, the reference arm its initial weights are paired with;
- a hash of the source of the code that trains and loads (`cnnlab/training/`, `cnnlab/data/`
  and the layer plan `cnnlab/spec/geometry.py`): a change there may change the bits.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import cnnlab
from cnnlab.data import LoadedDataset, array_checksums
from cnnlab.spec.design import Cell
from cnnlab.spec.specs import content_params

FINGERPRINT_SCHEME = "cell-fingerprint-1"  # part of every hash: a new scheme never matches
TRAINING_PACKAGES = ("tensorflow", "keras", "numpy")
TRAINING_CODE = ("training", "data", "spec/geometry.py")  # under the cnnlab package


@dataclass(frozen=True)
class TrainingEnvironment:
    """The part of a fingerprint that one run shares across its cells."""

    data_sha256: tuple[tuple[str, str], ...]  # (file, content checksum), sorted
    threads: int  # intra-op threads each training really uses
    cpu_flags: str  # hash of the CPU's instruction-set flags
    versions: tuple[tuple[str, str], ...]  # TRAINING_PACKAGES with their versions
    code: str  # hash of the training and data code

    def as_dict(self) -> dict[str, Any]:
        return {
            "data_sha256": dict(self.data_sha256),
            "threads": self.threads,
            "cpu_flags": self.cpu_flags,
            "versions": dict(self.versions),
            "code": self.code,
        }


def resolved_threads(threads: int, cores: int) -> int:
    """Intra-op threads a training uses: 0 means TensorFlow's default, one per core."""
    return threads if threads > 0 else cores


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """A hash of the CPU's instruction-set flags (Linux), or of the platform elsewhere."""
    import platform

    flags = ""
    try:
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith(("flags", "Features")):  # x86 / ARM
                flags = " ".join(sorted(line.split(":", 1)[1].split()))
                break
    except OSError:
        pass
    text = flags or f"{platform.machine()} {platform.processor()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def code_hash(root: Path | None = None) -> str:
    """A hash of the source of the code that trains and loads data (see TRAINING_CODE)."""
    package = Path(cnnlab.__file__).parent if root is None else root
    digest = hashlib.sha256()
    for part in TRAINING_CODE:
        path = package / part
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(package)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _versions() -> tuple[tuple[str, str], ...]:
    found = []
    for name in TRAINING_PACKAGES:
        try:
            found.append((name, version(name)))
        except PackageNotFoundError:
            found.append((name, "absent"))
    return tuple(found)


def content_checksums(dataset: LoadedDataset) -> dict[str, str]:
    """The dataset's content checksums: its verified files' (MNIST, Fashion-MNIST) or arrays'
    (your data), or for data given as arrays (synthetic data in tests) a SHA-256 of each
    array's dtype, shape and bytes (`cnnlab.data.array_checksums`)."""
    if dataset.sha256:
        return dict(dataset.sha256)
    return array_checksums(
        {
            "x_train": dataset.x_train,
            "y_train": dataset.y_train,
            "x_test": dataset.x_test,
            "y_test": dataset.y_test,
        }
    )


def training_environment(
    data_sha256: dict[str, str], threads: int, cores: int
) -> TrainingEnvironment:
    """This machine's environment for a run whose trainings use `threads` intra-op threads
    (0: TensorFlow's default) on `cores` cores."""
    return TrainingEnvironment(
        data_sha256=tuple(sorted(data_sha256.items())),
        threads=resolved_threads(threads, cores),
        cpu_flags=cpu_flags(),
        versions=_versions(),
        code=code_hash(),
    )


def cell_fingerprint(cell: Cell, environment: TrainingEnvironment) -> str:
    """The hash of everything that decides a cell's bits (see the module docstring). The arm's
    label and the sweep's name are not part of it: the same spec under another name in
    another sweep is the same training."""
    content = {
        "scheme": FINGERPRINT_SCHEME,
        "spec": content_params(cell.spec),
        "seed": cell.seed,
        "probes": list(cell.probes),
        "probe_images": cell.probe_images,
        "environment": environment.as_dict(),
    }
    if cell.pair_with is not None:
        # A network you bring starts from its reference arm's weights where they match: the
        # same arm beside another first arm may start elsewhere. (Absent for cnnlab's own
        # networks, whose fingerprints are as they always were.)
        content["pair_with"] = content_params(cell.pair_with)
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]
