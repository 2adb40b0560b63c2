"""The pipeline against secured services: Kafka over SASL_SSL (SCRAM-SHA-512, TLS verified against
the local CA) and the engine over HTTPS with a user, as scripts/services runs them.

The worker and the publishing client get nothing but the project's settings (IHUB_KAFKA_* naming
the SASL_SSL listener, IHUB_SEARCH_* the engine's credentials and CA), so this checks every Kafka
client kind the worker uses (admin, faust's consumer and producer, aiokafka producer) and the
engine client. Wrong credentials fail fast with an error that says so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from uuid import uuid4

import pytest
from aiokafka.errors import KafkaConnectionError

from ingest.adapters import adapt, sample_events
from ingest.publisher import Publisher
from interaction_hub.kafka_client import kafka_options
from interaction_hub.search_client import search_client
from interaction_hub.settings import Settings
from storage.search import wait_until_ready
from tests.integration.test_pipeline import marked
from tests.support.pipeline import count, wait_until

pytestmark = pytest.mark.integration


def settings_of(env: dict[str, str]) -> Settings:
    """The settings a process started with `env` would have: credentials and CA bundles only as
    `env` gives them, never from this process's environment."""
    unset = ("search_username", "search_password", "search_api_key", "search_ca_file", "kafka_ca_file")
    values: dict[str, str | None] = dict.fromkeys(unset)
    values.update(
        {name.removeprefix("IHUB_").lower(): value for name, value in env.items() if name.startswith("IHUB_")}
    )
    return Settings(**values)


def test_the_pipeline_end_to_end_over_sasl_ssl_and_https(isolated, search_url, secure_kafka):
    env, worker = isolated
    env.update(secure_kafka)  # the worker reaches Kafka only through the SASL_SSL listener
    assert search_url.startswith("https://"), "the engine under test must be the secured one (scripts/services env)"
    assert env.get("IHUB_SEARCH_USERNAME") and env.get("IHUB_SEARCH_CA_FILE")
    settings = settings_of(env)
    assert kafka_options(settings)["security_protocol"] == "SASL_SSL"

    marker = uuid4().hex
    templates = [e for e in sample_events() if not e.type.startswith("tmf683.")]
    events = [marked(templates[n % len(templates)], f"{marker}-{n}") for n in range(120)]
    ids = sorted({adapt(e).interaction_id for e in events})
    worker()

    async def publish() -> None:
        options = kafka_options(settings)
        async with Publisher(**options) as publisher:
            await publisher.publish_many(events)

    asyncio.run(asyncio.wait_for(publish(), 60))
    alias = env["IHUB_INDEX_ALIAS"]
    wait_until(lambda: count(search_url, alias, {"ids": {"values": ids}}) == len(ids), 120, "indexing over SASL_SSL")
    time.sleep(3)  # anything indexed twice, or more than was sent, would show by now
    assert count(search_url, alias, {"ids": {"values": ids}}) == len(ids)
    assert count(search_url, alias) == len(ids)  # one document per interaction, nothing else


def test_a_wrong_kafka_password_fails_at_once_with_an_authentication_error(secure_kafka, caplog):
    settings = settings_of({**secure_kafka, "IHUB_KAFKA_SASL_PASSWORD": "not-the-password"})

    async def start() -> None:
        publisher = Publisher(**kafka_options(settings), request_timeout_ms=10_000)
        try:
            await publisher.start()
        finally:
            await publisher.stop()

    started = time.monotonic()
    with caplog.at_level(logging.ERROR), pytest.raises(KafkaConnectionError):
        asyncio.run(asyncio.wait_for(start(), 30))
    assert time.monotonic() - started < 30
    assert "SaslAuthenticationFailed" in caplog.text and "invalid credentials" in caplog.text


def test_the_right_kafka_password_without_the_ca_is_refused_by_tls(secure_kafka, caplog):
    """The broker's certificate is verified: without the local CA (system CAs only) no connection."""
    env = {**secure_kafka}
    del env["IHUB_KAFKA_CA_FILE"]
    settings = settings_of(env)

    async def start() -> None:
        publisher = Publisher(**kafka_options(settings), request_timeout_ms=10_000)
        try:
            await publisher.start()
        finally:
            await publisher.stop()

    with caplog.at_level(logging.ERROR), pytest.raises(KafkaConnectionError):
        asyncio.run(asyncio.wait_for(start(), 30))
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text


def engine_settings(search_url: str, **values: str) -> Settings:
    env = {"IHUB_SEARCH_URL": search_url, **{f"IHUB_{k.upper()}": v for k, v in values.items()}}
    return settings_of(env)


def test_a_wrong_engine_password_is_a_clear_authentication_error(search_url):
    import os

    assert search_url.startswith("https://"), "the engine under test must be the secured one (scripts/services env)"
    settings = engine_settings(
        search_url,
        search_username=os.environ["IHUB_SEARCH_USERNAME"],
        search_password="not-the-password",
        search_ca_file=os.environ["IHUB_SEARCH_CA_FILE"],
    )

    async def check() -> None:
        client = search_client(settings, request_timeout=10, max_retries=0)
        try:
            await wait_until_ready(client, timeout_s=5)
        finally:
            await client.close()

    with pytest.raises(Exception) as raised:
        asyncio.run(asyncio.wait_for(check(), 30))
    assert type(raised.value).__name__ == "AuthenticationException"
    assert getattr(raised.value, "status_code", None) == 401
    assert "unable to authenticate user [" + os.environ["IHUB_SEARCH_USERNAME"] + "]" in str(raised.value)


def test_the_engine_without_credentials_or_without_its_ca_is_refused(search_url):
    import os

    no_user = engine_settings(search_url, search_ca_file=os.environ["IHUB_SEARCH_CA_FILE"])
    no_ca = engine_settings(
        search_url,
        search_username=os.environ["IHUB_SEARCH_USERNAME"],
        search_password=os.environ["IHUB_SEARCH_PASSWORD"],
    )

    async def check(settings: Settings) -> None:
        client = search_client(settings, request_timeout=10, max_retries=0)
        try:
            await wait_until_ready(client, timeout_s=5)
        finally:
            await client.close()

    with pytest.raises(Exception) as raised:
        asyncio.run(asyncio.wait_for(check(no_user), 30))
    assert getattr(raised.value, "status_code", None) == 401
    assert "missing authentication credentials" in str(raised.value)
    with pytest.raises(Exception) as raised:
        asyncio.run(asyncio.wait_for(check(no_ca), 30))
    assert "CERTIFICATE_VERIFY_FAILED" in repr(raised.value) or "certificate verify failed" in repr(raised.value)
