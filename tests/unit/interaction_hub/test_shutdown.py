"""The stop deadline: a process that does not exit in time after SIGTERM is ended, with code 3."""

from __future__ import annotations

import subprocess
import sys

from interaction_hub.shutdown import EXIT_DEADLINE

HANGS = """
import time
from interaction_hub.shutdown import arm_deadline
arm_deadline(0.5, "test")
arm_deadline(60, "test")  # only the first counts
time.sleep(60)  # a stop that never ends (a commit to a broker that is gone)
"""


def test_a_process_that_does_not_stop_is_ended_at_its_deadline() -> None:
    done = subprocess.run([sys.executable, "-c", HANGS], capture_output=True, text=True, timeout=30)
    assert done.returncode == EXIT_DEADLINE, done.stderr
