"""In full mode the audit records also go to the Kafka audit topic, where a privacy officer's tools
read them: a write and a refusal by a real server, found on the real topic."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from query_api.auth import READ
from schemas.audit import AuditRecord
from schemas.channel_event import AUDIT_TOPIC
from tests.conformance.test_party_interaction import CTK_BODY
from tests.support.server import Server, full_mode_store, running
from tests.tokens import ALL, Signer, auth_env, bearer


def _end_offset(bootstrap: str) -> int:
    async def end() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            partition = TopicPartition(AUDIT_TOPIC, 0)
            return int((await consumer.end_offsets([partition]))[partition])
        finally:
            await consumer.stop()

    return asyncio.run(end())


def _records_from(bootstrap: str, offset: int, done: Callable[[list[AuditRecord]], bool]) -> list[AuditRecord]:
    """The topic's records from `offset` on, until `done` says enough (other tests write there too)."""

    async def read() -> list[AuditRecord]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partition = TopicPartition(AUDIT_TOPIC, 0)
            consumer.assign([partition])
            consumer.seek(partition, offset)
            found: list[AuditRecord] = []
            async with asyncio.timeout(20):
                while not done(found):
                    batch = await consumer.getmany(partition, timeout_ms=500)
                    found += [AuditRecord.from_bytes(r.value) for r in batch.get(partition, [])]
            return found
        finally:
            await consumer.stop()

    return asyncio.run(read())


def test_a_write_and_a_refusal_reach_the_audit_topic(request, tmp_path: Path, kafka_bootstrap: str) -> None:
    signer = Signer()
    with full_mode_store(request, "audit") as env:
        server = Server(tmp_path / "store", {**env, **auth_env(signer.write_pem(tmp_path))})
        with running(server, tmp_path), httpx.Client(base_url=server.url, timeout=15) as api:
            start = _end_offset(kafka_bootstrap)
            made = api.post("partyInteraction", json=CTK_BODY, headers=bearer(signer.token(ALL, sub="agent-3")))
            assert made.status_code == 201, made.text
            refused = api.delete(f"partyInteraction/{made.json()['id']}", headers=bearer(signer.token(READ)))
            assert refused.status_code == 403
            interaction_id = made.json()["id"]

            def ours(records: list[AuditRecord]) -> list[AuditRecord]:
                return [r for r in records if interaction_id in (r.location or r.path)]

            records = ours(_records_from(kafka_bootstrap, start, lambda found: len(ours(found)) >= 2))
    assert [(r.method, r.status, r.sub) for r in records] == [
        ("POST", 201, "agent-3"),
        ("DELETE", 403, "user-1"),
    ]
    assert records[0].location == made.headers["location"]
