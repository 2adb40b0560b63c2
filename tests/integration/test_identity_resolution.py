"""Identity resolution in full mode on real Kafka, the real engine and `ihub worker` processes:
TMF632 Party Management events on their topic link, move and unlink the interactions of vendor
records (a malformed event is a dead letter naming its problem, and the events after it still
flow); and a late binding of thousands of interactions survives a kill -9 of the worker half-way:
the next worker finishes it, each interaction linked once."""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from ingest.adapters import adapt
from ingest.formats import FORMATS, wrap
from ingest.sources import parse
from interaction_hub.topics import ensure_topics, partitions_of
from schemas.channel_event import DLQ_TOPIC, ChannelEvent
from schemas.dead_letter import DeadLetter
from storage.search.directory import IDENTIFIER_FIELD
from tests.conformance.test_identity import (
    API_KEY,
    SOURCES,
    call,
    customers,
    e164,
    hold,
    interaction,
    mail,
    mobile,
    phone,
    settles,
)
from tests.support.pipeline import Worker, publish, wait_until
from tests.support.server import Server
from tests.support.services import engine_http
from tests.vendor_samples import sample

pytestmark = pytest.mark.integration

CONNECT = "amazon-connect-ctr"


@pytest.fixture
def hub_env(isolated, tmp_path) -> tuple[dict[str, str], Any]:
    """The isolated environment with the identity test sources (Amazon Connect and mail, by API key)
    and Portuguese national numbers; and its worker starter."""
    env, start_worker = isolated
    sources = tmp_path / "sources.toml"
    sources.write_text(SOURCES)
    env.update({"IHUB_SOURCES_FILE": str(sources), "IHUB_TEST_OWN_KEY": API_KEY, "IHUB_PHONE_REGION": "PT"})
    return env, start_worker


@contextmanager
def serving(env: dict[str, str], data_dir: Path) -> Iterator[httpx.Client]:
    """A full-mode API on `env` (its workers started by the caller), and a client of its root."""
    server = Server(data_dir, env)
    server.start()
    try:
        with httpx.Client(base_url=server.root, timeout=30) as client:
            yield client
    finally:
        server.stop()


# -- TMF632 Party Management events ------------------------------------------------------------------


def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    async def go() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for key, value in records:
                await producer.send_and_wait(topic, value=value, key=key)
        finally:
            await producer.stop()

    asyncio.run(go())


def tmf632(event_type: str, resource: dict[str, Any]) -> tuple[bytes, bytes]:
    """A TMF632 event as Party Management publishes it, keyed by the party's id."""
    kind = "organization" if event_type.startswith("Organization") else "individual"
    event = {
        "eventId": uuid.uuid4().hex,
        "eventTime": "2026-03-10T12:00:00Z",
        "eventType": event_type,
        "event": {kind: resource},
    }
    return resource["id"].encode(), orjson.dumps(event)


def mobile_medium(number: str) -> dict[str, Any]:
    return {"mediumType": "mobile", "characteristic": {"phoneNumber": number}}


def dlq_ends(bootstrap: str) -> dict[TopicPartition, int]:
    async def go() -> dict[TopicPartition, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            kafka = {"bootstrap_servers": bootstrap}
            return await consumer.end_offsets(
                [TopicPartition(DLQ_TOPIC, p) for p in await partitions_of(kafka, DLQ_TOPIC)]
            )
        finally:
            await consumer.stop()

    return asyncio.run(go())


def dead_letters_of(bootstrap: str, topic: str, since: dict[TopicPartition, int], count: int) -> list[DeadLetter]:
    """The dead letters of `topic` on the DLQ after `since`, once there are `count` (or after 60 s)."""

    async def go() -> list[DeadLetter]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        found: list[DeadLetter] = []
        try:
            consumer.assign(list(since))
            for tp, offset in since.items():
                consumer.seek(tp, offset)
            deadline = time.monotonic() + 60
            while len(found) < count and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    letters = (DeadLetter.from_record(r.key, r.value, r.headers) for r in records)
                    found += [letter for letter in letters if letter.topic == topic]
        finally:
            await consumer.stop()
        return found

    return asyncio.run(go())


def test_party_management_events_link_move_and_unlink_vendor_records(hub_env, kafka_bootstrap, tmp_path):
    env, start_worker = hub_env
    tag = uuid.uuid4().hex[:8]
    topic = f"party-events-{tag}"
    env["IHUB_PARTY_EVENTS_TOPIC"] = topic
    asyncio.run(ensure_topics({"bootstrap_servers": kafka_bootstrap}, 6, feeds=[topic]))
    start_worker()
    with serving(env, tmp_path / "api") as hub:
        ana, acme = f"ana-{tag}", f"acme-{tag}"
        number, other_number = phone(), phone()
        first = call(hub, number, "2026-03-02T10:00:00Z")
        assert interaction(hub, first)["customerResolution"] == {"status": "unresolved"}

        # Party Management creates Ana with the number: her earlier call is hers within 10 s
        individual = {"id": ana, "givenName": "Ana", "familyName": "Silva", "contactMedium": [mobile_medium(number)]}
        produce(kafka_bootstrap, topic, [tmf632("IndividualCreateEvent", individual)])
        doc = settles(hub, first, [ana])
        assert doc["customerResolution"] == {"status": "linked", "partyId": ana, "identifier": f"phone:{e164(number)}"}
        [customer] = [p for p in doc["relatedParty"] if p["role"] == "customer"]
        assert (customer["name"], customer["@referredType"]) == ("Ana Silva", "Individual")
        found = hub.get("/ihub/v1/parties", params={"contact": number}).json()
        assert [(p["id"], p["name"]) for p in found] == [(ana, "Ana Silva")]

        # she changes her number: the old one's call is nobody's, the new one's is hers
        changed = {**individual, "contactMedium": [mobile_medium(other_number.replace("+351 ", ""))]}
        produce(kafka_bootstrap, topic, [tmf632("IndividualAttributeValueChangeEvent", changed)])
        doc = settles(hub, first, [])
        assert doc["customerResolution"] == {"status": "unresolved"}
        second = call(hub, other_number, "2026-03-03T10:00:00Z")
        settles(hub, second, [ana])
        # a change that carries no contact media keeps hers (and renames her on what she is linked to)
        renamed = {"id": ana, "givenName": "Ana", "familyName": "Silva Costa"}
        produce(kafka_bootstrap, topic, [tmf632("IndividualAttributeValueChangeEvent", renamed)])
        wait_until(
            lambda: (
                [p.get("name") for p in interaction(hub, second)["relatedParty"] if p["role"] == "customer"]
                == ["Ana Silva Costa"]
            ),
            10,
            "the new name on her linked call",
        )

        # an organization with an email address: mail from it is theirs
        address = f"billing.{tag}@acme.example"
        mailed = mail(hub, f"Acme Billing <{address}>", f"Invoice {tag}")
        organization = {
            "id": acme,
            "tradingName": "Acme Lda",
            "contactMedium": [{"mediumType": "email", "characteristic": {"emailAddress": address.upper()}}],
        }
        produce(kafka_bootstrap, topic, [tmf632("OrganizationCreateEvent", organization)])
        doc = settles(hub, mailed, [acme])
        [customer] = [p for p in doc["relatedParty"] if p["role"] == "customer"]
        assert (customer["name"], customer["@referredType"]) == ("Acme Lda", "Organization")
        assert doc["customerResolution"]["identifier"] == f"email:{address}"

        # malformed events are dead letters naming the problem; Ana's deletion after them (same
        # partition, her key) is still applied: her call is nobody's
        since = dlq_ends(kafka_bootstrap)
        malformed = [
            b"this is not JSON",
            orjson.dumps({"eventType": "CustomerCreateEvent", "event": {"customer": {"id": ana}}}),
            orjson.dumps({"eventType": "IndividualCreateEvent", "event": {"individual": {"id": "no spaces in ids"}}}),
            orjson.dumps(
                {
                    "eventType": "IndividualCreateEvent",
                    "event": {"individual": {"id": ana, "contactMedium": [mobile_medium("call me")]}},
                }
            ),
            orjson.dumps({"eventType": "IndividualCreateEvent", "event": "x"}),
        ]
        produce(
            kafka_bootstrap,
            topic,
            [*((ana.encode(), value) for value in malformed), tmf632("IndividualDeleteEvent", {"id": ana})],
        )
        doc = settles(hub, second, [])
        assert doc["customerResolution"] == {"status": "unresolved"}
        unresolved = {"contact": f"phone:{e164(other_number)}", "status": "unresolved", "interactions": 1}
        assert hub.get("/ihub/v1/parties", params={"contact": other_number}).json() == [unresolved]
        letters = dead_letters_of(kafka_bootstrap, topic, since, len(malformed))
        assert [letter.value for letter in letters] == malformed
        assert all(letter.key == ana.encode() for letter in letters)
        reasons = [letter.reason for letter in letters]
        assert reasons[0]  # the JSON parser's words
        assert "CustomerCreateEvent" in reasons[1]
        assert "Individual.id" in reasons[2]
        assert "contactMedium[0]" in reasons[3] and "phone number" in reasons[3]
        assert "event" in reasons[4]
        # the organization was not touched by any of it
        settles(hub, mailed, [acme])


# -- kill -9 in the middle of a late binding ---------------------------------------------------------


def connect_events(number: str, count: int) -> list[ChannelEvent]:
    """`count` Amazon Connect contact records (the vendor's example) of calls from `number`, as the
    ingress puts them on the raw topic."""
    vendor, source = FORMATS[CONNECT], parse(SOURCES, check_env=False)["connect"]
    template = orjson.loads(sample("amazon-connect/ctr-voice-inbound-case1.json"))
    events = []
    for n in range(count):
        record = copy.deepcopy(template)
        record["ContactId"] = str(uuid.uuid4())
        record["CustomerEndpoint"] = {"Address": number, "Type": "TELEPHONE_NUMBER"}
        start = f"2026-04-{1 + n % 28:02d}T10:{n % 60:02d}:00Z"
        for key in ("InitiationTimestamp", "ConnectedToSystemTimestamp"):
            record[key] = start
        record["DisconnectTimestamp"] = record["LastUpdateTimestamp"] = start.replace("T10:", "T11:")
        [parsed] = vendor.split(orjson.dumps(record), vendor.media_types[0])
        events.append(wrap(parsed, CONNECT, source.name, source.settings(), start))
    return events


def exact_count(search_url: str, alias: str, query: dict[str, Any]) -> int:
    """How many of the alias' documents match, after a refresh (every acknowledged write counts)."""
    refreshed = httpx.post(f"{search_url}/{alias}/_refresh", **engine_http())
    assert refreshed.status_code == 200, refreshed.text
    answer = httpx.post(f"{search_url}/{alias}/_count", json={"query": query}, **engine_http())
    assert answer.status_code == 200, answer.text  # never a silent 0
    return int(answer.json()["count"])


def test_a_late_binding_cut_by_kill_9_is_finished_by_the_next_worker_each_interaction_once(
    hub_env, kafka_bootstrap, search_url, tmp_path
):
    env, start_worker = hub_env
    env["IHUB_WORKER_BATCH_SIZE"] = "50"  # many small batches: the kill lands between two of them
    alias, tag, total = env["IHUB_INDEX_ALIAS"], uuid.uuid4().hex[:8], 3000
    number, party = phone(), f"late-{tag}"
    carrying = {"term": {IDENTIFIER_FIELD: f"phone:{e164(number)}"}}
    linked = {"term": {"relatedParty.id": party}}
    worker: Worker = start_worker()
    with serving(env, tmp_path / "api") as hub:
        events = connect_events(number, total)
        ids = sorted({adapt(event).interaction_id for event in events})
        assert len(ids) == total
        publish(kafka_bootstrap, events)
        wait_until(lambda: exact_count(search_url, alias, carrying) == total, 180, "the calls to be indexed")
        assert exact_count(search_url, alias, linked) == 0

        # the number is registered: one relink event per call, each acknowledged before the answer
        answer = hold(hub, party, [mobile(number)], name="Late Binder")
        assert answer.status_code == 200, answer.text
        wait_until(lambda: exact_count(search_url, alias, linked) > 0, 30, "the first relinks")
        worker.kill()
        at_kill = exact_count(search_url, alias, linked)
        assert 0 < at_kill < total, at_kill  # killed half-way through

        start_worker()
        restarted = time.monotonic()
        wait_until(lambda: exact_count(search_url, alias, linked) == total, 60, "every call to be linked")
        assert time.monotonic() - restarted < 60

        # each call linked once, to the party, by the number
        body = {"query": carrying, "size": total, "_source": ["relatedParty", "customerResolution"]}
        hits = httpx.post(f"{search_url}/{alias}/_search", json=body, **engine_http()).json()["hits"]["hits"]
        assert sorted(hit["_id"] for hit in hits) == ids
        for hit in hits:
            source = hit["_source"]
            assert [p["id"] for p in source["relatedParty"] if p.get("role") == "customer"] == [party], hit
            assert [p["id"] for p in source["relatedParty"]].count(party) == 1, hit
            assert source["customerResolution"]["partyId"] == party, hit
        # as the API shows them
        assert customers(interaction(hub, ids[0])) == [party]
        assert customers(interaction(hub, ids[-1])) == [party]
