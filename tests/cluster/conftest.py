"""The fault tests' cluster: `scripts/services cluster` (three Kafka brokers, two Elasticsearch
nodes, security off, its own ports). `make test-cluster` starts it and stops it afterwards; the
`cluster` fixture starts it too when it does not run (and then stops it at the end of the session).
It is never skipped: a cluster that cannot start fails the run. What the tests share besides it is
in tests/support/cluster.py.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.support.cluster import UNSET, services
from tests.support.services import ROOT, SERVICES, parse_exports


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster: needs the fault-test cluster (scripts/services cluster)")


@pytest.fixture(scope="session")
def cluster() -> Iterator[dict[str, str]]:
    """The cluster's settings (scripts/services cluster env), started here if it does not run."""
    running = subprocess.run([str(SERVICES), "cluster", "status"], cwd=ROOT, capture_output=True, check=False)
    started_here = running.returncode != 0
    if started_here:
        services("up", timeout=600)
    printed = parse_exports(services("env"))
    for name in UNSET:
        os.environ.pop(name, None)
    yield printed
    if started_here and os.environ.get("IHUB_SERVICES_KEEP") != "1":
        services("down")
