"""Debezium for real: a CRM's contact-history table in PostgreSQL, captured by Kafka Connect's
Debezium PostgreSQL connector onto a Kafka topic that a `debezium` source names, which a worker
bridges onto the raw topic (stream_workers/feeds.py), and from there to the TMF683 API: the rows
of the connector's first snapshot, then an insert, a delete (and its tombstone) and an update.

PostgreSQL and Kafka Connect run with `scripts/services cdc up`: started here when they do not
run, and stopped at the end if started here (IHUB_SERVICES_KEEP=1 leaves them running). A service
that cannot start fails the test; it is never skipped. Kafka and the engine are the session's
(tests/conftest.py), each test's worker and index its own (tests/integration/conftest.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from ingest.formats import source_urn
from interaction_hub.topics import ensure_topics
from schemas.channel_event import interaction_id
from tests.support.pipeline import wait_until
from tests.support.server import Server
from tests.support.services import ROOT, SERVICES, parse_exports

pytestmark = pytest.mark.integration

CDC_UP_TIMEOUT_S = 600  # a cold start fetches Kafka Connect and Debezium (about 65 MB) from Maven Central
WAIT_S = 90  # for each change to reach the API: connector, topic, worker, raw topic, index

ROWS = """
(1, '2026-11-20 09:00:00', '2026-11-20 09:07:30+00', 'PHONE', 'IN', 'Bill dispute', 'Credit note issued',
    'DONE', 'C-000417', 'asilva', 'Lisbon', '2026-11-27'),
(2, '2026-11-20 10:00:00', NULL, 'EMAIL', 'IN', 'Address change', NULL, 'OPEN', 'C-000418', NULL, 'Porto', NULL),
(3, '2026-11-20 11:00:00', '2026-11-20 11:20:00+00', 'SHOP', 'IN', 'New contract', 'Signed in store',
    'DONE', 'C-000419', 'jcosta', 'Faro', NULL)
"""


def _cdc(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SERVICES), "cdc", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def cdc(kafka_bootstrap: str) -> Any:
    """`scripts/services cdc env` of running change data capture services, writing to the
    session's Kafka; `startup_s`: how long `cdc up` took."""
    env = {**os.environ, "IHUB_KAFKA_BOOTSTRAP": kafka_bootstrap}
    started_here = _cdc(env, "status").returncode != 0
    began = time.monotonic()
    try:
        up = _cdc(env, "up", timeout=CDC_UP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        up = None
    if up is None or up.returncode != 0:
        if started_here:
            _cdc(env, "down")  # nothing half-started is left behind
        told = f"(exit {up.returncode}):\n{up.stdout}\n{up.stderr}" if up else f"within {CDC_UP_TIMEOUT_S}s"
        pytest.fail(f"scripts/services cdc up failed {told}", pytrace=False)
    exports = parse_exports(_cdc(env, "env").stdout)
    exports["startup_s"] = f"{time.monotonic() - began:.1f}"
    yield exports
    if started_here and os.environ.get("IHUB_SERVICES_KEEP") != "1":
        _cdc(env, "down")


def sql(cdc: dict[str, str], statement: str) -> str:
    """Run SQL on the CRM's database; its output, unaligned."""
    where = ["-h", cdc["IHUB_CDC_POSTGRES_HOST"], "-p", cdc["IHUB_CDC_POSTGRES_PORT"]]
    who = ["-U", cdc["IHUB_CDC_POSTGRES_USER"], "-d", cdc["IHUB_CDC_POSTGRES_DATABASE"]]
    done = subprocess.run(
        [cdc["IHUB_CDC_PSQL"], "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", *where, *who, "-c", statement],
        env={**os.environ, "PGPASSWORD": cdc["IHUB_CDC_POSTGRES_PASSWORD"]},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, f"{statement}\n{done.stderr}"
    return done.stdout.strip()


def sources_file(path: Path, name: str, topic: str, table: str) -> Path:
    """The source of the table's topic, with its column mapping (time columns read by the schema
    part the connector writes: no `timestamps` table)."""
    path.write_text(
        f"""
[sources.{name}]
format = "debezium"
topic = "{topic}"
table = "public.{table}"
key = ["id"]
[sources.{name}.columns]
startDateTime = "started_at"
endDateTime = "ended_at"
channel = "channel"
direction = "direction"
reason = "subject"
description = "notes"
status = "outcome"
customer = "customer_no"
agent = "agent_login"
[sources.{name}.channel_values]
PHONE = "voice"
EMAIL = "email"
SHOP = "store"
[sources.{name}.status_values]
DONE = "completed"
OPEN = "inProgress"
"""
    )
    return path


def connector(cdc: dict[str, str], prefix: str, table: str, publication: str, slot: str) -> dict[str, str]:
    """Debezium's PostgreSQL connector on the table: pgoutput, the table's own publication and
    replication slot, a snapshot first, values with their schema part (JsonConverter)."""
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": cdc["IHUB_CDC_POSTGRES_HOST"],
        "database.port": cdc["IHUB_CDC_POSTGRES_PORT"],
        "database.user": cdc["IHUB_CDC_POSTGRES_USER"],
        "database.password": cdc["IHUB_CDC_POSTGRES_PASSWORD"],
        "database.dbname": cdc["IHUB_CDC_POSTGRES_DATABASE"],
        "topic.prefix": prefix,
        "table.include.list": f"public.{table}",
        "publication.name": publication,
        "publication.autocreate.mode": "disabled",
        "slot.name": slot,
        "snapshot.mode": "initial",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true",
    }


def delete_topic(bootstrap: str, topic: str) -> None:
    async def go() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()

    asyncio.run(asyncio.wait_for(go(), 30))


def test_a_crm_tables_rows_become_interactions_from_its_snapshot_to_its_deletes(
    cdc, isolated, tmp_path, kafka_bootstrap
):
    began = time.monotonic()
    env, worker = isolated
    tag = uuid4().hex[:8]
    table, name = f"contact_history_{tag}", f"legacy-crm-{tag}"
    prefix, publication, slot = f"crm-{tag}", f"ihub_{tag}", f"ihub_{tag}"
    topic = f"{prefix}.public.{table}"
    connect = httpx.Client(base_url=cdc["IHUB_CDC_CONNECT_URL"], timeout=30)
    server = feed_worker = None
    try:
        # the CRM's table and its rows before the connector starts: they come with its snapshot
        sql(
            cdc,
            f"CREATE TABLE public.{table} (id integer PRIMARY KEY, started_at timestamp NOT NULL,"
            " ended_at timestamptz, channel text NOT NULL, direction text, subject text, notes text, outcome text,"
            f" customer_no text, agent_login text, branch text, follow_up_on date); INSERT INTO public.{table}"
            f" VALUES {ROWS}; CREATE PUBLICATION {publication} FOR TABLE public.{table}",
        )
        # topic auto-creation is off on the services' Kafka: the feed topic is made as `ihub init` makes it
        asyncio.run(ensure_topics({"bootstrap_servers": kafka_bootstrap}, 3, feeds=[topic]))
        env["IHUB_SOURCES_FILE"] = str(sources_file(tmp_path / "sources.toml", name, topic, table))
        server = Server(tmp_path / "unused", env)
        env["IHUB_PUBLIC_URL"] = server.root  # hrefs are built by the worker
        feed_worker = worker()
        server.start()
        registered = connect.post(
            "/connectors", json={"name": name, "config": connector(cdc, prefix, table, publication, slot)}
        )
        assert registered.status_code == 201, registered.text

        api = httpx.Client(base_url=server.url, timeout=10)
        ids = {key: interaction_id(source_urn(name), str(key)) for key in (1, 2, 3, 4)}

        def doc(key: int) -> dict[str, Any] | None:
            found = api.get(f"partyInteraction/{ids[key]}")
            return found.json() if found.status_code == 200 else None

        wait_until(lambda: all(doc(key) for key in (1, 2, 3)), WAIT_S, "the snapshot's rows as interactions")
        first = doc(1)
        assert first is not None
        assert first["@type"] == "VoiceCallInteraction" and first["channel"][0]["id"] == "voice"
        assert first["status"] == "completed" and first["direction"] == "inbound"
        assert first["interactionDate"] == {
            "startDateTime": "2026-11-20T09:00:00Z",
            "endDateTime": "2026-11-20T09:07:30Z",
        }
        assert (first["reason"], first["description"]) == ("Bill dispute", "Credit note issued")
        # (the API may add a party's href)
        assert [{k: p[k] for k in ("id", "role", "@referredType")} for p in first["relatedParty"]] == [
            {"id": "C-000417", "role": "customer", "@referredType": "Individual"},
            {"id": "asilva", "role": "agent", "@referredType": "PartyRole"},
        ]
        assert first["customerIdentifier"] == [{"kind": "crm", "value": "C-000417", "id": "crm:C-000417"}]
        assert first["externalIdentifier"] == [{"id": "1", "owner": name, "externalIdentifierType": f"public.{table}"}]
        assert first["crmRecord"] == {"branch": "Lisbon", "follow_up_on": "2026-11-27T00:00:00Z"}
        second = doc(2)
        assert second is not None and second["status"] == "inProgress" and second["channel"][0]["id"] == "email"

        sql(
            cdc,
            f"INSERT INTO public.{table} (id, started_at, channel, direction, subject, outcome, customer_no)"
            " VALUES (4, '2026-11-20 12:00:00', 'PHONE', 'OUT', 'Renewal offer', 'OPEN', 'C-000417')",
        )
        wait_until(lambda: doc(4), WAIT_S, "the inserted row's interaction")
        inserted = doc(4)
        assert inserted is not None and inserted["direction"] == "outbound" and inserted["status"] == "inProgress"

        # a delete, then the tombstone the connector writes after it: the update after them still flows
        sql(cdc, f"DELETE FROM public.{table} WHERE id = 3")
        wait_until(
            lambda: api.get(f"partyInteraction/{ids[3]}").status_code == 404, WAIT_S, "the deleted row's deletion"
        )
        sql(cdc, f"UPDATE public.{table} SET outcome = 'DONE', ended_at = '2026-11-20 10:15:00+00' WHERE id = 2")
        wait_until(lambda: (doc(2) or {}).get("status") == "completed", WAIT_S, "the updated row's interaction")
        updated = doc(2)
        assert updated is not None
        assert updated["interactionDate"] == {
            "startDateTime": "2026-11-20T10:00:00Z",
            "endDateTime": "2026-11-20T10:15:00Z",
        }

        for key in (1, 2, 4):
            found = api.get("partyInteraction", params={"externalIdentifier.id": str(key)}).json()
            assert [item["id"] for item in found] == [ids[key]], key
        gone = {"externalIdentifier.id": "3"}
        wait_until(lambda: api.get("partyInteraction", params=gone).json() == [], 30, "the deletion in searches")
        print(f"\ncdc up: {cdc['startup_s']} s; the test after it: {time.monotonic() - began:.1f} s")
    finally:
        for process in (server, feed_worker):  # before the topic goes, so that nothing reads it then
            if process is not None:
                process.stop()
        connect.delete(f"/connectors/{name}")
        _drop(cdc, table, publication, slot)
        delete_topic(kafka_bootstrap, topic)


def _drop(cdc: dict[str, str], table: str, publication: str, slot: str) -> None:
    """The table, its publication and its replication slot (once the connector has let go of it:
    a slot left behind would keep the database's log forever)."""
    deadline = time.monotonic() + 30
    while sql(cdc, f"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'") != "0":
        sql(
            cdc,
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
            f" WHERE slot_name = '{slot}' AND NOT active",
        )
        if time.monotonic() > deadline:
            pytest.fail(f"the replication slot {slot} is still in use 30 s after its connector was deleted")
        time.sleep(0.5)
    sql(cdc, f"DROP PUBLICATION IF EXISTS {publication}; DROP TABLE IF EXISTS public.{table}")
