"""The workers' fold (stream_workers/pipeline.py): a batch of raw events -> index writes, change
records and dead letters, on an index that keeps documents in memory (the real engine is in
tests/integration/test_pipeline.py)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from ingest.adapters import adapt, sample_events
from ingest.adapters.tmf683 import event_for
from schemas.change_record import change_record
from schemas.channel_event import ChannelEvent
from storage.changes import ABSENT, Change, State, version_at
from storage.search.documents import search_document
from storage.search.store import IndexOp, OpResult, indexed
from stream_workers.pipeline import BatchResult, Message, Projector

BASE = "http://h/tmf-api/partyInteraction/v4"
BODY = {"reason": "Bill", "direction": "inbound", "channel": [{"id": "voice"}], "status": "open"}


class MemoryIndex:
    """What the projector needs of the search store: its alias, latest states, versioned bulk writes."""

    alias = "test-interactions"

    def __init__(self, refuse: Iterable[str] = ()) -> None:
        self.docs: dict[str, State] = {}
        self.refuse = set(refuse)
        self.bulks: list[tuple[list[IndexOp], bool]] = []

    async def states(self, ids: Iterable[str]) -> dict[str, State]:
        return {i: self.docs.get(i, ABSENT) for i in ids}

    async def apply(self, ops: Sequence[IndexOp], *, refresh: bool = False) -> list[OpResult]:
        self.bulks.append((list(ops), refresh))
        results = []
        for op in ops:
            if op.interaction_id in self.refuse:
                results.append(OpResult(False, error="mapper_parsing_exception"))
                continue
            if op.action == "delete":
                self.docs.pop(op.interaction_id, None)
            else:
                self.docs[op.interaction_id] = State(op.version, op.doc)
            results.append(OpResult(True))
        return results


def messages(*values: bytes | ChannelEvent, first: int = 0) -> list[Message]:
    """Records of partition 0 from offset `first` on."""
    return [
        Message("raw", 0, n, None, v if isinstance(v, bytes) else v.to_bytes()) for n, v in enumerate(values, first)
    ]


def fold(index: MemoryIndex, *values: bytes | ChannelEvent) -> BatchResult:
    return asyncio.run(Projector(index, BASE).process(messages(*values)))  # type: ignore[arg-type]


def records(result: BatchResult) -> list[dict[str, Any]]:
    """The batch's change records as published; each reads back as the record it was."""
    assert all(change_record(record.to_bytes()) == record for _, record in result.changes)
    return [orjson.loads(record.to_bytes()) for _, record in result.changes]


def at(second: int) -> str:
    return f"2026-11-20T09:30:{second:02d}Z"


def test_changes_to_one_interaction_fold_in_order_into_one_write_of_the_final_state():
    create = Change.at("create", "i1", at(0), BODY, href=f"{BASE}/partyInteraction/i1")
    note = Change.at("json-patch", "i1", at(1), [{"op": "add", "path": "/note", "value": [{"text": "a"}]}])
    done = Change.at("merge", "i1", at(2), {"status": "completed"})
    index = MemoryIndex()
    result = fold(index, *(event_for(c) for c in (create, note, done)))
    assert {r["index"] for r in records(result)} == {"test-interactions"}  # the records say whose they are
    assert [(r["kind"], r["version"]) for r in records(result)] == [
        ("create", version_at(at(0))),
        ("update", version_at(at(1))),
        ("update", version_at(at(2))),
    ]
    ((ops, refresh),) = index.bulks
    assert refresh  # API writes: the API answers only once they are searchable
    assert [(op.action, op.interaction_id, op.version) for op in ops] == [("index", "i1", version_at(at(2)))]
    final = index.docs["i1"].doc
    assert final is not None and final["note"] == [{"text": "a"}] and final["status"] == "completed"
    assert final["statusChangeDate"] == at(2) and final["creationDate"] == at(0)
    assert result.dead_letters == []


def test_change_records_carry_the_new_state_and_of_the_old_only_what_readers_need():
    create = Change.at("create", "i1", at(0), BODY, href=f"{BASE}/partyInteraction/i1")
    done = Change.at("merge", "i1", at(1), {"status": "completed"})
    gone = Change.at("delete", "i1", at(2))
    created, updated, deleted = records(fold(MemoryIndex(), *(event_for(c) for c in (create, done, gone))))
    assert created["old"] is None and created["new"]["status"] == "open" and "changed" not in created
    # an update: the names of what changed (its notifications say them), not the whole old state
    assert updated["old"] is None and updated["new"]["status"] == "completed"
    assert updated["changed"] == ["status", "statusChangeDate"]
    # a delete: the whole state before (its notification carries what was deleted)
    assert deleted["new"] is None and deleted["old"] == updated["new"] and "changed" not in deleted


def test_refused_api_writes_answer_the_api_and_leave_nothing_while_the_rest_of_the_batch_applies():
    index = MemoryIndex()
    index.docs["i1"] = State(5, {"id": "i1", "href": "h", "creationDate": at(0), **BODY})
    stale = Change.at("merge", "i1", at(1), {"status": "completed"}, expected_versions=(4,))
    missing = Change.at("merge", "nope", at(2), {"status": "completed"})
    invalid = Change.at("json-patch", "i1", at(3), [{"op": "remove", "path": "/reason"}])
    fine = Change.at("merge", "i1", at(4), {"description": "kept"}, expected_versions=(5,))
    result = fold(index, *(event_for(c) for c in (stale, missing, invalid, fine)))
    answers = records(result)
    assert [(r["kind"], r.get("refused")) for r in answers] == [
        ("rejected", "precondition-failed"),
        ("rejected", "not-found"),
        ("rejected", "invalid"),
        ("update", None),
    ]
    assert "reason: Field required" in answers[2]["error"]
    assert result.dead_letters == []  # a client's refused write is an answer, not a pipeline failure
    doc = index.docs["i1"].doc
    assert doc is not None and doc["status"] == "open" and doc["description"] == "kept"


def test_a_channel_record_older_than_the_stored_version_is_superseded_and_not_written():
    voice = {e.type: e for e in sample_events()}["ihub.voice.call.ended"]
    change = adapt(voice)
    index = MemoryIndex()
    newer = {"id": change.interaction_id, "href": "h", "creationDate": at(0), **BODY}
    index.docs[change.interaction_id] = State(change.version + 1, newer)
    result = fold(index, voice)
    assert [r["kind"] for r in records(result)] == ["superseded"]
    assert index.bulks == []  # nothing to write
    assert index.docs[change.interaction_id].doc == newer


def test_bad_events_and_refused_channel_changes_are_dead_letters_and_the_rest_flows():
    web = {e.type: e for e in sample_events()}["ihub.web.session"]
    orphan = ChannelEvent(
        id="e-9",
        source="urn:crm",
        type="tmf683.partyInteraction.patch",
        time=at(5),
        data={"id": "nope", "patch": {"status": "x"}},
    )
    index = MemoryIndex()
    result = fold(index, b"not json", web, orphan)
    reasons = [letter.reason for letter in result.dead_letters]
    assert result.dead_letters[0].value == b"not json"  # the record as it came
    assert len(reasons) == 2 and reasons[0].startswith("not a JSON document")
    assert reasons[1] == "no PartyInteraction with id 'nope'"
    assert [r["kind"] for r in records(result)] == ["create"]
    assert adapt(web).interaction_id in index.docs
    assert index.bulks[0][1] is False  # no API write in the batch: no forced refresh


def test_a_document_the_index_refuses_is_answered_or_dead_lettered_and_others_are_kept():
    api = Change.at("create", "bad", at(0), BODY, href=f"{BASE}/partyInteraction/bad")
    web = {e.type: e for e in sample_events()}["ihub.web.session"]
    index = MemoryIndex(refuse={"bad"})
    result = fold(index, event_for(api), web)
    answers = records(result)
    assert [(r["interactionId"], r["kind"]) for r in answers] == [
        ("bad", "rejected"),
        (adapt(web).interaction_id, "create"),
    ]
    assert "mapper_parsing_exception" in answers[0]["error"]
    assert "bad" not in index.docs and adapt(web).interaction_id in index.docs


def test_a_batch_leaves_nothing_for_the_cycle_collector():
    """Reference counting frees what a batch allocated once it is done: workers run the cycle
    collector rarely (stream_workers/app.py), so a cycle per event would pile up until it ran."""
    batch = messages(*sample_events())

    async def unreachable_after_a_batch() -> int:
        await Projector(MemoryIndex(), BASE).process(batch)  # first calls fill caches
        gc.collect()
        gc.disable()
        try:
            index = MemoryIndex()
            result = await Projector(index, BASE).process(batch)
            assert len(index.docs) > 5 and result.changes
            for state in index.docs.values():
                search_document(state.doc or {})  # what the engine is sent for each
            del result, index
            return gc.collect()
        finally:
            gc.enable()

    assert asyncio.run(unreachable_after_a_batch()) == 0


class MemoryDirectory:
    """The party directory as the projector reads it: holdings by key, and a generation that a
    directory change (here: `moves`) bumps between the projector's two reads of it."""

    def __init__(self, holdings: dict[str, list[Any]] | None = None, moves: bool = False) -> None:
        self.held = holdings or {}
        self.reads = 0
        self.moves = moves

    async def generation(self) -> int:
        self.reads += 1
        return self.reads if self.moves else 1

    async def holdings(self, keys: Iterable[str]) -> dict[str, list[Any]]:
        return {k: self.held[k] for k in keys if k in self.held}


def vendor_call(number: str) -> ChannelEvent:
    """An Amazon Connect contact record (the shape of the vendor's own) from `number`."""
    from ingest.formats import FORMATS, wrap

    record = {
        "ContactId": "c-1",
        "InstanceARN": "arn:aws:connect:eu-west-1:123456789012:instance/i-1",
        "Channel": "VOICE",
        "InitiationMethod": "INBOUND",
        "InitiationTimestamp": at(0),
        "DisconnectTimestamp": at(30),
        "LastUpdateTimestamp": at(31),
        "CustomerEndpoint": {"Address": number, "Type": "TELEPHONE_NUMBER"},
    }
    [found] = FORMATS["amazon-connect-ctr"].split(orjson.dumps(record), "application/json")
    return wrap(found, "amazon-connect-ctr", "connect", {}, at(31))


def test_an_interaction_is_linked_to_the_party_holding_its_number_as_it_is_folded():
    from storage.identity import Holding

    index = MemoryIndex()
    index.directory = MemoryDirectory({"phone:+351912345678": [Holding("ana", "phone:+351912345678", name="Ana")]})
    result = fold(index, vendor_call("+351 912 345 678"))
    [stored] = index.docs.values()
    assert stored.doc is not None
    assert [p["id"] for p in stored.doc["relatedParty"] if p["role"] == "customer"] == ["ana"]
    assert result.relinks == []  # the directory did not change meanwhile


def test_a_directory_change_during_the_fold_relinks_what_the_batch_wrote():
    """A directory change that searched for the interactions to relink before this batch wrote
    them cannot have found them: the batch relinks them itself, through the raw topic."""
    index = MemoryIndex()
    index.directory = MemoryDirectory(moves=True)
    result = fold(index, vendor_call("+351 912 345 678"))
    [interaction_id] = index.docs
    assert [(key, orjson.loads(value)["type"], orjson.loads(value)["data"]) for key, value in result.relinks] == [
        (interaction_id.encode(), "ihub.party.relink", {"interactionId": interaction_id})
    ]
    assert [adapt(ChannelEvent.from_bytes(value)).kind for _, value in result.relinks] == ["link"]


class GatedIndex(MemoryIndex):
    """A MemoryIndex whose bulk writes wait for `gate`, so a test holds a write in flight; the ids
    each state read asked for, in order; `refuse` holds for the first bulk write only."""

    def __init__(self, refuse: Iterable[str] = ()) -> None:
        super().__init__(refuse)
        self.gate = asyncio.Event()
        self.reads: list[set[str]] = []

    async def states(self, ids: Iterable[str]) -> dict[str, State]:
        self.reads.append(set(ids))
        return await super().states(ids)

    async def apply(self, ops: Sequence[IndexOp], *, refresh: bool = False) -> list[OpResult]:
        await self.gate.wait()
        results = await super().apply(ops, refresh=refresh)
        self.refuse.clear()
        return results


async def in_flight(projector: Projector, *values: ChannelEvent) -> asyncio.Task[BatchResult]:
    """Fold a batch of `values` and start its write: held at the index's gate."""
    writing = asyncio.create_task(projector.write(await projector.fold(messages(*values))))
    await asyncio.sleep(0)
    assert projector._flight is not None
    return writing


def test_a_batch_folds_onto_the_write_in_flight_of_the_same_interaction():
    """The store does not hold the interaction yet: the next batch's fold takes the state from the
    write in flight, and its own write comes after that one's."""
    create = Change.at("create", "i1", at(0), BODY, href=f"{BASE}/partyInteraction/i1")
    done = Change.at("merge", "i1", at(1), {"status": "completed"})
    index = GatedIndex()

    async def run() -> BatchResult:
        projector = Projector(index, BASE)  # type: ignore[arg-type]
        writing = await in_flight(projector, event_for(create))
        folded = await projector.fold(messages(event_for(done), first=1))
        assert "i1" not in index.docs and index.bulks == []  # folded while the first write was held
        index.gate.set()
        await writing
        return await projector.write(folded)

    result = asyncio.run(run())
    assert index.reads == [{"i1"}]  # the second batch read no state: it was in flight
    assert [(r["kind"], r["version"]) for r in records(result)] == [("update", version_at(at(1)))]
    assert [[(op.interaction_id, op.version) for op in ops] for ops, _ in index.bulks] == [
        [("i1", version_at(at(0)))],
        [("i1", version_at(at(1)))],
    ]
    final = index.docs["i1"].doc
    assert final is not None and final["status"] == "completed" and final["creationDate"] == at(0)


def test_a_change_folded_onto_a_write_the_index_refused_is_folded_again_from_the_store():
    """Never a document built on one the index refused: the later batch's change is folded again
    onto what the store holds before it is written."""
    index = GatedIndex(refuse={"i1"})
    index.docs["i1"] = State(5, {"id": "i1", "href": "h", "creationDate": at(0), **BODY})
    refused = Change.at("merge", "i1", at(1), {"description": "refused by the index"})
    done = Change.at("merge", "i1", at(2), {"status": "completed"})

    async def run() -> tuple[BatchResult, BatchResult]:
        projector = Projector(index, BASE)  # type: ignore[arg-type]
        writing = await in_flight(projector, event_for(refused))
        folded = await projector.fold(messages(event_for(done), first=1))
        index.gate.set()
        return await writing, await projector.write(folded)

    first, second = asyncio.run(run())
    assert [(r["kind"], r.get("refused")) for r in records(first)] == [("rejected", "invalid")]
    assert [(r["kind"], r["changed"]) for r in records(second)] == [("update", ["status", "statusChangeDate"])]
    assert index.reads == [{"i1"}, {"i1"}]  # the first fold's read, then the store's real state again
    [(ops, _)] = index.bulks[1:]
    assert [op.doc is not None and "description" in op.doc for op in ops] == [False]
    final = index.docs["i1"].doc
    assert final is not None and final["status"] == "completed" and "description" not in final
    assert [op.body for op in ops] == [indexed(final)]  # its index document, made again with it


def test_an_erasure_marker_waits_for_the_write_in_flight():
    """An erasure looks for what it removes in the store: it must hold every write before it."""
    from schemas.erasure import MARKER_KEY_PREFIX

    create = Change.at("create", "i1", at(0), BODY, href=f"{BASE}/partyInteraction/i1")
    seen: list[set[str]] = []

    class Watching(Projector):
        async def _erase(self, message: Message, result: BatchResult) -> None:
            seen.append(set(index.docs))  # what the store held when the marker was applied

    index = GatedIndex()

    async def run() -> None:
        projector = Watching(index, BASE)  # type: ignore[arg-type]
        writing = await in_flight(projector, event_for(create))
        marker = Message("raw", 0, 1, MARKER_KEY_PREFIX + b"e-1", b"{}")
        folding = asyncio.create_task(projector.fold([marker]))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not folding.done() and seen == []  # held until the write in flight is answered
        index.gate.set()
        await writing
        await folding

    asyncio.run(run())
    assert seen == [{"i1"}]


class RecordingProducer:
    """What `send_all` needs of AIOKafkaProducer: the topics' partitions, real batches (small
    ones: a few records each), and the batches sent, in order."""

    def __init__(self, partitions: dict[str, int]) -> None:
        self.partitions = partitions
        self.sent: list[tuple[str, int, Any]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.partitions[topic]))

    def create_batch(self) -> Any:
        from aiokafka.producer.message_accumulator import BatchBuilder

        return BatchBuilder(300, 0)

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> asyncio.Future[None]:
        self.sent.append((topic, partition, batch))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def test_batched_publishing_puts_each_key_where_the_default_partitioner_does_in_order_with_headers():
    from aiokafka.partitioner import DefaultPartitioner
    from aiokafka.record.default_records import DefaultRecordBatch

    from stream_workers.publishing import Record, send_all

    keys = [f"interaction-{n}".encode() for n in range(12)]
    sent: list[Record] = [("changes", keys[n % 12], f"change {n}".encode(), None) for n in range(120)]
    sent += [
        ("dlq", keys[n % 3], f"letter {n}".encode(), [("reason", b"bad"), ("n", str(n).encode())]) for n in range(9)
    ]
    sent += [("dlq", None, b"keyless", [("reason", b"no key")])]
    producer = RecordingProducer({"changes": 6, "dlq": 3})
    asyncio.run(send_all(producer, sent))  # type: ignore[arg-type]

    landed = []  # (topic, partition, key, value, headers) as the brokers get them, in order
    for topic, partition, batch in producer.sent:
        for record in DefaultRecordBatch(bytes(batch._build())):
            landed.append((topic, partition, record.key, record.value, list(record.headers)))
    assert sorted((t, k or b"", v) for t, _, k, v, _ in landed) == sorted((t, k or b"", v) for t, k, v, _ in sent)
    assert len({(t, p) for t, p, _ in producer.sent}) < len(producer.sent)  # several batches to a partition
    for topic, partition, key, _, _ in landed:
        if key is not None:
            partitions = list(range(producer.partitions[topic]))
            assert partition == DefaultPartitioner()(key, partitions, partitions)
    for topic in ("changes", "dlq"):
        for key in keys:
            assert [v for t, _, k, v, _ in landed if (t, k) == (topic, key)] == [
                v for t, k, v, _ in sent if (t, k) == (topic, key)
            ]
    headers = {v: h for _, _, _, v, h in landed}
    assert all(headers[v] == list(h or []) for _, _, v, h in sent)
