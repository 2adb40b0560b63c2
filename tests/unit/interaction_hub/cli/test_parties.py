"""`ihub parties import FILE` on the embedded store: TMF632 Individuals and Organizations from a
JSON Lines file go into the party directory and link the interactions already stored that carry
their contact media; a bad line is named by its number and stores nothing; a second import of the
same file changes nothing."""

from __future__ import annotations

import asyncio
import copy
import uuid
from pathlib import Path

import orjson
import pytest

from schemas.party import Party
from storage.sqlite.store import SqliteStore
from tests.unit.interaction_hub.cli.test_sources import ihub, stored
from tests.vendor_samples import sample

ANA = {
    "@type": "Individual",
    "id": "C-1",
    "givenName": "Ana",
    "familyName": "Silva",
    "contactMedium": [
        {"mediumType": "mobile", "characteristic": {"phoneNumber": "+351 912 345 678"}},
        {"mediumType": "email", "characteristic": {"emailAddress": "Ana@Example.com"}},
    ],
}
ACME = {  # no @type: an Organization by its tradingName
    "id": "O-1",
    "tradingName": "Acme Lda",
    "contactMedium": [{"mediumType": "phone", "phoneNumber": "+351213456789"}],
}


def call(number: str) -> dict:
    """An Amazon Connect contact record of a call from `number`."""
    record = copy.deepcopy(orjson.loads(sample("amazon-connect/ctr-voice-inbound-case1.json")))
    record["ContactId"] = str(uuid.uuid4())
    record["CustomerEndpoint"] = {"Address": number, "Type": "TELEPHONE_NUMBER"}
    return record


def customers(doc: dict) -> list[str]:
    return [p["id"] for p in doc.get("relatedParty", []) if p.get("role") == "customer"]


def by_caller(data: Path) -> dict[str, dict]:
    return {d["customerIdentifier"][0]["id"]: d for d in stored(data)}


def directory(data: Path, *ids: str) -> dict[str, Party | None]:
    async def read() -> dict[str, Party | None]:
        store = SqliteStore(data, synchronous="NORMAL")
        try:
            return {i: await store.party(i) for i in ids}
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A store holding two calls nobody is known for yet: from Ana's mobile and Acme's line."""
    (tmp_path / "sources.toml").write_text('[sources.connect]\nformat = "amazon-connect-ctr"\n')
    asyncio.run(SqliteStore(tmp_path / "data", synchronous="NORMAL").close())
    calls = [call("+351912345678"), call("+351213456789")]
    (tmp_path / "calls.json").write_bytes(b"\n".join(orjson.dumps(c) for c in calls))
    done = ihub("ingest", "--source", "connect", "--data-dir", "data", "calls.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path


def lines(*items: object) -> bytes:
    return b"\n".join(item if isinstance(item, bytes) else orjson.dumps(item) for item in items) + b"\n"


def test_individuals_and_organisations_link_the_interactions_carrying_their_contacts(workdir: Path) -> None:
    calls = by_caller(workdir / "data")
    assert {k: d["customerResolution"]["status"] for k, d in calls.items()} == {
        "phone:+351912345678": "unresolved",
        "phone:+351213456789": "unresolved",
    }
    (workdir / "crm.ndjson").write_bytes(lines(ANA, ACME))
    done = ihub("parties", "import", "--data-dir", "data", "crm.ndjson", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "2 parties imported, 0 bad lines, 2 interactions linked again" in done.stdout
    linked = by_caller(workdir / "data")
    assert customers(linked["phone:+351912345678"]) == ["C-1"]
    assert customers(linked["phone:+351213456789"]) == ["O-1"]
    assert linked["phone:+351213456789"]["customerResolution"] == {
        "status": "linked",
        "partyId": "O-1",
        "identifier": "phone:+351213456789",
    }
    found = directory(workdir / "data", "C-1", "O-1")
    assert found["C-1"] is not None and found["C-1"].name == "Ana Silva" and found["C-1"].referredType == "Individual"
    assert found["O-1"] is not None and found["O-1"].name == "Acme Lda" and found["O-1"].referredType == "Organization"

    again = ihub("parties", "import", "--data-dir", "data", "crm.ndjson", cwd=workdir)  # changes nothing
    assert again.returncode == 0, again.stderr
    assert "2 parties imported, 0 bad lines, 0 interactions linked again" in again.stdout
    assert by_caller(workdir / "data") == linked


def test_bad_lines_are_named_by_number_and_store_nothing(workdir: Path) -> None:
    robot = {"@type": "Robot", "id": "R-1", "contactMedium": ANA["contactMedium"]}
    nameless = {"id": "N-1", "contactMedium": ANA["contactMedium"]}
    wrong_phone = {**ANA, "id": "C-2", "contactMedium": [{"mediumType": "mobile", "phoneNumber": "call me"}]}
    (workdir / "crm.ndjson").write_bytes(lines(b"{not json", robot, b"", nameless, wrong_phone, [ANA], ACME))
    done = ihub("parties", "import", "--data-dir", "data", "crm.ndjson", cwd=workdir)
    assert done.returncode == 1
    reported = [line for line in done.stderr.splitlines() if line.startswith("line ")]
    assert [line.split(":")[0] for line in reported] == ["line 1", "line 2", "line 4", "line 5", "line 6"], done.stderr
    assert "Individual or Organization expected" in reported[1] and "phoneNumber" in reported[3]
    assert "1 parties imported, 5 bad lines, 1 interactions linked again" in done.stdout
    assert set(directory(workdir / "data", "R-1", "N-1", "C-2", "C-1").values()) == {None}
    assert customers(by_caller(workdir / "data")["phone:+351912345678"]) == []


def test_a_party_merged_into_another_is_a_bad_line(workdir: Path) -> None:
    async def merge() -> None:
        store = SqliteStore(workdir / "data", synchronous="NORMAL")
        try:
            await store.put_parties([Party(id="C-1"), Party(id="C-0")], lambda old, new: [])
            await store.merge_parties("C-0", "C-1", lambda old, new: [])
        finally:
            await store.close()

    asyncio.run(merge())
    (workdir / "crm.ndjson").write_bytes(lines(ANA, ACME))
    done = ihub("parties", "import", "--data-dir", "data", "crm.ndjson", cwd=workdir)
    assert done.returncode == 1
    assert "line 1: party 'C-1' was merged into 'C-0'" in done.stderr
    assert "1 parties imported, 1 bad lines, 1 interactions linked again" in done.stdout
    linked = by_caller(workdir / "data")
    assert customers(linked["phone:+351912345678"]) == [] and customers(linked["phone:+351213456789"]) == ["O-1"]


def test_a_missing_file_or_store_is_one_line_and_exit_2(workdir: Path) -> None:
    missing = ihub("parties", "import", "--data-dir", "data", "nothing.ndjson", cwd=workdir)
    assert missing.returncode == 2 and missing.stderr.strip() == "ihub: nothing.ndjson: no such file"
    (workdir / "crm.ndjson").write_bytes(lines(ANA))
    nowhere = ihub("parties", "import", "--data-dir", "elsewhere", "crm.ndjson", cwd=workdir)
    assert nowhere.returncode == 2 and len(nowhere.stderr.strip().splitlines()) == 1
    assert "no data directory" in nowhere.stderr


def test_the_stores_subscribers_hear_of_the_interactions_an_import_links(workdir: Path) -> None:
    async def subscribe() -> None:
        store = SqliteStore(workdir / "data", synchronous="NORMAL")
        try:
            await store.add_subscription({"id": "crm-sync", "callback": "http://listener.example/events"})
        finally:
            await store.close()

    async def queued() -> list[dict]:
        store = SqliteStore(workdir / "data", synchronous="NORMAL")
        try:
            return [orjson.loads(delivery.body) for _, delivery, _ in await store.due_deliveries(float("inf"), 100)]
        finally:
            await store.close()

    asyncio.run(subscribe())
    (workdir / "crm.ndjson").write_bytes(lines(ANA))
    assert ihub("parties", "import", "--data-dir", "data", "crm.ndjson", cwd=workdir).returncode == 0
    [event] = asyncio.run(queued())  # the head of the subscriber's queue: the call now Ana's
    assert event["eventType"] == "PartyInteractionAttributeValueChangeEvent"
    assert customers(event["event"]["partyInteraction"]) == ["C-1"]
