"""Many writers at once, and HTTP's optimistic concurrency (ETag, If-Match, If-None-Match), in both
modes: every acknowledged write is in the final state, and every refused one left nothing."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any

import httpx

from tests.conformance.test_party_interaction import CTK_BODY, MERGE, assert_tmf_error
from tests.support.server import subscribe

JSON_PATCH = {"content-type": "application/json-patch+json"}
WRITERS = 16


def create(api: httpx.Client, **extra: Any) -> tuple[dict[str, Any], str]:
    response = api.post("partyInteraction", json={**CTK_BODY, **extra})
    assert response.status_code == 201, response.text
    return response.json(), response.headers["etag"]


def at_once(server: Any, count: int, request: Callable[[httpx.Client, int], httpx.Response]) -> list[httpx.Response]:
    """`count` requests from WRITERS threads, each with a client of its own; the answers in order."""

    def one(n: int) -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            return request(client, n)

    with concurrent.futures.ThreadPoolExecutor(WRITERS) as pool:
        return list(pool.map(one, range(count)))


def add_note(text: str, etag: str | None = None) -> Callable[[httpx.Client, str], httpx.Response]:
    def send(client: httpx.Client, url: str) -> httpx.Response:
        headers = {**JSON_PATCH, **({"if-match": etag} if etag else {})}
        return client.patch(url, json=[{"op": "add", "path": "/note/-", "value": {"text": text}}], headers=headers)

    return send


def test_fifty_concurrent_json_patch_additions_are_all_kept(api, server):
    created, _ = create(api, note=[])
    url = f"partyInteraction/{created['id']}"
    answers = at_once(server, 50, lambda client, n: add_note(f"note {n}")(client, url))
    assert [a.status_code for a in answers] == [200] * 50, [a.text for a in answers if a.status_code != 200]
    for n, answer in enumerate(answers):  # each answer already holds its own note
        assert {"text": f"note {n}"} in answer.json()["note"]
    final = api.get(url).json()
    assert sorted(note["text"] for note in final["note"]) == sorted(f"note {n}" for n in range(50))
    versions = [int(a.headers["etag"].strip('"')) for a in answers]
    assert len(set(versions)) == 50  # every write made a version of its own
    assert api.get(url).headers["etag"] == f'"{max(versions)}"'


def test_concurrent_merge_patches_of_different_attributes_are_all_kept(api, server):
    created, _ = create(api, **{"@type": "SurveyPartyInteraction", "answers": {"q0": 0}})
    url = f"partyInteraction/{created['id']}"
    answers = at_once(
        server,
        30,
        lambda client, n: client.patch(url, json={f"flag{n}": n, "answers": {f"q{n + 1}": n + 1}}, headers=MERGE),
    )
    assert [a.status_code for a in answers] == [200] * 30
    final = api.get(url).json()
    assert {k: v for k, v in final.items() if k.startswith("flag")} == {f"flag{n}": n for n in range(30)}
    assert final["answers"] == {f"q{n}": n for n in range(31)}


def test_patches_racing_a_delete_leave_exactly_the_acknowledged_notes_in_the_deleted_state(
    api, server, listener, subscriptions
):
    created, _ = create(api, note=[])
    sink = listener()
    subscriptions.append(
        subscribe(api, sink.url, f"eventType=PartyInteractionDeleteEvent&event.partyInteraction.id={created['id']}")
    )
    url = f"partyInteraction/{created['id']}"

    def write(client: httpx.Client, n: int) -> httpx.Response:
        return client.delete(url) if n == 20 else add_note(f"note {n}")(client, url)

    answers = at_once(server, 40, write)
    assert answers[20].status_code == 204
    acknowledged = {f"note {n}" for n, a in enumerate(answers) if n != 20 and a.status_code == 200}
    refused = [a for n, a in enumerate(answers) if n != 20 and a.status_code != 200]
    for answer in refused:
        assert_tmf_error(answer, 404, created["id"])
    assert len(acknowledged) + len(refused) == 39
    assert api.get(url).status_code == 404
    (deleted,) = sink.wait_for(1, timeout=30)
    assert {note["text"] for note in deleted["event"]["partyInteraction"]["note"]} == acknowledged


def test_a_stale_if_match_is_refused_with_412_and_changes_nothing(api):
    created, first = create(api, status="open")
    url = f"partyInteraction/{created['id']}"
    assert api.get(url).headers["etag"] == first
    updated = api.patch(url, json={"status": "completed"}, headers={**MERGE, "if-match": first})
    assert updated.status_code == 200 and updated.json()["status"] == "completed"
    second = updated.headers["etag"]
    assert second != first and api.get(url).headers["etag"] == second

    assert_tmf_error(api.patch(url, json={"status": "open"}, headers={**MERGE, "if-match": first}), 412)
    assert_tmf_error(add_note("late", first)(api, url), 412)
    assert_tmf_error(api.delete(url, headers={"if-match": first}), 412)
    assert_tmf_error(api.delete(url, headers={"if-match": f"W/{second}"}), 412)  # If-Match compares strongly
    current = api.get(url)
    assert current.headers["etag"] == second and current.json() == updated.json()

    assert api.patch(url, json={"description": "x"}, headers={**MERGE, "if-match": f'"1", {second}'}).status_code == 200
    assert api.patch(url, json={"description": "y"}, headers={**MERGE, "if-match": "*"}).status_code == 200
    assert api.delete(url, headers={"if-match": api.get(url).headers["etag"]}).status_code == 204
    assert_tmf_error(api.patch(url, json={"description": "z"}, headers={**MERGE, "if-match": "*"}), 404)


def test_of_writers_that_all_expect_one_version_exactly_one_wins(api, server):
    created, etag = create(api, note=[])
    url = f"partyInteraction/{created['id']}"
    answers = at_once(server, 20, lambda client, n: add_note(f"note {n}", etag)(client, url))
    winners = [n for n, a in enumerate(answers) if a.status_code == 200]
    assert len(winners) == 1, [a.status_code for a in answers]
    for n, answer in enumerate(answers):
        if n not in winners:
            assert_tmf_error(answer, 412)
    assert api.get(url).json()["note"] == [{"text": f"note {winners[0]}"}]


def test_if_none_match_answers_304_without_a_body(api):
    created, etag = create(api)
    url = f"partyInteraction/{created['id']}"
    for header in (etag, f"W/{etag}", f'"1", {etag}', "*"):
        unchanged = api.get(url, headers={"if-none-match": header})
        assert (unchanged.status_code, unchanged.content, unchanged.headers["etag"]) == (304, b"", etag), header
    assert api.get(url, headers={"if-none-match": '"1"'}).status_code == 200
    projected = api.get(url, params={"fields": "reason"}, headers={"if-none-match": etag})
    assert projected.status_code == 304
    assert api.get(url, params={"fields": "reason"}).headers["etag"] == etag
    assert "etag" not in api.get("partyInteraction", params={"id": created["id"]}).headers  # lists have none
