"""Native TMF683 v5 events through the whole pipeline: the publisher SDK onto real Kafka, a worker,
the engine, and both API versions reading the one stored form."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest

from ingest.adapters import sample_events
from tests.support.pipeline import publish, wait_until, without_links
from tests.tmf683_v5 import validate

pytestmark = pytest.mark.integration


def test_a_v5_system_publishes_creates_and_deletes_seen_through_v5_and_v4(api_and_worker, kafka_bootstrap):
    server = api_and_worker
    by_type = {e.type: e for e in sample_events()}
    interaction_id = uuid4().hex
    create = by_type["tmf683.v5.partyInteraction.create"]
    create = create.model_copy(update={"id": uuid4().hex, "data": {**create.data, "id": interaction_id}})
    publish(kafka_bootstrap, [create])
    v5 = httpx.Client(base_url=f"{server.root}/tmf-api/partyInteraction/v5/", timeout=10)
    v4 = httpx.Client(base_url=server.url, timeout=10)
    found = wait_until(lambda: v5.get(f"partyInteraction/{interaction_id}").status_code == 200, 60, "indexing")
    assert found
    resource = validate(v5.get(f"partyInteraction/{interaction_id}").json(), "PartyInteraction")
    sent = {k: v for k, v in create.data.items() if k != "id"}
    shown = without_links({k: v for k, v in resource.items() if k not in ("id", "href", "creationDate", "lastUpdate")})
    assert shown == {
        **sent,
        "statusChangeDate": resource["statusChangeDate"],
    }
    assert without_links(v4.get(f"partyInteraction/{interaction_id}").json()["channel"]) == [
        {"id": "chat", "name": "Web chat", "role": "origin"}
    ]

    # the system sends its record again, grown: it replaces the stored one
    grown = {**create.data, "status": "inProgress", "description": "called back"}
    again = create.model_copy(update={"id": uuid4().hex, "time": "2026-11-26T11:20:00Z", "data": grown})
    publish(kafka_bootstrap, [again])
    wait_until(
        lambda: v5.get(f"partyInteraction/{interaction_id}").json().get("status") == "inProgress", 60, "the update"
    )

    delete = by_type["tmf683.v5.partyInteraction.delete"]
    delete = delete.model_copy(update={"id": uuid4().hex, "data": {"id": interaction_id}})
    publish(kafka_bootstrap, [delete])
    wait_until(lambda: v4.get(f"partyInteraction/{interaction_id}").status_code == 404, 60, "the delete")
