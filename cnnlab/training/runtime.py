"""TensorFlow's process-wide settings: a quiet first import, thread counts, seeding.

TensorFlow is imported inside each function, not at the top: `import_tensorflow_quietly` must
run before anything else imports it, and the entry points import this module to call it.
"""

from __future__ import annotations

import logging
import os
import sys

_QUIET_MARK = "CNNLAB_QUIETED_TENSORFLOW"  # set with the level: cnnlab chose it, not the user


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up chatter (oneDNN, CUDA probing) silenced.

    TensorFlow writes those lines to file descriptor 2 before its logging is configured, so
    TF_CPP_MIN_LOG_LEVEL alone cannot hide them; stderr is pointed at /dev/null for the
    import only. A user who sets TF_CPP_MIN_LOG_LEVEL (e.g. 0 to debug) sees everything; a
    worker process inherits the level cnnlab set (marked by _QUIET_MARK), and stays quiet.
    """
    user_level = "TF_CPP_MIN_LOG_LEVEL" in os.environ and _QUIET_MARK not in os.environ
    if user_level or "tensorflow" in sys.modules:
        import tensorflow

        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ[_QUIET_MARK] = "1"
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    # Each trial builds a new model, so Keras traces new functions for it; on a quick run's
    # short trials TensorFlow counts that as "excessive retracing" and prints a paragraph of
    # advice meant for the author of the training loop, not for a user of cnnlab. Only that
    # message is dropped; every other TensorFlow warning still shows.
    logging.getLogger("tensorflow").addFilter(_not_retracing)


def _not_retracing(record: logging.LogRecord) -> bool:
    return "triggered tf.function retracing" not in record.getMessage()


# What Keras imports at start-up for features a training worker never uses: scikit-learn (its
# sklearn wrappers, ~2.4 s here with the SciPy parts it pulls in), matplotlib (its plotting
# utilities, ~1.7 s) and pandas (its data adapters, ~1.4 s). Keras imports each inside
# `try: ... except ImportError`, so a process that declines them starts ~4 s sooner.
UNUSED_WHEN_TRAINING = ("sklearn", "matplotlib", "pandas")


def decline_unused_imports() -> None:
    """Make the modules of UNUSED_WHEN_TRAINING unimportable in this process (Python's own
    mechanism: None in `sys.modules` makes `import` raise ImportError). Only for a process
    that trains and nothing else, a worker; call it before TensorFlow is imported."""
    for name in UNUSED_WHEN_TRAINING:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]


def thread_settings() -> dict[str, int]:
    """TensorFlow's thread settings (0 = TensorFlow picks) and the visible cores."""
    import tensorflow as tf

    return {
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        "cpu_count": os.cpu_count() or 0,
    }


def set_intra_op_threads(threads: int) -> None:
    """Limit TensorFlow's intra-op threads (call before TensorFlow runs its first op)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)


def seed_everything(seed: int) -> None:
    """Reset Keras and seed Python, NumPy and TensorFlow; make TensorFlow's ops deterministic."""
    import keras
    import tensorflow as tf

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
