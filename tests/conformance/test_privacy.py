"""Erasure and export over HTTP, on both stores (embedded, and full mode with Kafka and a worker)."""

from __future__ import annotations

import json
import threading
from uuid import uuid4

from tests.support.server import subscribe

PARTY_PATH = "/ihub/v1/parties/"


def interaction(party: str, n: int = 0) -> dict:
    return {
        "reason": f"call {n}",
        "direction": "inbound",
        "channel": [{"id": "voice"}],
        "description": f"private words of {party}",
        "relatedParty": [{"id": party, "role": "customer", "@referredType": "Individual", "name": "Ana"}],
    }


def create(api, party: str, n: int = 0) -> str:
    response = api.post("partyInteraction", json=interaction(party, n))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def root(api) -> str:
    return str(api.base_url).split("/tmf-api")[0]


def erase(api, party: str):
    return api.delete(root(api) + PARTY_PATH + party, timeout=180)


def listed(api, party: str) -> list[str]:
    response = api.get("partyInteraction", params={"relatedParty.id": party})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


def test_erase_removes_the_party_and_only_it_and_is_idempotent(api, listener, subscriptions):
    party, other = f"cust-{uuid4().hex[:8]}", f"cust-{uuid4().hex[:8]}"
    ids = [create(api, party, n) for n in range(4)]
    kept = [create(api, other, n) for n in range(2)]
    heard = listener()
    subscriptions.append(subscribe(api, heard.url, "eventType=PartyInteractionDeleteEvent"))

    response = erase(api, party)
    assert response.status_code == 200, response.text
    assert response.json() == {"partyId": party, "erased": 4}
    assert listed(api, party) == []
    assert all(api.get(f"partyInteraction/{i}").status_code == 404 for i in ids)
    assert sorted(listed(api, other)) == sorted(kept)
    timeline = api.get(root(api) + PARTY_PATH + party + "/timeline").json()
    assert timeline["items"] == []

    # one DeleteEvent each, with the identity only
    events = heard.wait_for(4)
    mine = [e for e in events if e["event"]["partyInteraction"]["id"] in ids]
    assert len(mine) == 4
    for event in mine:
        assert set(event["event"]["partyInteraction"]) <= {"id", "href", "relatedParty"}
        assert "private" not in json.dumps(event)

    again = erase(api, party)
    assert again.status_code == 200 and again.json() == {"partyId": party, "erased": 0}


def test_a_create_acknowledged_after_the_erasure_survives_and_one_before_is_gone(api):
    party = f"cust-{uuid4().hex[:8]}"
    before = [create(api, party, n) for n in range(3)]
    during: list[str] = []
    stop = threading.Event()

    def writer():  # concurrent creates for the same party while the erasure runs
        n = 100
        while not stop.is_set():
            during.append(create(api, party, n))
            n += 1

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        assert erase(api, party).status_code == 200
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    after = [create(api, party, n) for n in range(1000, 1003)]
    remaining = set(listed(api, party))
    assert not remaining.intersection(before)
    assert remaining.issuperset(after)
    assert remaining <= set(during) | set(after)


def test_export_streams_ndjson_of_every_interaction_of_the_party(api):
    party = f"cust-{uuid4().hex[:8]}"
    ids = sorted(create(api, party, n) for n in range(5))
    create(api, f"cust-{uuid4().hex[:8]}")
    with api.stream("GET", root(api) + PARTY_PATH + party + "/export") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        assert response.headers["content-disposition"].startswith("attachment;")
        lines = [line for line in response.iter_lines() if line]
    documents = [json.loads(line) for line in lines]
    assert sorted(d["id"] for d in documents) == ids
    assert all(d["relatedParty"][0]["id"] == party for d in documents)
    empty = api.get(root(api) + PARTY_PATH + "nobody-" + uuid4().hex + "/export")
    assert empty.status_code == 200 and empty.content == b""
