"""The interaction indices' lifecycle in full mode, on a real engine with a real worker and API:
interactions land in the index of the month they started in; retention drops a month that lies
wholly past it and deletes one by one in the month that straddles it; a late change to an old
interaction lands in that old month's index, never in a copy; an erasure reaches every month; and
`ihub reindex` moves every month to a new generation with nothing lost."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from uuid import uuid4

import httpx
import pytest

from ingest.adapters import adapt, sample_events
from storage.search.documents import MAPPINGS, SETTINGS
from tests.integration.test_pipeline import marked
from tests.support.pipeline import count, publish, wait_until
from tests.support.server import IHUB, Server
from tests.support.services import engine_http

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
THIS_MONTH = NOW.strftime("%Y.%m")


def at(day: str) -> str:
    return f"{day}T10:00:00Z"


def interaction(party: str, start: str, end: str | None = None) -> dict:
    period = {"startDateTime": start, **({"endDateTime": end} if end else {})}
    return {
        "reason": "billing",
        "direction": "inbound",
        "channel": [{"id": "voice", "name": "voice"}],
        "interactionDate": period,
        "relatedParty": [{"id": party, "role": "customer", "@referredType": "Individual"}],
    }


def behind(search_url: str, alias: str) -> dict[str, dict]:
    """{index: its aliases} of every index behind the alias."""
    answer = httpx.get(f"{search_url}/{alias}/_alias", **engine_http())  # each with all its aliases
    assert answer.status_code == 200, answer.text
    return {index: info["aliases"] for index, info in answer.json().items()}


def ids_in(search_url: str, index: str, among: dict[str, str]) -> set[str]:
    """Which of this test's interactions `index` holds (others' may be there too after a reindex)."""
    httpx.post(f"{search_url}/{index}/_refresh", **engine_http())
    query = {"size": 100, "_source": False, "query": {"ids": {"values": list(among.values())}}}
    answer = httpx.post(f"{search_url}/{index}/_search", json=query, **engine_http())
    assert answer.status_code == 200, answer.text
    return {hit["_id"] for hit in answer.json()["hits"]["hits"]}


def ihub(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([IHUB, *args], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout + done.stderr


def test_months_retention_late_changes_erasure_and_reindex(api_and_worker, search_url):
    server = api_and_worker
    alias = server.env["IHUB_INDEX_ALIAS"]
    api = httpx.Client(base_url=server.url, timeout=30)

    def create(body: dict) -> str:
        answer = api.post("partyInteraction", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    made = {
        "january": create(interaction("ana", at("2023-01-10"), at("2023-01-10"))),
        "early february": create(interaction("ana", at("2023-02-02"), at("2023-02-02"))),
        "late february": create(interaction("ana", at("2023-02-25"))),
        "march": create(interaction("ana", at("2023-03-05"))),
        "bob in march": create(interaction("bob", at("2023-03-06"))),
        "now": create(interaction("ana", NOW.strftime("%Y-%m-%dT%H:%M:%SZ"))),
    }
    months = {f"{alias}.{key}-v1" for key in ("2023.01", "2023.02", "2023.03", THIS_MONTH)}
    assert months <= set(behind(search_url, alias))
    assert ids_in(search_url, f"{alias}.2023.02-v1", made) == {made["early february"], made["late february"]}
    for index, aliases in behind(search_url, alias).items():
        key = index[len(alias) + 1 : index.rindex("-v")]
        assert aliases.keys() == {alias, f"{alias}.{key}"}

    # retention at the middle of February 2023: January goes whole, February one by one
    days = (NOW - datetime(2023, 2, 15, tzinfo=UTC)).days
    ihub(server.env, "retention", "--days", str(days))
    assert f"{alias}.2023.01-v1" not in behind(search_url, alias)
    assert ids_in(search_url, f"{alias}.2023.02-v1", made) == {made["late february"]}
    for gone in ("january", "early february"):
        assert api.get(f"partyInteraction/{made[gone]}").status_code == 404
    assert api.get(f"partyInteraction/{made['march']}").status_code == 200

    # a late change to March 2023, even one that moves its start to now, stays in March's index
    moved = {"interactionDate": {"startDateTime": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")}, "description": "late"}
    answer = api.patch(
        f"partyInteraction/{made['march']}", json=moved, headers={"Content-Type": "application/merge-patch+json"}
    )
    assert answer.status_code == 200, answer.text
    assert api.get(f"partyInteraction/{made['march']}").json()["description"] == "late"
    assert made["march"] in ids_in(search_url, f"{alias}.2023.03-v1", made)
    assert made["march"] not in ids_in(search_url, f"{alias}.{THIS_MONTH}-v1", made)

    # erasing ana reaches February, March and this month
    answer = httpx.delete(f"{server.root}/ihub/v1/parties/ana", timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["erased"] == 3
    for name in ("late february", "march", "now"):
        assert api.get(f"partyInteraction/{made[name]}").status_code == 404
    assert ids_in(search_url, alias, made) == {made["bob in march"]}

    # reindex (of the whole raw topic, which other tests share): every month in a new generation
    # behind both aliases; of this test's interactions, the same found, none brought back
    ihub(server.env, "reindex")
    after = behind(search_url, alias)
    assert after and all(index.endswith("-v2") for index in after)
    assert f"{alias}.2023.01-v2" not in after  # a dropped month stays dropped
    for name, interaction_id in made.items():
        assert api.get(f"partyInteraction/{interaction_id}").status_code == (200 if name == "bob in march" else 404)
    # the worker writes through the month's alias, so a new change lands in the new generation
    answer = api.patch(
        f"partyInteraction/{made['bob in march']}",
        json={"description": "after the reindex"},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert answer.status_code == 200, answer.text
    assert made["bob in march"] in ids_in(search_url, f"{alias}.2023.03-v2", made)
    assert api.get(f"partyInteraction/{made['bob in march']}").json()["description"] == "after the reindex"


def test_a_deployment_kept_in_one_index_is_rebuilt_into_months_and_its_worker_waits_for_that(
    isolated, search_url, kafka_bootstrap, tmp_path
):
    env, worker = isolated
    alias = env["IHUB_INDEX_ALIAS"]
    # what an earlier version made: every interaction in one index, behind the alias
    legacy = f"{alias}-v1"
    made = httpx.put(
        f"{search_url}/{legacy}",
        json={"mappings": MAPPINGS, "settings": SETTINGS, "aliases": {alias: {"is_write_index": True}}},
        **engine_http(),
    )
    assert made.status_code == 200, made.text
    tag = uuid4().hex[:8]
    events = [marked(e, tag) for e in sample_events() if not e.type.startswith("tmf683.")]
    publish(kafka_bootstrap, events)
    ids = sorted({adapt(e).interaction_id for e in events})
    ours = {"ids": {"values": ids}}

    worker()
    log = tmp_path / "worker.log"
    wait_until(lambda: log.exists() and "waits for `ihub reindex`" in log.read_text(), 60, "the worker to wait")
    time.sleep(2)
    assert count(search_url, alias, ours) == 0  # nothing folded onto interactions it could not read by id

    ihub(env, "reindex")
    after = behind(search_url, alias)
    assert legacy not in after and after and all(index.endswith("-v2") for index in after)
    assert count(search_url, alias, ours) == len(ids)  # rebuilt from the log

    # the worker goes on, into the months
    wait_until(lambda: "this worker starts" in log.read_text(), 60, "the worker to start")
    later = marked(events[0], f"{tag}-later")
    publish(kafka_bootstrap, [later])
    later_id = adapt(later).interaction_id
    wait_until(lambda: count(search_url, alias, {"ids": {"values": [later_id]}}) == 1, 90, "the later event")
    server = Server(tmp_path / "unused", env)
    server.start()
    try:
        api = httpx.Client(base_url=server.url, timeout=30)
        for interaction_id in [*ids, later_id]:
            assert api.get(f"partyInteraction/{interaction_id}").status_code == 200
    finally:
        server.stop()
