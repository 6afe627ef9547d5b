"""TensorFlow's process-wide settings as cnnlab makes them (`cnnlab.training.runtime`)."""

from __future__ import annotations

import subprocess
import sys


def test_the_quiet_import_drops_the_retracing_advice_and_keeps_other_warnings() -> None:
    # A quick run's short trials made TensorFlow print its retracing paragraph three times
    # into a new user's first sweep; any other warning must still reach the user.
    code = """
from cnnlab.training.runtime import import_tensorflow_quietly
import_tensorflow_quietly()
import tensorflow as tf
tf.get_logger().warning("5 out of the last 11 calls to <function f> triggered tf.function "
                        "retracing. Tracing is expensive")
tf.get_logger().warning("some other warning")
"""
    env_free = {"PATH": "/usr/bin:/bin"}  # no TF_CPP_MIN_LOG_LEVEL of the caller's
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env_free, check=True
    )
    assert "some other warning" in done.stderr
    assert "retracing" not in done.stderr
