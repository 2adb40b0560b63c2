"""Writes built to exhaust the server are refused quickly and change nothing, in both modes."""

from __future__ import annotations

import time

from tests.conformance.test_party_interaction import CTK_BODY, assert_tmf_error

JSON_PATCH = {"content-type": "application/json-patch+json"}


def test_a_small_json_patch_that_doubles_an_array_is_refused_quickly(api):
    created = api.post("partyInteraction", json={**CTK_BODY, "note": [{"text": "x" * 20}]})
    url = f"partyInteraction/{created.json()['id']}"
    before = api.get(url)
    # 1.2 KB that would build 2**22 copies of the note array (gigabytes) if applied unbounded
    ops = [{"op": "copy", "from": "/note", "path": "/note/-"} for _ in range(22)]
    started = time.perf_counter()
    answer = api.patch(url, json=ops, headers=JSON_PATCH)
    elapsed = time.perf_counter() - started
    assert_tmf_error(answer, 400, "would be larger than")
    assert elapsed < 5, elapsed
    after = api.get(url)
    assert (after.headers["etag"], after.content) == (before.headers["etag"], before.content)


def test_removing_creation_date_is_refused_and_changes_nothing(api):
    created = api.post("partyInteraction", json=CTK_BODY)
    url = f"partyInteraction/{created.json()['id']}"
    for attempt in (
        api.patch(url, json={"creationDate": None}, headers={"content-type": "application/merge-patch+json"}),
        api.patch(url, json=[{"op": "remove", "path": "/creationDate"}], headers=JSON_PATCH),
        api.patch(url, json=[{"op": "replace", "path": "/creationDate", "value": None}], headers=JSON_PATCH),
    ):
        assert_tmf_error(attempt, 400, "creationDate")
    assert api.get(url).json() == created.json()


def test_a_forged_host_header_never_reaches_a_stored_href(api, server):
    created = api.post("partyInteraction", json=CTK_BODY, headers={"host": "evil.example"})
    assert created.status_code == 201
    href = server.url + "partyInteraction/" + created.json()["id"]
    assert created.json()["href"] == href and created.headers["location"] == href
    assert api.get(f"partyInteraction/{created.json()['id']}").json()["href"] == href


def test_arrays_are_bounded_and_a_longer_one_is_a_400_naming_it(api):
    parties = [{"id": f"p{n}", "@referredType": "Individual", "role": "customer"} for n in range(101)]
    assert_tmf_error(
        api.post("partyInteraction", json={**CTK_BODY, "relatedParty": parties}), 400, "relatedParty", "at most 100"
    )
    created = api.post("partyInteraction", json={**CTK_BODY, "relatedParty": parties[:100]})
    assert created.status_code == 201, created.text
    url = f"partyInteraction/{created.json()['id']}"
    more = {"op": "add", "path": "/relatedParty/-", "value": parties[100]}
    assert_tmf_error(api.patch(url, json=[more], headers=JSON_PATCH), 400, "relatedParty", "at most 100")
