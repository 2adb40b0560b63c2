"""One change model, two modes: the same sequence of changes gives byte-identical documents and the
same versions on the embedded store and through Kafka, a real worker and the real engine."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import uuid4

import pytest

from ingest.adapters.tmf683 import event_for
from storage.base import StoredDocument
from storage.changes import Change, Refused
from storage.search.engine import IndexMissing
from storage.search.store import SearchStore
from storage.sqlite.store import SqliteStore
from tests.support.pipeline import publish, wait_until
from tests.support.services import engine_client

pytestmark = pytest.mark.integration

BODY = {
    "reason": "Bill higher than expected",
    "direction": "inbound",
    "status": "open",
    "channel": [{"id": "voice", "name": "Contact centre"}],
    "relatedParty": [{"id": "cust-42", "@referredType": "Individual", "role": "customer"}],
    "note": [{"text": "first"}],
    "description": 'Café — ünïcode ✓ "quoted" \\ back',
}


def changes(ids: list[str]) -> list[Change]:
    """Every kind of change and refusal, with fixed times, about three interactions."""
    a, b, c = ids

    def at(second: int) -> str:
        return f"2026-11-20T09:30:{second:02d}.123456Z"

    def create(interaction_id: str, second: int, **extra: object) -> Change:
        return Change.at("create", interaction_id, at(second), {**BODY, **extra}, href=f"http://h/pi/{interaction_id}")

    return [
        create(a, 0),
        create(b, 1, **{"@type": "VoicePartyInteraction", "handling": {"talkSeconds": 312, "ratio": 0.1}}),
        create(c, 2),
        Change.at(
            "json-patch",
            a,
            at(3),
            [
                {"op": "add", "path": "/note/-", "value": {"text": "second"}},
                {"op": "replace", "path": "/status", "value": "inProgress"},
                {"op": "copy", "from": "/note/0", "path": "/note/-"},
                {"op": "move", "from": "/note/2", "path": "/note/0"},
                {"op": "test", "path": "/note/0/text", "value": "first"},
                {"op": "remove", "path": "/description"},
            ],
        ),
        Change.at(
            "merge",
            b,
            at(4),
            {"handling": {"holdSeconds": [10, 25], "talkSeconds": None, "tiny": 1e-7}, "status": "completed"},
        ),
        Change.at("merge", a, at(5), {"status": "inProgress"}),  # unchanged
        Change.at("merge", a, at(6), {"status": "completed"}, expected_versions=(1,)),  # stale: refused
        Change.at("json-patch", c, at(7), [{"op": "remove", "path": "/reason"}]),  # invalid: refused
        Change.at("delete", c, at(8)),
        Change.at("merge", c, at(9), {"status": "x"}),  # gone: refused
        Change.at("merge", a, at(10), {"statusChangeDate": "2026-11-21T00:00:00Z", "status": "completed"}),
    ]


async def embedded(data_dir: Path, sequence: list[Change]) -> tuple[dict[str, StoredDocument | None], list[str]]:
    store = SqliteStore(data_dir, synchronous="NORMAL")
    refused = []
    try:
        for change in sequence:
            try:
                await store.write(change, lambda old, new: [])
            except Refused as exc:
                refused.append(exc.code)
        return {c.interaction_id: await store.get(c.interaction_id) for c in sequence}, refused
    finally:
        await store.close()


async def indexed(search_url: str, alias: str, ids: set[str]) -> dict[str, StoredDocument | None] | None:
    """What the index holds for `ids`; None while the worker has not made its index yet."""
    store = SearchStore(engine_client(search_url), alias)
    try:
        return {i: await store.get(i) for i in ids}
    except IndexMissing:
        return None
    finally:
        await store.close()


def test_the_same_changes_give_byte_identical_documents_in_both_modes(isolated, kafka_bootstrap, search_url, tmp_path):
    env, worker = isolated
    ids = [uuid4().hex for _ in range(3)]
    sequence = changes(ids)
    local, refused = asyncio.run(embedded(tmp_path / "embedded", sequence))
    assert refused == ["precondition-failed", "invalid", "not-found"]
    assert local[ids[2]] is None and local[ids[0]] is not None and local[ids[1]] is not None

    worker()
    publish(kafka_bootstrap, [event_for(change) for change in sequence])
    alias = env["IHUB_INDEX_ALIAS"]

    def versions(found: dict[str, StoredDocument | None]) -> dict[str, int | None]:
        return {i: None if doc is None else doc.version for i, doc in found.items()}

    remote = wait_until(
        lambda: (
            (found := asyncio.run(indexed(search_url, alias, set(ids))))
            and versions(found) == versions(local)
            and found
        ),
        90,
        "the worker to apply every change",
    )
    for interaction_id in ids:  # the bytes themselves, not only equal JSON
        assert remote[interaction_id] == local[interaction_id]
