"""Fixtures for integration tests against real Kafka and a real search engine.

``kafka_bootstrap`` and ``search_url`` take ``IHUB_KAFKA_BOOTSTRAP`` and
``IHUB_SEARCH_URL`` when they are set. Otherwise they run ``scripts/services up``
once per session, read ``scripts/services env``, and stop the services again at
the end of the session if they started them (set ``IHUB_SERVICES_KEEP=1`` to
leave them running for the next run).

A service that cannot be started or reached fails the test run; it is never
skipped (in CI, ``CI=true``, or anywhere else).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time

import pytest

# the shared helpers' asserts report their values as a test's do (imported below, once registered)
pytest.register_assert_rewrite("tests.support")

from tests.support.services import (  # noqa: E402
    ROOT,
    SEARCH_ACCESS,
    SERVICES,
    engine_client,
    parse_exports,
    run_async,
)

UP_TIMEOUT_S = 900  # a cold `up` downloads ~150 MB from Maven Central


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "integration: needs real Apache Kafka and a real search engine (scripts/services up, or "
        "IHUB_KAFKA_BOOTSTRAP / IHUB_SEARCH_URL)",
    )


def _run_services(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SERVICES), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


class _LocalServices:
    """Starts ``scripts/services`` at most once per session, on first need."""

    def __init__(self) -> None:
        self.env: dict[str, str] | None = None
        self.started_here = False

    def get(self) -> dict[str, str]:
        if self.env is not None:
            return self.env
        before = _run_services("status")
        # Stop at the end only what this session brought up from nothing.
        self.started_here = "running" not in before.stdout
        try:
            up = _run_services("up", timeout=UP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"scripts/services up did not finish within {UP_TIMEOUT_S}s", pytrace=False)
        if up.returncode != 0:
            self.stop()  # leave nothing half-started behind
            pytest.fail(f"scripts/services up failed (exit {up.returncode}):\n{up.stdout}\n{up.stderr}", pytrace=False)
        printed = _run_services("env")
        self.env = parse_exports(printed.stdout)
        return self.env

    def stop(self) -> None:
        if self.started_here and os.environ.get("IHUB_SERVICES_KEEP") != "1":
            _run_services("down", timeout=120)


@pytest.fixture(scope="session")
def _local_services():
    services = _LocalServices()
    yield services
    services.stop()


def _setting(name: str, services: _LocalServices) -> str:
    value = os.environ.get(name)
    if value:
        return value
    value = services.get().get(name)
    if not value:
        pytest.fail(f"scripts/services env printed no {name}", pytrace=False)
    return value


def _wait_tcp(host: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection((host, port), timeout=2):
                return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)


@pytest.fixture(scope="session")
def kafka_bootstrap(_local_services: _LocalServices) -> str:
    """``host:port`` of a Kafka broker that answers metadata requests."""
    bootstrap = _setting("IHUB_KAFKA_BOOTSTRAP", _local_services)
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if not _wait_tcp(host, int(port), 30):
        pytest.fail(f"Kafka is not reachable at {bootstrap} (IHUB_KAFKA_BOOTSTRAP)", pytrace=False)

    async def check() -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        await admin.start()
        try:
            await admin.list_topics()
        finally:
            await admin.close()

    try:
        run_async(asyncio.wait_for(check(), 30))
    except Exception as exc:
        pytest.fail(f"Kafka at {bootstrap} does not answer: {exc!r}", pytrace=False)
    return bootstrap


@pytest.fixture(scope="session")
def search_url(_local_services: _LocalServices) -> str:
    """Base URL of a search engine whose cluster is at least yellow."""
    url = _setting("IHUB_SEARCH_URL", _local_services)
    engine = os.environ.get("IHUB_SEARCH_ENGINE") or (_local_services.env or {}).get("IHUB_SEARCH_ENGINE")
    if engine:
        os.environ.setdefault("IHUB_SEARCH_ENGINE", engine)
    if not os.environ.get("IHUB_SEARCH_URL"):
        # the engine scripts/services started: its credentials, for this process and every
        # worker and server the tests start (they inherit the environment)
        printed = _local_services.env or {}
        for name in SEARCH_ACCESS:
            if name in printed:
                os.environ.setdefault(name, printed[name])

    async def check() -> None:
        from storage.search import wait_until_ready

        client = engine_client(url, request_timeout=10, max_retries=0)
        try:
            await wait_until_ready(client, timeout_s=20)
        finally:
            await client.close()

    try:
        run_async(asyncio.wait_for(check(), 30))
    except Exception as exc:
        pytest.fail(f"the search engine at {url} does not answer: {exc!r}", pytrace=False)
    return url


@pytest.fixture(scope="session")
def secure_kafka(_local_services: _LocalServices) -> dict[str, str]:
    """The broker's SASL_SSL listener, as the project's settings name it: IHUB_KAFKA_BOOTSTRAP,
    IHUB_KAFKA_SECURITY_PROTOCOL, _SASL_MECHANISM, _SASL_USERNAME, _SASL_PASSWORD, _CA_FILE. Taken from
    IHUB_KAFKA_SECURE_BOOTSTRAP, _USERNAME, _PASSWORD, _CA_FILE (printed by scripts/services env)."""
    found = {
        name: _setting(f"IHUB_KAFKA_SECURE_{name}", _local_services)
        for name in ("BOOTSTRAP", "USERNAME", "PASSWORD", "CA_FILE")
    }
    host, _, port = found["BOOTSTRAP"].split(",")[0].rpartition(":")
    if not _wait_tcp(host, int(port), 30):
        pytest.fail(f"Kafka's SASL_SSL listener is not reachable at {found['BOOTSTRAP']}", pytrace=False)
    return {
        "IHUB_KAFKA_BOOTSTRAP": found["BOOTSTRAP"],
        "IHUB_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "IHUB_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "IHUB_KAFKA_SASL_USERNAME": found["USERNAME"],
        "IHUB_KAFKA_SASL_PASSWORD": found["PASSWORD"],
        "IHUB_KAFKA_CA_FILE": found["CA_FILE"],
    }
