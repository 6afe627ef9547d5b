"""The one table of the names cnnlab stores: Optuna attributes, MLflow tags, state values.

Every key cnnlab writes into a store (an Optuna study or trial attribute, an MLflow tag) is a
member of `Key` (or made by one of the functions below for key families), and every state it
records is a `State`: no other module spells a `"cnnlab.…"` key (a test holds that). The
values are what is stored, so they never change: studies and runs written by earlier
versions read the same. State values are one spelling in both stores; earlier versions wrote
a trial's state in lower case to Optuna (`"interrupted"`), which cnnlab never reads back (it
is for people browsing a study: the trial's Optuna state is what cnnlab acts on).
"""

from __future__ import annotations

from enum import StrEnum


class Key(StrEnum):
    """A stored key. Where it lives: (S) Optuna study, (T) Optuna trial, (M) MLflow run tag."""

    SWEEP = "cnnlab.sweep"  # S, M: the sweep's name
    STUDY = "cnnlab.study"  # M: the Optuna study's name
    CONFIG_HASH = "cnnlab.config_hash"  # S, M: definition hash (what a cell means)
    DEFINITION = "cnnlab.definition"  # S: the definition hashed, to name what changed
    CLAIMS_HASH = "cnnlab.claims_hash"  # S, M: claims hash when the study was created
    PLAN_HASH = "cnnlab.plan_hash"  # S, M: sequential plan hash ("fixed": none) at creation
    RULE = "cnnlab.rule"  # S: the verdict rule (`cnnlab.stats.calibration.RULE`) at creation
    QUICK = "cnnlab.quick"  # S, M: a smoke run (`--quick`)
    CREATED = "cnnlab.created"  # S: when the study was created
    MLFLOW_PARENT_RUN_ID = "cnnlab.mlflow_parent_run_id"  # S: the study's parent run
    DEAD_AFTER = "cnnlab.dead_after"  # S: seconds of silence after which a trial is reaped
    VERSION = "cnnlab.version"  # S: the cnnlab version of the sweep's own process (claims)
    DESIGN = "cnnlab.design"  # M: ablation, randomized, factorial or search
    ROLE = "cnnlab.role"  # M: `Role.PARENT` or `Role.TRIAL`
    CELL = "cnnlab.cell"  # T, M: the cell key, `arm/seed=NN[/bg=NN]`
    ARM = "cnnlab.arm"  # T, M
    LEVELS = "cnnlab.levels"  # T: factor path -> level label
    SEED = "cnnlab.seed"  # M
    BACKGROUND = "cnnlab.background"  # T, M: the background draw (randomized designs)
    TRIAL_NUMBER = "cnnlab.trial_number"  # M
    HOST = "cnnlab.host"  # M: the machine whose process ran the trial (trained or copied it)
    OWNER = "cnnlab.owner"  # T: host, pid and start time of the process running it
    HEARTBEAT = "cnnlab.heartbeat"  # T: last sign of life (seconds since the epoch)
    STATE = "cnnlab.state"  # T, M: a `State`
    REASON = "cnnlab.reason"  # M: why a trial failed or was pruned
    MESSAGE = "cnnlab.message"  # M: the failure's message
    RESULT = "cnnlab.result"  # T: `TrainingResult.to_dict()`
    FINGERPRINT = "cnnlab.fingerprint"  # T, M: what decides the cell's bits (the cell cache)
    REUSED_FROM = "cnnlab.reused_from"  # T, M: `<study>/<trial>` a reused cell was copied from
    REUSED_RUN = "cnnlab.reused_run"  # T, M: the MLflow run of the training it copies
    # T, M: `<study>/<trial>` of this same study's training, trained by an earlier invocation
    # elsewhere and carried here in a cell archive (its own evidence, not a copy)
    RESTORED_FROM = "cnnlab.restored_from"
    FAILURE = "cnnlab.failure"  # T: reason and message of a failed trial
    MLFLOW_RUN_ID = "cnnlab.mlflow_run_id"  # T: the trial's MLflow child run
    MISSING = "cnnlab.missing"  # M (parent): cells of the design without a result
    GIT_COMMIT = "cnnlab.git_commit"  # M
    VERSIONS = "cnnlab.versions"  # M: package versions as JSON
    THREADS = "cnnlab.threads"  # M: TensorFlow thread settings the trial ran with, as JSON
    DATA_SOURCE = "cnnlab.data_source"  # M: where the dataset was loaded from
    DATA_SHA256 = "cnnlab.data_sha256"  # S: the dataset's content checksums at creation
    SPLIT_HASH = "cnnlab.split_hash"  # M: pairing fingerprints of the trial
    DATA_ORDER_HASH = "cnnlab.data_order_hash"  # M
    INIT_HASH = "cnnlab.init_hash"  # M
    REPORT = "cnnlab.report"  # M (parent): the report's index.html


def version_key(package: str) -> str:
    """M: one package's version, e.g. `cnnlab.version.tensorflow`."""
    return f"cnnlab.version.{package}"


def level_key(path: str) -> str:
    """M: a factor's level label under its dotted path, e.g. `cnnlab.level.arch.pooling`."""
    return f"cnnlab.level.{path}"


def claim_key(number: int) -> str:
    """M (parent): the statement of claim `number` (1-based)."""
    return f"cnnlab.claim.{number}"


def verdict_key(number: int) -> str:
    """M (parent): the verdict of claim `number` (1-based)."""
    return f"cnnlab.verdict.{number}"


class State(StrEnum):
    """What happened to a trial (`Key.STATE` in Optuna and MLflow) or a sweep's parent run."""

    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAIL = "FAIL"
    PRUNED = "PRUNED"
    INTERRUPTED = "INTERRUPTED"  # Ctrl-C or SIGTERM while it ran
    REAPED = "REAPED"  # its process died; failed by a later run, to be rerun
    # A trial given up when claimed, never run:
    UNUSED = "UNUSED"  # another process took the cell it was made for
    OUTSIDE_DESIGN = "OUTSIDE_DESIGN"  # left waiting by a run with more seeds or backgrounds
    DUPLICATE = "DUPLICATE"  # another trial finished or holds the same cell
    # A parent run only:
    INCOMPLETE = "INCOMPLETE"  # ended with cells missing (`--max-time`)
    ERROR = "ERROR"  # stopped by an unexpected error


class Role(StrEnum):
    """`Key.ROLE` of an MLflow run."""

    PARENT = "parent"
    TRIAL = "trial"
