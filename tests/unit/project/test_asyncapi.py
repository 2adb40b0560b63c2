"""docs/asyncapi.yaml, the topics' contract, parses as AsyncAPI 3.0, names exactly the code's topics,
and carries the envelope's JSON Schema as the model makes it."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import orjson
import yaml
from pydantic import TypeAdapter

from schemas.channel_event import AUDIT_TOPIC, CHANGES_TOPIC, DLQ_TOPIC, RAW_TOPIC, ChannelEvent
from schemas.dead_letter import OFFSET, PARTITION, REASON, SOURCE, TOPIC
from schemas.erasure import ERASURES_TOPIC

DOCUMENT = yaml.safe_load((Path(__file__).resolve().parents[3] / "docs" / "asyncapi.yaml").read_text())


def resolve(ref: str) -> dict:
    node = DOCUMENT
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_it_is_an_asyncapi_3_document_whose_references_all_resolve():
    assert DOCUMENT["asyncapi"] == "3.0.0" and DOCUMENT["info"]["title"] and DOCUMENT["info"]["version"]

    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = list(refs(DOCUMENT))
    assert found and all(isinstance(resolve(ref), dict) for ref in found)
    for operation in DOCUMENT["operations"].values():
        assert operation["action"] in ("send", "receive")


def test_its_topics_are_the_codes():
    addresses = {channel["address"] for channel in DOCUMENT["channels"].values()}
    assert addresses == {
        RAW_TOPIC,
        CHANGES_TOPIC,
        DLQ_TOPIC,
        AUDIT_TOPIC,
        ERASURES_TOPIC,
        "{feedTopic}",
        "{partyEventsTopic}",
    }


def test_the_relink_example_is_an_event_the_workers_apply():
    from ingest.adapters import adapt
    from schemas.relink import RELINK_TYPE

    [example] = DOCUMENT["components"]["messages"]["relink"]["examples"]
    event = ChannelEvent.model_validate(example["payload"])
    assert event.type == RELINK_TYPE
    change = adapt(event)
    assert (change.kind, change.interaction_id, change.body) == (
        "link",
        example["payload"]["data"]["interactionId"],
        {"renames": {"cust-7": "cust-42"}},
    )


def test_the_party_event_pattern_is_the_one_the_workers_read():
    from schemas.party import PARTY_EVENT

    schema = DOCUMENT["components"]["messages"]["partyEvent"]["payload"]["properties"]["eventType"]
    assert schema["pattern"] == PARTY_EVENT.pattern


def test_the_envelope_schema_is_the_models_and_every_schema_is_valid():
    assert DOCUMENT["components"]["schemas"]["ChannelEvent"] == ChannelEvent.model_json_schema()
    for message in DOCUMENT["components"]["messages"].values():
        for part in ("payload", "headers"):
            if part in message and "$ref" not in message[part]:
                jsonschema.Draft202012Validator.check_schema(message[part])


def test_the_dead_letter_headers_are_the_codes():
    headers = DOCUMENT["components"]["messages"]["deadLetter"]["headers"]
    assert set(headers["properties"]) == {REASON, SOURCE, TOPIC, PARTITION, OFFSET}


def test_the_change_and_audit_records_are_the_models():
    from schemas.audit import AuditRecord
    from schemas.change_record import Applied, Erased, Rejected, json_schema

    def keys(schema: dict) -> set[str]:
        return {name for kind in schema["$defs"].values() for name in kind["properties"]}

    payload = DOCUMENT["components"]["messages"]["changeRecord"]["payload"]
    assert set(payload["properties"]) == keys(json_schema())
    kinds: set[str] = set()
    for kind in json_schema()["$defs"].values():
        kinds.update(kind["properties"]["kind"].get("enum") or [kind["properties"]["kind"]["const"]])
    assert set(payload["properties"]["kind"]["enum"]) == kinds
    written = [
        Applied("e1", "urn:s", "t", "2024-05-01T00:00:00Z", "i", 2, "update", None, {"id": "i"}, ["status"], index="x"),
        Applied(
            "e2:i", "urn:api", "ihub.privacy.erase", "2024-05-01T00:00:00Z", "i", 3, "delete", {}, None, erasure="e2"
        ),
        Rejected("e3", "i", "not-found", "no such interaction", index="x"),
        Erased("e2.0", "e2", 0, ["i"], "2024-05-01T00:00:01Z", index="x"),
    ]
    for record in written:
        jsonschema.validate(orjson.loads(record.to_bytes()), payload)

    audit = DOCUMENT["components"]["messages"]["auditRecord"]["payload"]
    schema = TypeAdapter(AuditRecord).json_schema(by_alias=True)
    assert set(audit["properties"]) == set(schema["properties"])
    assert set(audit["required"]) == set(schema["required"]) | {"log"}
    record = AuditRecord("2024-05-01T00:00:00Z", "agent-7", "web", "POST", "/x", 201, "cust-1", location="/x/1")
    jsonschema.validate(orjson.loads(record.to_bytes()), audit)
    assert AuditRecord.from_bytes(record.to_bytes()) == record
