"""TMF683 operations and errors through real HTTP."""

from __future__ import annotations

import concurrent.futures
import json
from uuid import uuid4

import httpx
import pytest

from tests.support.server import CHANNEL_LINK, INDIVIDUAL_LINK, PARTY_ROLE_LINK, Server

CTK_BODY = {
    "channel": [{"id": "555"}],
    "direction": "inbounds",
    "reason": "The user wanted to buy TV and internet plan",
}
MERGE = {"content-type": "application/merge-patch+json"}


def assert_tmf_error(response: httpx.Response, status: int, *fragments: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()
    assert error["code"] == str(status) and error["status"] == str(status)
    assert isinstance(error["reason"], str) and error["reason"]
    for fragment in fragments:
        assert fragment in error["message"], error["message"]
    return error


def create(api, **extra) -> dict:
    response = api.post("partyInteraction", json={**CTK_BODY, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def test_create_sets_server_attributes(api, server):
    body = {**CTK_BODY, "status": "open", "description": "Café — über / ünïcode"}
    response = api.post("partyInteraction", json=body)
    assert response.status_code == 201
    created = response.json()
    assert created["href"] == server.url + "partyInteraction/" + created["id"]
    assert response.headers["location"] == created["href"]
    assert created["creationDate"].endswith("Z") and created["statusChangeDate"] == created["creationDate"]
    # what was sent, and the channel's link (README, "References' links")
    assert {k: created[k] for k in body} == {
        **body,
        "channel": [{"id": "555", "href": f"{server.root}{CHANNEL_LINK}555"}],
    }
    # raw text: no escaped slashes or non-ASCII (the CTK searches the body text)
    assert created["href"] in response.text and "Café — über" in response.text
    assert api.get(f"partyInteraction/{created['id']}").json() == created


def test_references_are_shown_with_links_the_writers_kept_and_none_stored(api, server):
    """Every channel and related party is shown with a link (TMF683's OpenAPI requires `href`):
    the writer's, or one the server makes from the reference's id and type when the interaction is
    shown. The store never holds those: a filter on one finds nothing."""
    marker = uuid4().hex
    writers = f"https://crm.example/parties/{marker}"
    body = {
        **CTK_BODY,
        "description": marker,
        "channel": [{"id": "voice", "name": "Phone"}, {"id": "web", "href": "https://cms.example/web"}],
        "relatedParty": [
            {"id": f"cust {marker}", "@referredType": "Individual", "role": "customer"},
            {"id": "org-7", "@referredType": "Organization", "href": writers},
            {"id": "agent-0007", "@referredType": "PartyRole", "role": "agent"},
        ],
        "interactionItem": [
            {
                "id": "1",
                "channel": [{"id": "email"}],
                "relatedParty": [{"id": "org-7", "@referredType": "Organization"}],
            }
        ],
    }
    root = server.root
    channels = [
        {"id": "voice", "href": f"{root}{CHANNEL_LINK}voice", "name": "Phone"},
        {"id": "web", "href": "https://cms.example/web"},
    ]
    parties = [
        {**body["relatedParty"][0], "href": f"{root}{INDIVIDUAL_LINK}cust%20{marker}"},
        body["relatedParty"][1],
        {**body["relatedParty"][2], "href": f"{root}{PARTY_ROLE_LINK}agent-0007"},
    ]
    item = {
        "id": "1",
        "channel": [{"id": "email", "href": f"{root}{CHANNEL_LINK}email"}],
        "relatedParty": [
            {
                "id": "org-7",
                "@referredType": "Organization",
                "href": f"{root}/tmf-api/partyManagement/v4/organization/org-7",
            }
        ],
    }
    created = create(api, **body)
    url = f"partyInteraction/{created['id']}"
    patched = api.patch(url, json={"status": "closed"}, headers=MERGE).json()
    for shown in (
        created,
        patched,
        api.get(url).json(),
        api.get(url, params={"fields": "channel,relatedParty,interactionItem"}).json(),
        *api.get("partyInteraction", params={"description": marker}).json(),
    ):
        assert (shown["channel"], shown["relatedParty"], shown["interactionItem"]) == (channels, parties, [item])
    # stored as written: the writer's link is found, the ones shown are not
    assert api.get("partyInteraction", params={"relatedParty.href": writers}).headers["x-total-count"] == "1"
    for path, link in (
        ("channel.href", channels[0]["href"]),
        ("relatedParty.href", parties[0]["href"]),
        ("interactionItem.channel.href", item["channel"][0]["href"]),
    ):
        assert api.get("partyInteraction", params={"description": marker, path: link}).json() == []


def test_ids_are_opaque_url_safe_and_unique(api):
    ids = {create(api)["id"] for _ in range(20)}
    assert len(ids) == 20
    assert all(i.isalnum() for i in ids)


def test_get_with_fields_and_unknown_id(api):
    created = create(api, status="open")
    assert api.get(f"partyInteraction/{created['id']}", params={"fields": "status"}).json() == {
        "id": created["id"],
        "href": created["href"],
        "status": "open",
    }
    assert_tmf_error(api.get("partyInteraction/does-not-exist"), 404, "does-not-exist")
    assert_tmf_error(api.get(f"partyInteraction/{created['id']}", params={"status": "open"}), 400, "fields")


def test_subclass_extension_attributes_round_trip(api):
    voice = {
        "@type": "VoicePartyInteraction",
        "@baseType": "PartyInteraction",
        "queue": "billing",
        "handling": {"talkSeconds": 312, "holdSeconds": [10, 25]},
    }
    created = create(api, **voice)
    fetched = api.get(f"partyInteraction/{created['id']}").json()
    assert {k: fetched[k] for k in voice} == voice
    found = api.get("partyInteraction", params={"handling.talkSeconds.gt": "300", "queue": "billing"}).json()
    assert created["id"] in [item["id"] for item in found]


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({"direction": "in", "channel": [{"id": "1"}]}, ["reason"]),
        ({"reason": "r", "channel": [{"id": "1"}]}, ["direction"]),
        ({"reason": "r", "direction": "in"}, ["channel"]),
        ({**CTK_BODY, "channel": [{"name": "web"}]}, ["channel.0.id"]),
        ({**CTK_BODY, "relatedParty": [{"id": "1"}]}, ["@referredType"]),
        ({**CTK_BODY, "reason": 7}, ["reason"]),
        ({**CTK_BODY, "interactionDate": {"startDateTime": "soon"}}, ["interactionDate.startDateTime"]),
        ({**CTK_BODY, "colour": "red"}, ["colour"]),
        ({**CTK_BODY, "id": "mine"}, ["id"]),
        ({**CTK_BODY, "href": "http://x"}, ["href"]),
        ([CTK_BODY], ["object"]),
    ],
)
def test_invalid_bodies_get_400_and_store_nothing(api, body, fragments):
    before = api.get("partyInteraction", params={"limit": 0}).headers["x-total-count"]
    assert_tmf_error(api.post("partyInteraction", json=body), 400, *fragments)
    assert api.get("partyInteraction", params={"limit": 0}).headers["x-total-count"] == before


def test_validation_messages_read_as_the_projects_own(api):
    date = "must be an ISO 8601 date-time such as 2026-01-31T09:30:00Z"
    created = api.post("partyInteraction", json={**CTK_BODY, "interactionDate": {"startDateTime": "soon"}})
    assert assert_tmf_error(created, 400)["message"] == f"interactionDate.startDateTime: {date}"
    patched = api.patch(
        f"partyInteraction/{create(api)['id']}",
        json={"statusChangeDate": "later"},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert assert_tmf_error(patched, 400)["message"] == f"statusChangeDate: {date}"


def test_transport_errors(api, server):
    assert_tmf_error(
        api.post("partyInteraction", content=b"{not json", headers={"content-type": "application/json"}),
        400,
        "malformed",
    )
    assert_tmf_error(
        api.post("partyInteraction", content=b"", headers={"content-type": "application/json"}), 400, "empty"
    )
    assert_tmf_error(api.post("partyInteraction", content=b"reason=x", headers={"content-type": "text/plain"}), 415)
    assert_tmf_error(api.post("partyInteraction", content=json.dumps(CTK_BODY)), 415)  # no content type
    big = {**CTK_BODY, "description": "x" * (1024 * 1024 + 1)}
    assert_tmf_error(api.post("partyInteraction", json=big), 413)
    assert_tmf_error(api.put("partyInteraction"), 405, "PUT")
    assert_tmf_error(api.request("PUT", "partyInteraction/x"), 405)
    assert_tmf_error(api.get("nothingHere"), 404)


def test_get_ignores_a_body_as_the_ctk_sends_one(api):
    response = api.request("GET", "partyInteraction", params={"limit": 1}, json=CTK_BODY)
    assert response.status_code == 200


def test_merge_patch_updates_and_sets_status_change_date(api):
    created = create(api, status="open", description="before")
    for content_type in ("application/merge-patch+json", "application/json"):
        response = api.patch(
            f"partyInteraction/{created['id']}",
            content=json.dumps({"description": None, "note": [{"text": content_type}]}),
            headers={"content-type": content_type},
        )
        assert response.status_code == 200, response.text
        patched = response.json()
        assert "description" not in patched and patched["note"] == [{"text": content_type}]
    patched = api.patch(f"partyInteraction/{created['id']}", json={"status": "completed"}, headers=MERGE).json()
    assert patched["status"] == "completed" and patched["statusChangeDate"] > created["statusChangeDate"]
    assert patched["creationDate"] == created["creationDate"]
    assert api.get(f"partyInteraction/{created['id']}").json() == patched


def test_json_patch(api):
    created = create(api, relatedParty=[{"id": "c1", "@referredType": "Individual"}])
    ops = [
        {"op": "add", "path": "/relatedParty/-", "value": {"id": "a9", "@referredType": "PartyRole", "role": "agent"}},
        {"op": "replace", "path": "/reason", "value": "Changed"},
    ]
    response = api.patch(
        f"partyInteraction/{created['id']}", json=ops, headers={"content-type": "application/json-patch+json"}
    )
    assert response.status_code == 200, response.text
    assert [p["id"] for p in response.json()["relatedParty"]] == ["c1", "a9"]
    bad = [{"op": "remove", "path": "/nothing/here"}]
    assert_tmf_error(
        api.patch(
            f"partyInteraction/{created['id']}", json=bad, headers={"content-type": "application/json-patch+json"}
        ),
        400,
    )


@pytest.mark.parametrize(
    ("patch", "content_type", "fragments"),
    [
        ({"direction": "outbound"}, "application/merge-patch+json", ["direction"]),
        ({"id": "other"}, "application/merge-patch+json", ["id"]),
        ({"href": "http://x"}, "application/json", ["href"]),
        ([{"op": "replace", "path": "/direction", "value": "x"}], "application/json-patch+json", ["direction"]),
        ({"reason": None}, "application/merge-patch+json", ["reason"]),
        ({"channel": []}, "application/merge-patch+json", ["channel"]),
        ({"status": 3}, "application/merge-patch+json", ["status"]),
        ([1, 2], "application/merge-patch+json", ["object"]),
        ({"op": "add"}, "application/json-patch+json", ["array"]),
    ],
)
def test_bad_patches_change_nothing(api, patch, content_type, fragments):
    created = create(api, status="open")
    response = api.patch(
        f"partyInteraction/{created['id']}", content=json.dumps(patch), headers={"content-type": content_type}
    )
    assert_tmf_error(response, 400, *fragments)
    assert api.get(f"partyInteraction/{created['id']}").json() == created


def test_patch_and_delete_errors(api):
    assert_tmf_error(api.patch("partyInteraction/nope", json={"status": "x"}, headers=MERGE), 404)
    created = create(api)
    assert_tmf_error(
        api.patch(f"partyInteraction/{created['id']}", content=b"status=x", headers={"content-type": "text/plain"}), 415
    )
    assert api.delete(f"partyInteraction/{created['id']}").status_code == 204
    assert_tmf_error(api.get(f"partyInteraction/{created['id']}"), 404)
    assert_tmf_error(api.delete(f"partyInteraction/{created['id']}"), 404)


def test_concurrent_writes_are_all_kept(api, server):
    marker = uuid4().hex

    def post(n):
        with httpx.Client(base_url=server.url) as client:
            return client.post(
                "partyInteraction", json={**CTK_BODY, "description": marker, "note": [{"id": str(n)}]}
            ).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert set(pool.map(post, range(60))) == {201}
    found = api.get("partyInteraction", params={"description": marker})
    assert found.headers["x-total-count"] == "60"
    assert sorted(int(item["note"][0]["id"]) for item in found.json()) == list(range(60))


def test_data_survives_a_restart(tmp_path):
    first = Server(tmp_path).start()
    try:
        created = httpx.post(first.url + "partyInteraction", json=CTK_BODY).json()
    finally:
        first.stop()
    second = Server(tmp_path, first.env)  # the same settings, on the same port
    second.port, second.url = first.port, first.url
    second.start()
    try:
        assert httpx.get(first.url + f"partyInteraction/{created['id']}").json() == created
    finally:
        second.stop()


def test_openapi_describes_the_real_shapes(api, server):
    spec = httpx.get(f"http://127.0.0.1:{server.port}/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {
        "PartyInteraction",
        "PartyInteractionCreate",
        "PartyInteractionUpdate",
        "Error",
        "EventSubscription",
    } <= set(schemas)
    assert set(schemas["PartyInteractionCreate"]["required"]) == {"direction", "reason", "channel"}
    post = spec["paths"]["/tmf-api/partyInteraction/v4/partyInteraction"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/PartyInteractionCreate")
    patch = spec["paths"]["/tmf-api/partyInteraction/v4/partyInteraction/{id}"]["patch"]
    assert "application/merge-patch+json" in patch["requestBody"]["content"]
    assert httpx.get(f"http://127.0.0.1:{server.port}/docs").status_code == 200
