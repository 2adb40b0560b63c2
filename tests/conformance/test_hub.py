"""The event hub: subscriptions and notifications POSTed to real callbacks."""

from __future__ import annotations

import time
from uuid import uuid4

import httpx

from tests.conformance.test_party_interaction import CTK_BODY, MERGE, assert_tmf_error
from tests.support.server import BASE_PATH as BASE
from tests.support.server import CHANNEL_LINK, Server, subscribe

# the listeners run on this machine: callbacks to loopback must be allowed (by default they are only
# on the embedded store served on a loopback address without auth)
LOOPBACK = {"IHUB_HUB_ALLOWED_NETWORKS": "127.0.0.0/8"}
CREATES = "eventType=PartyInteractionCreateEvent"


def test_lifecycle_notifications(api, listener, subscriptions):
    sink = listener()
    subscription = subscribe(api, sink.url)
    subscriptions.append(subscription)
    created = api.post("partyInteraction", json={**CTK_BODY, "status": "open"}).json()
    api.patch(f"partyInteraction/{created['id']}", json={"description": "noted"}, headers=MERGE)
    api.patch(f"partyInteraction/{created['id']}", json={"status": "completed"}, headers=MERGE)
    assert api.delete(f"partyInteraction/{created['id']}").status_code == 204
    events = [e for e in sink.wait_for(5) if e["event"]["partyInteraction"]["id"] == created["id"]]
    assert [e["eventType"] for e in events] == [
        "PartyInteractionCreateEvent",
        "PartyInteractionAttributeValueChangeEvent",
        "PartyInteractionAttributeValueChangeEvent",
        "PartyInteractionStatusChangeEvent",
        "PartyInteractionDeleteEvent",
    ]
    assert events[0]["event"]["partyInteraction"] == created  # as the API shows it, with the channel's link
    assert created["channel"][0]["href"].endswith(f"{CHANNEL_LINK}555")
    assert events[1]["fieldPath"] == "description"
    assert events[2]["fieldPath"] == "status,statusChangeDate"
    assert events[3]["event"]["partyInteraction"]["status"] == "completed"
    for event in events:
        assert event["eventId"] and event["eventTime"] and event["timeOcurred"]
    assert len({e["eventId"] for e in events}) == 5
    assert api.delete(f"hub/{subscription['id']}").status_code == 204
    api.post("partyInteraction", json=CTK_BODY)
    time.sleep(1)
    assert len(sink.received) == 5  # nothing after unsubscribing
    assert_tmf_error(api.delete(f"hub/{subscription['id']}"), 404)


def test_subscription_query_selects_events(api, listener, subscriptions):
    sink = listener()
    subscription = subscribe(
        api, sink.url, "eventType=PartyInteractionStatusChangeEvent&event.partyInteraction.status=completed"
    )
    subscriptions.append(subscription)
    created = api.post("partyInteraction", json={**CTK_BODY, "status": "open"}).json()
    api.patch(f"partyInteraction/{created['id']}", json={"status": "inProgress"}, headers=MERGE)
    api.patch(f"partyInteraction/{created['id']}", json={"status": "completed"}, headers=MERGE)
    time.sleep(1)
    events = sink.wait_for(1)
    assert [(e["eventType"], e["event"]["partyInteraction"]["status"]) for e in events] == [
        ("PartyInteractionStatusChangeEvent", "completed")
    ]
    api.delete(f"hub/{subscription['id']}")


def test_failed_deliveries_are_retried(api, listener, subscriptions):
    sink = listener(fail_first=2)
    subscription = subscribe(api, sink.url, "eventType=PartyInteractionCreateEvent")
    subscriptions.append(subscription)
    created = api.post("partyInteraction", json=CTK_BODY).json()
    events = sink.wait_for(1)
    assert sink.attempts == 3
    assert [e["event"]["partyInteraction"]["id"] for e in events] == [created["id"]]
    api.delete(f"hub/{subscription['id']}")


def test_bad_subscriptions_get_400(api):
    assert_tmf_error(api.post("hub", json={"query": "eventType=X"}), 400, "callback")
    assert_tmf_error(api.post("hub", json={"callback": "not-a-url"}), 400, "callback")
    assert_tmf_error(api.post("hub", json={"callback": "http://127.0.0.1:9/x", "query": "a.like=1"}), 400, "query")
    assert_tmf_error(api.post("hub", json={"callback": "http://127.0.0.1:9/x", "extra": 1}), 400, "extra")


def test_a_query_no_event_can_meet_is_refused_naming_the_attribute(api):
    v4 = "is not an attribute of a TMF683 event: an event has eventId, eventTime, eventType"
    for query, named in [("nonsense.path=1", "nonsense.path"), ("eventType=X&status=completed", "status")]:
        response = api.post("hub", json={"callback": "http://127.0.0.1:9/x", "query": query})
        assert assert_tmf_error(response, 400)["message"].startswith(f"query: '{named}' {v4}")
    response = api.post("hub", json={"callback": "http://127.0.0.1:9/x", "query": "event.partyInteraction.channel=x"})
    assert_tmf_error(response, 400, "query: 'event.partyInteraction.channel' is an object of a TMF683 event")
    v5 = str(api.base_url).replace("/v4/", "/v5/")
    hub = {"@type": "Hub", "callback": "http://127.0.0.1:9/x", "query": "relatedParty.partyOrPartyRole.id=cust-42"}
    error = assert_tmf_error(httpx.post(f"{v5}hub", json=hub), 400)
    assert error["message"].startswith("query: 'relatedParty.partyOrPartyRole.id' is not an attribute of a TMF683 v5")
    # the same condition on the event's interaction is one a v5 listener may have
    hub["query"] = "event.partyInteraction.relatedParty.partyOrPartyRole.id=cust-42"
    registered = httpx.post(f"{v5}hub", json=hub)
    assert registered.status_code == 201, registered.text
    assert httpx.delete(f"{v5}hub/{registered.json()['id']}").status_code == 204


def test_each_hub_lists_and_shows_the_listeners_registered_through_it(api, subscriptions):
    marker = uuid4().hex
    v5 = str(api.base_url).replace("/v4/", "/v5/")
    made = [subscribe(api, f"http://127.0.0.1:9/{marker}/0"), subscribe(api, f"http://127.0.0.1:9/{marker}/1", CREATES)]
    registered = httpx.post(f"{v5}hub", json={"@type": "Hub", "callback": f"http://127.0.0.1:9/{marker}/v5"})
    assert registered.status_code == 201, registered.text
    subscriptions.extend([*made, registered.json()])
    mine = {"callback.regex": f"/{marker}/"}  # the session's other tests have listeners too

    listed = api.get("hub", params=mine)
    assert (listed.status_code, listed.headers["x-total-count"], listed.headers["x-result-count"]) == (200, "2", "2")
    assert listed.json() == sorted(made, key=lambda s: s["id"])  # as registering answered, by id; v4's only
    assert api.get(f"hub/{made[1]['id']}").json() == made[1]
    assert api.get("hub", params={**mine, "query": CREATES}).json() == [made[1]]
    page = api.get("hub", params={**mine, "sort": "-callback", "limit": "1", "fields": "callback"})
    assert (page.status_code, page.headers["x-total-count"], page.headers["x-result-count"]) == (200, "2", "1")
    assert 'offset=1&limit=1>; rel="next"' in page.headers["link"]
    assert page.json() == [{"id": made[1]["id"], "callback": made[1]["callback"]}]

    shown = {"@type": "Hub", "callback": f"http://127.0.0.1:9/{marker}/v5", "id": registered.json()["id"]}
    listed_v5 = httpx.get(f"{v5}hub", params=mine)
    assert (listed_v5.json(), listed_v5.headers["x-total-count"]) == ([shown], "1")
    assert httpx.get(f"{v5}hub/{shown['id']}").json() == shown
    assert_tmf_error(api.get(f"hub/{shown['id']}"), 404)  # each hub shows its own listeners
    assert_tmf_error(httpx.get(f"{v5}hub/{made[0]['id']}"), 404)

    unknown = "'status' is not an attribute of a listener: it has callback, query, id"
    assert_tmf_error(api.get("hub", params={"status": "open"}), 400, unknown)
    assert_tmf_error(api.get("hub", params={"sort": "creationDate"}), 400, "'creationDate' is not an attribute")
    assert_tmf_error(api.get("hub", params={"limit": "ten"}), 400, "'limit' must be a non-negative integer")
    assert_tmf_error(api.get(f"hub/{made[0]['id']}", params={"callback": "x"}), 400, "only 'fields'")

    assert api.delete(f"hub/{made[0]['id']}").status_code == 204
    assert_tmf_error(api.get(f"hub/{made[0]['id']}"), 404)
    assert [s["id"] for s in api.get("hub", params=mine).json()] == [made[1]["id"]]


def test_the_api_description_has_the_hub_listing(api):
    root = str(api.base_url).split("/tmf-api")[0]
    paths = httpx.get(f"{root}/openapi.json").json()["paths"]
    listing, one = paths[f"{BASE}/hub"]["get"], paths[f"{BASE}/hub/{{id}}"]["get"]
    assert set(listing["responses"]["200"]["headers"]) == {"X-Total-Count", "X-Result-Count", "Link"}
    assert {p["name"] for p in listing["parameters"]} >= {"fields", "sort", "offset", "limit", "callback", "query"}
    assert set(one["responses"]) >= {"200", "400", "404"}


def test_subscriptions_and_pending_notifications_survive_a_kill(tmp_path, listener):
    sink = listener(fail_first=10**6)  # refuses everything until told otherwise
    server = Server(tmp_path, LOOPBACK).start()
    try:
        subscribe(httpx.Client(base_url=server.url), sink.url)
        created = httpx.post(server.url + "partyInteraction", json=CTK_BODY).json()
        deadline = time.monotonic() + 10
        while sink.attempts == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sink.attempts >= 1 and not sink.received
    finally:
        server.process.kill()  # SIGKILL: no graceful shutdown
        server.process.wait()
    sink.fail_first = 0
    server.start()
    try:
        events = sink.wait_for(1)
        assert [e["event"]["partyInteraction"]["id"] for e in events] == [created["id"]]
    finally:
        server.stop()


def test_the_readme_listener_example_works_on_the_embedded_store_as_it_comes(tmp_path, listener):
    """README "Event hub": a listener on this machine, registered with `ihub serve`'s defaults."""
    sink = listener()
    server = Server(tmp_path)
    for name in ("IHUB_HUB_ALLOWED_NETWORKS", "IHUB_HUB_LOOPBACK_CALLBACKS", "IHUB_HOST", "IHUB_STORE"):
        server.env.pop(name, None)  # the defaults, whatever the tests' environment holds
    server.start()
    try:
        api = httpx.Client(base_url=server.url)
        query = "eventType=PartyInteractionStatusChangeEvent&event.partyInteraction.status=completed"
        subscribe(api, sink.url, query)
        created = api.post("partyInteraction", json={**CTK_BODY, "status": "open"}).json()
        api.patch(f"partyInteraction/{created['id']}", json={"status": "completed"}, headers=MERGE)
        events = sink.wait_for(1)
        assert [(e["eventType"], e["event"]["partyInteraction"]["id"]) for e in events] == [
            ("PartyInteractionStatusChangeEvent", created["id"])
        ]
    finally:
        server.stop()
