"""TMF683 v5.0.0 through real HTTP, on each store (the session's `server`: embedded, and full mode
with Kafka, a worker and the search engine): every v5 operation, every response body validated
against TM Forum's v5 OpenAPI schemas (tests/tmf683_v5.py), and the same interactions through v4.

TM Forum publishes no v5 conformance kit outside its members' portal; this is ours, from the spec.
The counts of a run (operations driven, bodies validated per schema) go to artifacts/v5-suite-<store>.json.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import time
from collections import Counter
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from tests.support.server import CHANNEL_LINK, INDIVIDUAL_LINK, PARTY_ROLE_LINK, subscribe
from tests.tmf683_v5 import VALIDATED, operations, validate, validate_list

V5_PATH = "/tmf-api/partyInteraction/v5"
MERGE = {"content-type": "application/merge-patch+json"}
JSON_PATCH = {"content-type": "application/json-patch+json"}
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

# (store, method, spec path) of every request the suite made, and its tests' count
DRIVEN: set[tuple[str, str, str]] = set()
_ID_SEGMENT = re.compile(r"^(/(?:partyInteraction|hub))/[^/]+$")


@pytest.fixture(scope="module")
def v5(server):
    store = server.env["IHUB_STORE"]

    def record(response: httpx.Response) -> None:
        path = response.request.url.path.removeprefix(V5_PATH)
        DRIVEN.add((store, response.request.method, _ID_SEGMENT.sub(r"\1/{id}", path)))

    VALIDATED.clear()  # the counts of this store's run
    with httpx.Client(base_url=f"{server.root}{V5_PATH}/", timeout=30, event_hooks={"response": [record]}) as client:
        yield client
    ARTIFACTS.mkdir(exist_ok=True)
    report = {
        "store": store,
        "operations": sorted(f"{m} {p}" for s, m, p in DRIVEN if s == store),
        "validated": dict(sorted(VALIDATED.items())),
        "validations": sum(VALIDATED.values()),
    }
    (ARTIFACTS / f"v5-suite-{store}.json").write_text(json.dumps(report, indent=2))


def v5_body(marker: str, links: str | None = None, **extra) -> dict:
    """A create body as a v5 client writes it (PartyInteraction_FVO); `links`: a server's root, to
    get the body as that server shows it, its channel and party linked."""
    channel, party = f"voice-{marker}", f"cust-{marker}"
    linked = links is not None
    return {
        "@type": "PartyInteraction",
        "reason": f"Bill higher than expected {marker}",
        "direction": "inbound",
        "status": "open",
        "interactionDate": {"startDateTime": "2026-11-20T09:30:00Z", "endDateTime": "2026-11-20T09:41:12Z"},
        "relatedChannel": [
            {
                "@type": "RelatedChannel",
                "role": "origin",
                "channel": {
                    "@type": "ChannelRef",
                    "id": channel,
                    "name": "Contact centre",
                    **({"href": f"{links}{CHANNEL_LINK}{channel}"} if linked else {}),
                },
            }
        ],
        "relatedParty": [
            {
                "@type": "RelatedPartyOrPartyRole",
                "role": "customer",
                "partyOrPartyRole": {
                    "@type": "PartyRef",
                    "id": party,
                    "@referredType": "Individual",
                    **({"href": f"{links}{INDIVIDUAL_LINK}{party}"} if linked else {}),
                },
            }
        ],
        "note": [{"@type": "Note", "text": "Credit note promised", "date": "2026-11-20T09:41:00Z"}],
        **extra,
    }


def error(response: httpx.Response, status: int, fragment: str = "") -> dict:
    assert response.status_code == status, response.text
    body = validate(response.json(), "Error")
    assert body["code"] == str(status) and fragment in body["message"], body
    return body


def created(v5, body: dict) -> dict:
    response = v5.post("partyInteraction", json=body)
    assert response.status_code == 201, response.text
    return validate(response.json(), "PartyInteraction")


@pytest.fixture
def marker() -> str:
    return uuid4().hex[:10]


def test_create_answers_the_v5_resource(v5, server, marker):
    response = v5.post("partyInteraction", json=v5_body(marker))
    assert response.status_code == 201, response.text
    resource = validate(response.json(), "PartyInteraction")
    assert resource["href"] == f"{server.root}{V5_PATH}/partyInteraction/{resource['id']}"
    assert response.headers["location"] == resource["href"] and response.headers["etag"]
    assert resource["@type"] == "PartyInteraction" and resource["creationDate"] and resource["lastUpdate"]
    assert resource["statusChangeDate"] == resource["creationDate"]
    # the references as written, and the links the server adds
    assert resource["relatedChannel"] == v5_body(marker, links=server.root)["relatedChannel"]
    assert resource["relatedParty"] == v5_body(marker, links=server.root)["relatedParty"]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"@type": None}, "'@type' is required"),
        ({"relatedChannel": None}, "required: relatedChannel"),
        ({"relatedChannel": [{"@type": "RelatedChannel", "role": "o"}]}, "relatedChannel[0]"),
        ({"note": [{"text": "no type"}]}, "note[0]: '@type' is required"),
        (
            {
                "relatedParty": [
                    {"@type": "RelatedPartyOrPartyRole", "partyOrPartyRole": {"@type": "PartyRef", "id": "1"}}
                ]
            },
            "role",
        ),
        ({"id": "mine"}, "set by the server"),
        ({"creationDate": "2026-01-01T00:00:00Z"}, "set by the server"),
        ({"interactionDate": {"startDateTime": "yesterday"}}, "ISO 8601"),
        ({"unknownThing": 1}, "unknown attribute"),
        # TM Forum's v5 schemas (schemas/tmf683_v5.schema.json), the attribute named
        ({"reason": 5}, "reason: must be a string"),
        (
            {
                "relatedParty": [
                    {
                        "@type": "RelatedPartyOrPartyRole",
                        "role": "c",
                        "partyOrPartyRole": {"@type": "Nobody", "id": "1"},
                    }
                ]
            },
            "relatedParty[0].partyOrPartyRole: '@type' must be one of",
        ),
    ],
)
def test_create_refuses_what_v5_or_the_store_does_not_allow(v5, marker, change, fragment):
    body = {key: value for key, value in {**v5_body(marker), **change}.items() if value is not None}
    error(v5.post("partyInteraction", json=body), 400, fragment)


def test_create_refuses_other_media_types(v5, marker):
    error(v5.post("partyInteraction", content=b"x", headers={"content-type": "text/plain"}), 415)


def test_retrieve_fields_etag_and_not_found(v5, marker):
    resource = created(v5, v5_body(marker))
    got = v5.get(f"partyInteraction/{resource['id']}")
    assert got.status_code == 200 and validate(got.json(), "PartyInteraction") == resource
    projected = validate(
        v5.get(f"partyInteraction/{resource['id']}", params={"fields": "status"}).json(), "PartyInteraction"
    )
    assert projected == {"id": resource["id"], "href": resource["href"], "@type": "PartyInteraction", "status": "open"}
    unchanged = v5.get(f"partyInteraction/{resource['id']}", headers={"if-none-match": got.headers["etag"]})
    assert unchanged.status_code == 304
    error(v5.get("partyInteraction/no-such-interaction"), 404, "no-such-interaction")
    error(v5.get(f"partyInteraction/{resource['id']}", params={"status": "open"}), 400, "only 'fields'")


def test_list_keeps_the_tmf630_contract_on_v5_paths(v5, server, marker):
    ids = []
    for index, start in enumerate(["2026-01-05T10:00:00Z", "2026-02-05T10:00:00Z", "2026-03-05T10:00:00Z"]):
        body = v5_body(marker, interactionDate={"startDateTime": start}, status=["open", "open", "completed"][index])
        if index == 2:  # another channel and party
            body["relatedChannel"][0]["channel"]["id"] = f"web-{marker}"
            body["relatedParty"][0]["partyOrPartyRole"]["id"] = f"other-{marker}"
        ids.append(created(v5, body)["id"])

    def listed(**params) -> httpx.Response:
        response = v5.get("partyInteraction", params=params)
        assert response.status_code == 200, response.text
        validate_list(response.json())
        return response

    voice = listed(**{"relatedChannel.channel.id": f"voice-{marker}"})
    assert [i["id"] for i in voice.json()] == ids[:2]
    assert voice.headers["x-total-count"] == "2" and voice.headers["x-result-count"] == "2"
    party = listed(
        **{
            "relatedParty.partyOrPartyRole.id": f"other-{marker},cust-{marker}",
            "sort": "-interactionDate.startDateTime",
        }
    )
    assert [i["id"] for i in party.json()] == ids[::-1]
    later = listed(
        **{
            "relatedChannel.channel.id.regex": f"^(voice|web)-{marker}$",
            "interactionDate.startDateTime.gte": "2026-02-01T00:00:00Z",
        }
    )
    assert [i["id"] for i in later.json()] == ids[1:]
    not_open = listed(**{"relatedParty.partyOrPartyRole.id.regex": marker, "status.ne": "open"})
    assert [i["id"] for i in not_open.json()] == ids[2:]
    page = listed(
        **{"reason": f"Bill higher than expected {marker}", "offset": "1", "limit": "1", "fields": "relatedChannel"}
    )
    assert page.status_code == 200 and page.headers["x-total-count"] == "3" and page.headers["x-result-count"] == "1"
    assert page.json() == [
        {
            "id": ids[1],
            "href": page.json()[0]["href"],
            "@type": "PartyInteraction",
            "relatedChannel": v5_body(marker, links=server.root)["relatedChannel"],
        }
    ]
    assert 'rel="next"' in page.headers["link"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"lastUpdate.gt": "2026-01-01T00:00:00Z"}, "lastUpdate"),
        ({"sort": "lastUpdate"}, "lastUpdate"),
        ({"relatedChannel.@type": "RelatedChannel"}, "@type"),
        ({"limit": "-1"}, "limit"),
        ({"status.like": "open"}, "not supported"),
    ],
)
def test_list_refuses_what_it_cannot_answer_exactly(v5, params, fragment):
    error(v5.get("partyInteraction", params=params), 400, fragment)


def test_merge_patch_with_each_media_type(v5, server, marker):
    resource = created(v5, v5_body(marker))
    url = f"partyInteraction/{resource['id']}"
    resource_etag = v5.get(url).headers["etag"]
    time.sleep(0.002)  # lastUpdate has millisecond precision
    patched = v5.patch(
        url, json={"@type": "PartyInteraction", "status": "completed", "description": "done"}, headers=MERGE
    )
    assert patched.status_code == 200, patched.text
    after = validate(patched.json(), "PartyInteraction")
    assert after["status"] == "completed" and after["description"] == "done"
    assert after["statusChangeDate"] != resource["statusChangeDate"] and after["lastUpdate"] > resource["lastUpdate"]
    assert patched.headers["etag"] == v5.get(url).headers["etag"] != resource_etag
    plain = v5.patch(
        url,
        json={
            "description": None,
            "relatedChannel": [
                {
                    "@type": "RelatedChannel",
                    "role": "handover",
                    "channel": {"@type": "ChannelRef", "id": f"chat-{marker}"},
                }
            ],
        },
    )
    assert plain.status_code == 200, plain.text
    after = validate(plain.json(), "PartyInteraction")
    assert "description" not in after and after["relatedChannel"][0]["channel"] == {
        "@type": "ChannelRef",
        "id": f"chat-{marker}",
        "href": f"{server.root}{CHANNEL_LINK}chat-{marker}",
    }
    assert validate(v5.get(url).json(), "PartyInteraction") == after


def test_json_patch(v5, marker):
    resource = created(v5, v5_body(marker))
    url = f"partyInteraction/{resource['id']}"
    ops = [
        {"op": "add", "path": "/note/-", "value": {"@type": "Note", "text": "Called back"}},
        {"op": "replace", "path": "/relatedChannel/0/channel/name", "value": "IVR"},
        {
            "op": "add",
            "path": "/externalIdentifier",
            "value": [{"@type": "ExternalIdentifier", "id": "CRM-7", "owner": "crm"}],
        },
    ]
    patched = v5.patch(url, json=ops, headers=JSON_PATCH)
    assert patched.status_code == 200, patched.text
    after = validate(patched.json(), "PartyInteraction")
    assert [n["text"] for n in after["note"]] == ["Credit note promised", "Called back"]
    assert after["relatedChannel"][0]["channel"]["name"] == "IVR"
    assert after["externalIdentifier"] == [{"@type": "ExternalIdentifier", "id": "CRM-7", "owner": "crm"}]
    error(
        v5.patch(url, json=[{"op": "test", "path": "/status", "value": "nope"}], headers=JSON_PATCH), 400, "JSON Patch"
    )


@pytest.mark.parametrize(
    ("patch", "headers", "status", "fragment"),
    [
        ({"direction": "outbound"}, MERGE, 400, "not patchable: direction"),
        ({"id": "other"}, MERGE, 400, "not patchable"),
        ({"creationDate": "2026-01-01T00:00:00Z"}, MERGE, 400, "not patchable: creationDate"),
        ({"@type": None}, MERGE, 400, "'@type' is required"),
        ({"note": [{"text": "untyped"}]}, MERGE, 400, "note[0]: '@type' is required"),
        (
            {"relatedChannel": [{"@type": "RelatedChannel", "channel": {"@type": "ChannelRef"}}]},
            MERGE,
            400,
            "required: id",
        ),
        ({"relatedChannel": []}, MERGE, 400, "relatedChannel: at least one is required"),
        (
            {"relatedChannel": [{"@type": "RelatedChannel", "channel": {"@type": "PartyRef", "id": "web"}}]},
            MERGE,
            400,
            "'@type' must be ChannelRef",
        ),
        ([{"op": "remove", "path": "/@type"}], JSON_PATCH, 400, "'@type' is required"),
        (
            [{"op": "add", "path": "/statusChangeDate", "value": "2026-01-01T00:00:00Z"}],
            JSON_PATCH,
            400,
            "not patchable",
        ),
        ({"status": "x"}, {"content-type": "application/json-patch-query+json"}, 415, "json-patch-query"),
        ({"status": "x"}, {"content-type": "text/plain"}, 415, "Content-Type"),
    ],
)
def test_patch_refusals_change_nothing(v5, marker, patch, headers, status, fragment):
    resource = created(v5, v5_body(marker))
    url = f"partyInteraction/{resource['id']}"
    error(v5.patch(url, content=json.dumps(patch), headers=headers), status, fragment)
    assert validate(v5.get(url).json(), "PartyInteraction") == resource


def test_if_match_and_unknown_ids(v5, marker):
    resource = created(v5, v5_body(marker))
    url = f"partyInteraction/{resource['id']}"
    etag = v5.get(url).headers["etag"]
    ok = v5.patch(url, json={"status": "inProgress"}, headers={**MERGE, "if-match": etag})
    assert ok.status_code == 200, ok.text
    error(v5.patch(url, json={"status": "completed"}, headers={**MERGE, "if-match": etag}), 412, "has changed")
    error(v5.delete(url, headers={"if-match": etag}), 412)
    error(v5.patch("partyInteraction/not-there", json={"status": "x"}, headers=MERGE), 404)
    error(v5.delete("partyInteraction/not-there"), 404)


def test_concurrent_patches_all_apply_each_to_the_latest_state(v5, marker):
    resource = created(v5, v5_body(marker))
    url = f"partyInteraction/{resource['id']}"

    def add_note(n: int) -> int:
        op = [{"op": "add", "path": "/note/-", "value": {"@type": "Note", "text": f"note {n}"}}]
        return v5.patch(url, json=op, headers=JSON_PATCH).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(add_note, range(16)))
    assert statuses == [200] * 16
    notes = validate(v5.get(url).json(), "PartyInteraction")["note"]
    assert sorted(n["text"] for n in notes[1:]) == sorted(f"note {n}" for n in range(16))


def test_delete(v5, marker):
    resource = created(v5, v5_body(marker))
    url = f"partyInteraction/{resource['id']}"
    deleted = v5.delete(url)
    assert deleted.status_code == 204 and not deleted.content
    error(v5.get(url), 404)


# -- the same interactions through both versions ----------------------------------------------


def test_written_in_v4_read_and_patched_in_v5_read_in_v4_deleted_in_v5(api, v5, server, marker):
    v4_body = {
        "reason": f"Porting {marker}",
        "direction": "inbound",
        "status": "open",
        "channel": [{"id": "voice", "name": "Contact centre", "role": "primary"}],
        "relatedParty": [
            {"id": f"cust-{marker}", "name": "Ana", "role": "customer", "@referredType": "Individual"},
            {"id": "agent-1", "role": "agent", "@referredType": "PartyRole"},
        ],
        "interactionItem": [{"id": "1", "item": {"id": "o-1", "@type": "ProductOrder", "role": "created"}}],
    }
    written = api.post("partyInteraction", json=v4_body)
    assert written.status_code == 201, written.text
    v4 = written.json()
    seen = validate(v5.get(f"partyInteraction/{v4['id']}").json(), "PartyInteraction")
    assert seen["relatedChannel"] == [
        {
            "@type": "RelatedChannel",
            "role": "primary",
            "channel": {
                "@type": "ChannelRef",
                "id": "voice",
                "href": f"{server.root}{CHANNEL_LINK}voice",
                "name": "Contact centre",
            },
        }
    ]
    assert [p["partyOrPartyRole"]["@type"] for p in seen["relatedParty"]] == ["PartyRef", "PartyRoleRef"]
    assert [p["partyOrPartyRole"]["href"] for p in seen["relatedParty"]] == [
        f"{server.root}{INDIVIDUAL_LINK}cust-{marker}",
        f"{server.root}{PARTY_ROLE_LINK}agent-1",
    ]
    assert seen["interactionItem"][0]["item"]["entity"] == {
        "@type": "EntityRef",
        "id": "o-1",
        "@referredType": "ProductOrder",
    }
    found = v5.get("partyInteraction", params={"relatedParty.partyOrPartyRole.id": f"cust-{marker}"}).json()
    assert [validate(i, "PartyInteraction")["id"] for i in found] == [v4["id"]]

    patched = v5.patch(f"partyInteraction/{v4['id']}", json={"status": "completed"}, headers=MERGE)
    assert patched.status_code == 200, patched.text
    again = api.get(f"partyInteraction/{v4['id']}").json()
    # v4 sees the change and nothing else moved: same attributes, same shapes
    assert again == {**v4, "status": "completed", "statusChangeDate": again["statusChangeDate"]}

    assert v5.delete(f"partyInteraction/{v4['id']}").status_code == 204
    assert api.get(f"partyInteraction/{v4['id']}").status_code == 404


def test_written_in_v5_with_what_only_v5_says_kept_through_v4_writes(api, v5, server, marker):
    body = v5_body(
        marker,
        externalIdentifier=[
            {"@type": "ExternalIdentifier", "id": "CRM-1", "owner": "crm", "externalIdentifierType": "Case"}
        ],
    )
    body["relatedParty"].append(
        {
            "@type": "RelatedPartyOrPartyRole",
            "role": "contact",
            "partyOrPartyRole": {
                "@type": "Individual",
                "id": f"ind-{marker}",
                "givenName": "Ana",
                "familyName": "Silva",
            },
        }
    )
    resource = created(v5, body)
    v4 = api.get(f"partyInteraction/{resource['id']}")
    assert v4.status_code == 200
    shown = v4.json()
    assert shown["href"].endswith(f"/v4/partyInteraction/{resource['id']}")
    links = {"channel": f"{server.root}{CHANNEL_LINK}voice-{marker}", "party": f"{server.root}{INDIVIDUAL_LINK}"}
    assert shown["channel"] == [
        {"id": f"voice-{marker}", "href": links["channel"], "name": "Contact centre", "role": "origin"}
    ]
    assert shown["relatedParty"][0] == {
        "id": f"cust-{marker}",
        "href": f"{links['party']}cust-{marker}",
        "@referredType": "Individual",
        "role": "customer",
    }
    # a party by value: the v4 reference, and the value as the subclass's extension attribute
    assert shown["relatedParty"][1] == {
        "id": f"ind-{marker}",
        "href": f"{links['party']}ind-{marker}",
        "@referredType": "Individual",
        "role": "contact",
        "@type": "RelatedPartyOrPartyRole",
        "partyOrPartyRole": {"@type": "Individual", "givenName": "Ana", "familyName": "Silva"},
    }
    assert shown["externalIdentifier"] == [{"id": "CRM-1", "owner": "crm", "externalIdentifierType": "Case"}]
    assert api.get("partyInteraction", params={"relatedParty.id": f"ind-{marker}"}).json() == [shown]

    patched = api.patch(f"partyInteraction/{resource['id']}", json={"status": "completed"}, headers=MERGE)
    assert patched.status_code == 200, patched.text
    after = validate(v5.get(f"partyInteraction/{resource['id']}").json(), "PartyInteraction")
    expected = v5_body(marker, links=server.root)["relatedParty"]
    expected.append({**body["relatedParty"][1]})
    expected[1]["partyOrPartyRole"] = {
        **body["relatedParty"][1]["partyOrPartyRole"],
        "href": f"{links['party']}ind-{marker}",
    }
    assert after["relatedParty"] == expected and after["externalIdentifier"] == body["externalIdentifier"]
    assert after["status"] == "completed"
    assert api.delete(f"partyInteraction/{resource['id']}").status_code == 204
    error(v5.get(f"partyInteraction/{resource['id']}"), 404)


def test_interaction_items_keep_what_only_v5_says_through_v5_and_v4_writes(api, v5, marker):
    items = [
        {
            "@type": "InteractionItem",
            "id": "1",
            "reason": "line down",
            "interactionItemType": "Case",
            "lastUpdate": "2026-11-20T09:40:00.000Z",
            "interactionItemRelationship": [
                {"@type": "InteractionItemRelationship", "id": "2", "relationshipType": "causes"}
            ],
        },
        {"@type": "InteractionItem", "id": "2", "reason": "no dial tone"},
    ]
    resource = created(v5, v5_body(marker, interactionItem=items))
    url = f"partyInteraction/{resource['id']}"
    assert resource["interactionItem"] == items
    # v4 shows them as extension attributes of the subclass InteractionItemV5
    v4_items = api.get(url).json()["interactionItem"]
    assert v4_items[0] == {"@type": "InteractionItemV5", **{k: v for k, v in items[0].items() if k != "@type"}}
    assert v4_items[1] == {"id": "2", "reason": "no dial tone"}

    items[1]["interactionItemType"] = "Incident"
    patched = v5.patch(url, json={"interactionItem": items}, headers=MERGE)
    assert patched.status_code == 200, patched.text
    assert validate(patched.json(), "PartyInteraction")["interactionItem"] == items
    assert api.patch(url, json={"status": "completed"}, headers=MERGE).status_code == 200
    after = validate(v5.get(url).json(), "PartyInteraction")
    assert after["interactionItem"] == items and after["status"] == "completed"
    listed = v5.get("partyInteraction", params={"relatedChannel.channel.id": f"voice-{marker}"})
    assert [x["interactionItem"] for x in validate_list(listed.json(), "PartyInteraction")] == [items]
    for kind, found in (("Incident", [resource["id"]]), ("Ticket", [])):
        query = {"relatedChannel.channel.id": f"voice-{marker}", "interactionItem.interactionItemType": kind}
        listed = v5.get("partyInteraction", params=query)
        assert [x["id"] for x in validate_list(listed.json(), "PartyInteraction")] == found
    for after, found in (("2026-11-20T10:39:59+01:00", [resource["id"]]), ("2026-11-20T09:40:00Z", [])):
        query = {"relatedChannel.channel.id": f"voice-{marker}", "interactionItem.lastUpdate.gt": after}
        listed = v5.get("partyInteraction", params=query)
        assert [x["id"] for x in validate_list(listed.json(), "PartyInteraction")] == found


def test_the_timeline_sees_interactions_written_through_v5(server, v5, marker):
    resource = created(v5, v5_body(marker))
    timeline = httpx.get(f"{server.root}/ihub/v1/parties/cust-{marker}/timeline", timeout=30)
    assert timeline.status_code == 200, timeline.text
    assert [item["id"] for item in timeline.json()["items"]] == [resource["id"]]


def test_kpis_count_interactions_from_both_versions(api, server, v5, marker):
    agent = f"agent-{marker}"
    window = {"startDateTime": "2018-03-01T10:00:00Z", "endDateTime": "2018-03-01T10:05:00Z"}
    through_v5 = v5_body(marker, interactionDate=window, status="completed")
    through_v5["relatedParty"].append(
        {
            "@type": "RelatedPartyOrPartyRole",
            "role": "agent",
            "partyOrPartyRole": {"@type": "PartyRoleRef", "id": agent, "@referredType": "PartyRole"},
        }
    )
    created(v5, through_v5)
    through_v4 = {
        "reason": "r",
        "direction": "inbound",
        "status": "open",
        "channel": [{"id": "voice"}],
        "interactionDate": window,
        "relatedParty": [{"id": agent, "role": "agent", "@referredType": "PartyRole"}],
    }
    assert api.post("partyInteraction", json=through_v4).status_code == 201
    kpis = httpx.get(
        f"{server.root}/ihub/v1/analytics/kpis",
        params={"from": "2018-03-01T00:00:00Z", "to": "2018-03-02T00:00:00Z", "groupBy": "agent"},
        timeout=30,
    )
    assert kpis.status_code == 200, kpis.text
    group = next(g for g in kpis.json()["groups"] if g["key"] == agent)
    assert (group["volume"], group["resolutionRate"], group["avgHandlingSeconds"]) == (2, 0.5, 300.0)


# -- events -----------------------------------------------------------------------------------


def test_v5_listeners_get_v5_events_and_v4_listeners_v4_events(api, v5, listener, subscriptions, marker):
    v5_listener, v4_listener = listener(), listener()
    response = v5.post(
        "hub",
        json={
            "@type": "Hub",
            "callback": v5_listener.url,
            "query": f"event.partyInteraction.relatedParty.partyOrPartyRole.id=cust-{marker}",
        },
    )
    assert response.status_code == 201, response.text
    hub = validate(response.json(), "Hub")
    subscriptions.append(hub)
    subscriptions.append(subscribe(api, v4_listener.url, f"event.partyInteraction.relatedParty.id=cust-{marker}"))
    error(v5.post("hub", json={"callback": v5_listener.url}), 400, "'@type' is required")

    resource = created(v5, v5_body(marker))
    v5.patch(f"partyInteraction/{resource['id']}", json={"status": "completed"}, headers=MERGE).raise_for_status()
    assert v5.delete(f"partyInteraction/{resource['id']}").status_code == 204

    events = v5_listener.wait_for(4)
    schemas = {
        "PartyInteractionCreateEvent": "PartyInteractionCreateEvent",
        "PartyInteractionAttributeValueChangeEvent": "PartyInteractionAttributeValueChangeEvent",
        "PartyInteractionStatusChangeEvent": "PartyInteractionStatusChange",
        "PartyInteractionDeleteEvent": "PartyInteractionDeleteEvent",
    }
    assert sorted(e["eventType"] for e in events) == sorted(schemas), events
    for event in events:
        validate(event, schemas[event["eventType"]])
        assert event["@type"] == event["eventType"] and event["event"]["partyInteraction"]["id"] == resource["id"]
        assert event["event"]["partyInteraction"]["href"] == resource["href"]
    v4_events = v4_listener.wait_for(4)
    assert sorted(e["eventType"] for e in v4_events) == sorted(schemas)
    assert all("channel" in e["event"]["partyInteraction"] for e in v4_events)

    removed = v5.delete(f"hub/{hub['id']}")
    assert removed.status_code == 204
    subscriptions.remove(hub)
    error(v5.delete(f"hub/{hub['id']}"), 404)


# -- last: what the suite covered -------------------------------------------------------------


def test_every_operation_of_the_v5_spec_was_driven(server, v5):
    store = server.env["IHUB_STORE"]
    driven = {(m, p) for s, m, p in DRIVEN if s == store}
    assert set(operations()) <= driven, sorted(set(operations()) - driven)
    assert Counter(VALIDATED)["PartyInteraction"] > 0 and VALIDATED["Error"] > 0
