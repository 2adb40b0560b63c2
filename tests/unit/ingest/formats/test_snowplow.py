"""snowplow: enriched events (TSV and the Analytics SDKs' JSON), from the delivery to the stored
TMF683 web or app session.

The published samples are Snowplow's (shared/vendor-samples/SOURCES.md): a file of 32 enriched
events from the documentation, its first page view, and a Snowplow Micro /micro/good response. The
other cases are built here from the canonical event's field reference and the schemas of
Snowplow's entities (client_session, the IAB, ua-parser and YAUAA enrichments)."""

from __future__ import annotations

import contextlib
import itertools
import random
from typing import Any

import orjson
import pytest

from ingest import adapters
from ingest.adapters.common import AdapterError
from ingest.formats import FORMATS, MAX_RECORDS, FormatError, Record, kept, wrap
from ingest.formats.snowplow import FIELDS, FORMAT, Options
from ingest.sources import SourcesError, parse
from schemas.channel_event import ChannelEvent, interaction_id
from schemas.party_interaction import validated_resource
from storage import changes
from tests.vendor_samples import sample

SOURCE = "test-source"
URN = f"urn:ihub:source:{SOURCE}"
RECEIVED = "2026-11-20T10:00:00Z"
TSV = "text/tab-separated-values"
JSON = "application/json"
NDJSON = "application/x-ndjson"
SETTINGS: dict[str, Any] = {"name": SOURCE}

WEB_SESSION = "64af7b17-c715-4560-acf4-b68c8f3a1acc"  # the documentation file's web session


# -- the real path ------------------------------------------------------------------------------


def events(body: bytes, media_type: str = TSV, settings: dict[str, Any] | None = None) -> list[ChannelEvent]:
    """The events a source with `settings` makes of a delivery (the records it keeps)."""
    settings = {**SETTINGS, **(settings or {})}
    records = kept(FORMAT, FORMAT.split(body, media_type), settings)
    return [wrap(record, FORMAT.id, SOURCE, settings, received=RECEIVED) for record in records]


def apply(state: changes.State, event: ChannelEvent) -> changes.Outcome:
    outcome = changes.apply(state, adapters.adapt(event), href="http://h/x/")
    if outcome.new.doc is not None:
        validated_resource(outcome.new.doc)  # raises if the stored interaction is not valid TMF683
    return outcome


def stored(found: list[ChannelEvent]) -> dict[str, dict[str, Any]]:
    """The events applied in order; the interactions by id."""
    states: dict[str, changes.State] = {}
    for event in found:
        change = adapters.adapt(event)
        states[change.interaction_id] = apply(states.get(change.interaction_id, changes.ABSENT), event).new
    return {key: state.doc for key, state in states.items() if state.doc is not None}


def only(found: list[ChannelEvent]) -> dict[str, Any]:
    states = stored(found)
    assert len(states) == 1, states
    return next(iter(states.values()))


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A document without what depends on the order its events arrived in (dates the store set,
    the order of items and identifiers)."""
    kept_keys = {k: v for k, v in doc.items() if k not in ("creationDate", "statusChangeDate")}
    for key in ("interactionItem", "customerIdentifier"):
        if key in kept_keys:
            kept_keys[key] = sorted(kept_keys[key], key=lambda entry: orjson.dumps(entry, option=orjson.OPT_SORT_KEYS))
    return kept_keys


# -- events built from the canonical event's field reference ------------------------------------


def tsv(**fields: Any) -> bytes:
    """One enriched event as a TSV line: `fields` in their place, every other field empty."""
    unknown = set(fields) - set(FIELDS)
    assert not unknown, unknown
    values = [fields.get(name, "") for name in FIELDS]
    return "\t".join(v if isinstance(v, str) else orjson.dumps(v).decode() for v in values).encode() + b"\n"


def contexts(*entities: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0",
        "data": [{"schema": schema, "data": data} for schema, data in entities],
    }


def unstruct(schema: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
        "data": {"schema": schema, "data": data},
    }


CLIENT_SESSION = "iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2"
IAB = "iglu:com.iab.snowplow/spiders_and_robots/jsonschema/1-0-0"
UA_PARSER = "iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0"
YAUAA = "iglu:nl.basjes/yauaa_context/jsonschema/1-0-4"
FIREFOX = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:129.0) Gecko/20100101 Firefox/129.0"


def web(event: str = "page_view", *, eid: str = "e-1", at: str = "2026-11-20 09:00:00.000", **more: Any) -> bytes:
    """A web event of session s-1 of visitor d-1."""
    fields = {
        "app_id": "selfcare",
        "platform": "web",
        "collector_tstamp": at,
        "derived_tstamp": at,
        "event": event,
        "event_id": eid,
        "domain_userid": "d-1",
        "domain_sessionidx": "3",
        "network_userid": "n-1",
        "domain_sessionid": "s-1",
        "useragent": FIREFOX,
        "event_vendor": "com.snowplowanalytics.snowplow",
        "event_name": event,
        "event_format": "jsonschema",
        "event_version": "1-0-0",
    }
    return tsv(**{**fields, **more})


def page_view(eid: str, at: str, url: str, title: str, **more: Any) -> bytes:
    return web("page_view", eid=eid, at=at, page_url=url, page_title=title, **more)


# -- the format ---------------------------------------------------------------------------------


def test_the_format_registers_itself_with_its_media_types_and_options() -> None:
    assert FORMATS["snowplow"] is FORMAT
    assert FORMAT.media_types == (TSV, JSON, NDJSON)  # TSV first: what a Kafka record of the enriched stream is
    assert not FORMAT.signs and FORMAT.handshake is None
    assert FORMAT.options is Options and FORMAT.keep is not None


def test_the_field_list_is_the_enriched_tsv_order() -> None:
    lines = sample("snowplow/docs-static-assets-input.tsv").decode().splitlines()
    assert len(FIELDS) == len(set(FIELDS)) == 131
    assert all(len(line.split("\t")) == len(FIELDS) for line in lines)
    first = dict(zip(FIELDS, lines[0].split("\t"), strict=True))
    # the columns the adapter reads, where the documentation's events hold them
    assert first["event_id"] == "2a2e92cb-d65b-4978-bf65-498850bd8c08"
    assert first["page_url"] == "http://localhost:3000/"
    assert first["useragent"] == FIREFOX
    assert first["derived_contexts"] == ""  # field 123 (0-based 122)
    assert FIELDS.index("domain_sessionid") == 123 and first["domain_sessionid"] == WEB_SESSION
    assert first["derived_tstamp"] == "2024-08-14 15:27:51.685"
    assert (first["event_vendor"], first["event_name"], first["event_version"]) == (
        "com.snowplowanalytics.snowplow",
        "page_view",
        "1-0-0",
    )


# -- the published samples ----------------------------------------------------------------------


def test_sample_page_view_line_is_a_web_session_in_progress() -> None:
    body = sample("snowplow/web-page_view-line.tsv")
    [record] = FORMAT.split(body, TSV)
    assert (record.native_id, record.time) == ("2a2e92cb-d65b-4978-bf65-498850bd8c08", "2024-08-14T15:27:51.685Z")
    # the SDKs' types: numbers, booleans, ISO 8601 times, entities as JSON
    assert record.data["domain_sessionidx"] == 5 and record.data["br_cookies"] is True
    assert record.data["collector_tstamp"] == "2024-08-14T15:27:51.686Z"
    assert record.data["contexts"]["data"][0]["data"] == {"id": "6e5f5c6a-ad6f-484a-bdcd-a3c62771191c"}
    assert "txn_id" not in record.data  # empty fields are left out

    doc = only(events(body))
    assert doc["id"] == interaction_id(URN, WEB_SESSION)
    assert doc["@type"] == "WebSessionInteraction"
    assert [c["id"] for c in doc["channel"]] == ["web"]
    assert (doc["direction"], doc["status"], doc["reason"]) == ("inbound", "inProgress", "Web session")
    assert doc["description"] == "Web session on test-web-data"
    assert doc["interactionDate"] == {
        "startDateTime": "2024-08-14T15:27:51.685Z",
        "endDateTime": "2024-08-14T15:27:51.685Z",
    }
    assert doc["externalIdentifier"] == [
        {"id": WEB_SESSION, "owner": SOURCE, "externalIdentifierType": "domain_sessionid"}
    ]
    assert doc["customerIdentifier"] == [
        {
            "kind": "web",
            "value": "a5f5d234-78c9-4062-9076-a2ea9ada4fe9",
            "scheme": "snowplow-domain-userid",
            "id": "snowplow-domain-userid:a5f5d234-78c9-4062-9076-a2ea9ada4fe9",
        },
        {
            "kind": "web",
            "value": "96bbdcbd-1978-443e-95d2-58737cf2f115",
            "scheme": "snowplow-network-userid",
            "id": "snowplow-network-userid:96bbdcbd-1978-443e-95d2-58737cf2f115",
        },
    ]
    assert doc["relatedParty"] == []
    assert doc["interactionItem"] == [
        {
            "id": "2a2e92cb-d65b-4978-bf65-498850bd8c08",
            "@type": "AnalyticsEventItem",
            "reason": "Page view",
            "itemDate": {"startDateTime": "2024-08-14T15:27:51.685Z"},
            "item": {
                "@type": "WebPage",
                "role": "viewed",
                "href": "http://localhost:3000/",
                "name": "Snowplow JavaScript Tracker Demo",
            },
            "event": {"type": "page_view", "schema": "iglu:com.snowplowanalytics.snowplow/page_view/jsonschema/1-0-0"},
        }
    ]
    assert doc["session"] == {
        "sessionId": WEB_SESSION,
        "sessionIndex": 5,
        "appId": "test-web-data",
        "platform": "web",
        "tracker": "js-3.14.0",
        "userAgent": FIREFOX,
        "language": "en-US",
    }


def test_sample_file_makes_one_interaction_per_session() -> None:
    body = sample("snowplow/docs-static-assets-input.tsv")
    assert len(FORMAT.split(body, TSV)) == 32
    found = events(body)
    assert len(found) == 31  # the page ping is left out by default
    states = stored(found)
    assert len(states) == 7  # one web session; six app sessions, by their client_session ids

    web_session = states[interaction_id(URN, WEB_SESSION)]
    assert web_session["interactionDate"] == {
        "startDateTime": "2024-08-14T15:27:51.685Z",
        "endDateTime": "2024-08-14T15:28:41.690Z",
    }
    items = web_session["interactionItem"]
    assert len(items) == 14
    assert [i["reason"] for i in items[:6]] == [
        "Page view",
        "Snowplow ecommerce action",
        "Focus form",
        "Change form",
        "Submit form",
        "Page view",
    ]
    assert items[5]["item"]["href"] == "http://localhost:3000/iframe_form?first_name=femfaem"
    assert items[2]["event"] == {
        "type": "unstruct",
        "schema": "iglu:com.snowplowanalytics.snowplow/focus_form/jsonschema/1-0-0",
        "pageUrl": "http://localhost:3000/iframe_form",
    }

    apps = [doc for doc in states.values() if doc is not web_session]
    assert {doc["@type"] for doc in apps} == {"AppSessionInteraction"}
    assert {doc["channel"][0]["id"] for doc in apps} == {"app"}
    assert all(
        doc["externalIdentifierType"] == "client_session.sessionId" for d in apps for doc in d["externalIdentifier"]
    )
    purchase = states[interaction_id(URN, "295087d5-fc64-42db-9524-a88f1f0af5ca")]
    assert [i["reason"] for i in purchase["interactionItem"]] == [
        "Link click",
        "Consent granted",
        "Transaction",
        "Transaction item",
    ]
    link, _, transaction, line_item = purchase["interactionItem"]
    assert link["event"]["targetUrl"] == "test.test" and link["event"]["screenName"] == "withEmptyArrayContext"
    assert transaction["event"] | {"orderId": "0000", "total": 10.0} == transaction["event"]
    assert line_item["event"] | {"orderId": "0000", "sku": "123", "price": 5.0, "quantity": 2} == line_item["event"]
    assert {
        "kind": "web",
        "value": "tester",
        "scheme": "snowplow-user-id",
        "id": "snowplow-user-id:tester",
    } in purchase["customerIdentifier"]
    # a mobile session's userId: the app's per-install id, like a site's domain_userid
    assert {
        "kind": "web",
        "value": "d49f9a3e-3d7a-49ea-96a5-ba3da4b8fafb",
        "scheme": "snowplow-domain-userid",
        "id": "snowplow-domain-userid:d49f9a3e-3d7a-49ea-96a5-ba3da4b8fafb",
    } in purchase["customerIdentifier"]
    assert purchase["session"]["device"] == {
        "model": "Android SDK built for x86_64",
        "manufacturer": "unknown",
        "osType": "android",
        "osVersion": "9",
    }
    assert purchase["session"]["appVersion"] == "1.0" and purchase["session"]["sessionIndex"] == 6

    first_app = states[interaction_id(URN, "281c7935-06da-4571-84c9-8a72967a0a66")]
    screen = first_app["interactionItem"][0]
    assert screen["reason"] == "Screen view"
    assert screen["item"] == {
        "@type": "AppScreen",
        "role": "viewed",
        "id": "0ddd528e-48b4-402e-95ab-b075cd70e26e",
        "name": "list",
    }
    structured = states[interaction_id(URN, "d1f6f53b-2c7c-444a-aa01-44dd696aee0c")]["interactionItem"][0]
    assert structured["reason"] == "SeTest: allPopulated"
    assert (
        structured["event"]
        | {
            "type": "struct",
            "category": "SeTest",
            "action": "allPopulated",
            "label": "valueIsFloat",
            "property": "property",
            "value": 50.1,
        }
        == structured["event"]
    )


def test_sample_file_with_page_pings_kept_has_them_in_the_span_not_the_items() -> None:
    body = sample("snowplow/docs-static-assets-input.tsv")
    found = events(body, settings={"page_pings": True})
    assert len(found) == 32
    web_session = stored(found)[interaction_id(URN, WEB_SESSION)]
    assert len(web_session["interactionItem"]) == 14
    assert "af01b3a6-7753-497c-9909-37acb4d88efb" not in {i["id"] for i in web_session["interactionItem"]}


def micro_events() -> list[dict[str, Any]]:
    """The enriched events of Snowplow Micro's /micro/good response."""
    return [good["event"] for good in orjson.loads(sample("snowplow/micro-good-response-link_click.json"))]


def test_micro_good_events_in_the_json_form() -> None:
    body = orjson.dumps(micro_events())
    [record] = FORMAT.split(body, JSON)
    assert (record.native_id, record.time) == ("966d4d79-11d9-4fa6-a1a5-6a0bc2d06de1", "2020-09-04T14:23:56.702Z")
    assert "txn_id" not in record.data  # nulls are left out, as a TSV's empty fields
    doc = only(events(body, JSON))
    session = "b4431a1f-8013-443e-ae21-2db7409814d8"  # client_session: a mobile tracker's session
    assert doc["id"] == interaction_id(URN, session)
    assert doc["@type"] == "AppSessionInteraction" and doc["channel"][0]["id"] == "app"
    assert doc["description"] == "App session on DemoID"
    assert doc["externalIdentifier"] == [
        {"id": session, "owner": SOURCE, "externalIdentifierType": "client_session.sessionId"}
    ]
    assert doc["customerIdentifier"] == [
        {
            "kind": "web",
            "value": "9addaee4-94a9-4a51-8b70-3c534a6691b9",
            "scheme": "snowplow-domain-userid",
            "id": "snowplow-domain-userid:9addaee4-94a9-4a51-8b70-3c534a6691b9",
        },
        {
            "kind": "web",
            "value": "7189e4ca-e11f-4c7b-aec0-e0401f049416",
            "scheme": "snowplow-network-userid",
            "id": "snowplow-network-userid:7189e4ca-e11f-4c7b-aec0-e0401f049416",
        },
    ]
    assert doc["interactionItem"] == [
        {
            "id": "966d4d79-11d9-4fa6-a1a5-6a0bc2d06de1",
            "@type": "AnalyticsEventItem",
            "reason": "Link click",
            "itemDate": {"startDateTime": "2020-09-04T14:23:56.702Z"},
            "event": {
                "type": "unstruct",
                "schema": "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1",
                "screenName": "Demo",
                "targetUrl": "http://a-target-url.com",
            },
        }
    ]
    assert doc["session"] == {
        "sessionId": session,
        "sessionIndex": 2,
        "appId": "DemoID",
        "platform": "mob",
        "appVersion": "0.3.0",
        "tracker": "andr-1.1.0",
        "userAgent": "curl/7.68.0",  # a test sent by curl: not a robot
        "language": "English",
        "device": {"model": "MI 5", "manufacturer": "Xiaomi", "osType": "android", "osVersion": "8.0.0"},
    }


def test_micro_good_events_as_one_object_and_as_ndjson() -> None:
    [event] = micro_events()
    expected = only(events(orjson.dumps([event]), JSON))
    assert only(events(orjson.dumps(event), JSON)) == expected
    assert only(events(orjson.dumps(event) + b"\n\n", NDJSON)) == expected


def test_the_micro_response_itself_is_not_an_enriched_event() -> None:
    with pytest.raises(FormatError, match=r"event \[0\]: event_id: expected a non-empty string, got null"):
        FORMAT.split(sample("snowplow/micro-good-response-link_click.json"), JSON)


def flattened(event: dict[str, Any]) -> dict[str, Any]:
    """The event as Snowbridge's spEnrichedToJson writes it: entities under
    contexts_<vendor>_<name>_<major>, the self-describing event under unstruct_event_<...>."""
    flat = {k: v for k, v in event.items() if k not in ("contexts", "derived_contexts", "unstruct_event")}
    for field in ("contexts", "derived_contexts"):
        for entity in (event.get(field) or {}).get("data", []):
            vendor, name, _, version = entity["schema"].removeprefix("iglu:").split("/")
            key = f"contexts_{vendor.replace('.', '_')}_{name}_{version.split('-')[0]}"
            flat.setdefault(key, []).append(entity["data"])
    if event.get("unstruct_event"):
        inner = event["unstruct_event"]["data"]
        vendor, name, _, version = inner["schema"].removeprefix("iglu:").split("/")
        flat[f"unstruct_event_{vendor.replace('.', '_')}_{name}_{version.split('-')[0]}"] = inner["data"]
    return flat


def test_the_flattened_json_form_makes_the_same_interaction() -> None:
    [event] = micro_events()
    assert "contexts_com_snowplowanalytics_snowplow_client_session_1" in flattened(event)
    nested = only(events(orjson.dumps([event]), JSON))
    assert only(events(orjson.dumps([flattened(event)]), JSON)) == nested


def test_tsv_and_json_forms_of_the_sample_file_make_the_same_interactions() -> None:
    body = sample("snowplow/docs-static-assets-input.tsv")
    from_tsv = stored(events(body))
    as_json = [flattened(record.data) for record in FORMAT.split(body, TSV)]
    assert stored(events(orjson.dumps(as_json), JSON)) == from_tsv
    ndjson = b"\n".join(orjson.dumps(event) for event in as_json)
    assert stored(events(ndjson, NDJSON)) == from_tsv
    assert stored(events(ndjson, JSON)) == from_tsv  # NDJSON labelled application/json


def test_a_truncated_sample_is_a_format_error() -> None:
    body = sample("snowplow/web-page_view-line.tsv")
    with pytest.raises(FormatError, match=r"line 1: \d+ tab-separated fields, not the 131 of an enriched event"):
        FORMAT.split(body[: len(body) // 2], TSV)
    with pytest.raises(FormatError, match="not JSON"):
        FORMAT.split(orjson.dumps(micro_events())[:-40], JSON)


# -- sessions ------------------------------------------------------------------------------------


def test_a_session_spans_its_events_and_lists_each_as_an_item() -> None:
    body = (
        page_view("e-1", "2026-11-20 09:00:00.000", "https://shop.example/", "Home")
        + page_view("e-2", "2026-11-20 09:03:10.250", "https://shop.example/plans", "Plans")
        + web("struct", eid="e-3", at="2026-11-20 09:04:00.000", se_category="plans", se_action="compare")
    )
    doc = only(events(body))
    assert doc["id"] == interaction_id(URN, "s-1")
    assert doc["interactionDate"] == {
        "startDateTime": "2026-11-20T09:00:00.000Z",
        "endDateTime": "2026-11-20T09:04:00.000Z",
    }
    assert [(i["id"], i["reason"]) for i in doc["interactionItem"]] == [
        ("e-1", "Page view"),
        ("e-2", "Page view"),
        ("e-3", "plans: compare"),
    ]
    assert doc["interactionItem"][1]["item"] == {
        "@type": "WebPage",
        "role": "viewed",
        "href": "https://shop.example/plans",
        "name": "Plans",
    }
    # one externalIdentifier for the session, not one per event
    assert doc["externalIdentifier"] == [{"id": "s-1", "owner": SOURCE, "externalIdentifierType": "domain_sessionid"}]
    assert doc["reason"] == "Web session" and doc["status"] == "inProgress"


def test_the_session_is_the_same_whatever_order_its_events_arrive_in() -> None:
    lines = [
        page_view("e-1", "2026-11-20 09:00:00.000", "https://shop.example/", "Home", mkt_campaign="spring"),
        page_view("e-2", "2026-11-20 09:01:00.000", "https://shop.example/plans", "Plans"),
        web("struct", eid="e-3", at="2026-11-20 09:02:00.000", se_category="plans", se_action="pick", user_id="u-7"),
        page_view("e-4", "2026-11-20 09:03:00.000", "https://shop.example/checkout", "Checkout", user_id="u-7"),
    ]
    results = [comparable(only(events(b"".join(order)))) for order in itertools.permutations(lines)]
    assert len(results) == 24 and all(doc == results[0] for doc in results)
    doc = results[0]
    assert doc["interactionDate"] == {
        "startDateTime": "2026-11-20T09:00:00.000Z",
        "endDateTime": "2026-11-20T09:03:00.000Z",
    }
    assert doc["session"]["campaign"] == {"name": "spring"}


def test_a_login_midway_adds_the_user_id_to_the_session() -> None:
    anonymous = page_view("e-1", "2026-11-20 09:00:00.000", "https://shop.example/", "Home")
    signed_in = page_view("e-2", "2026-11-20 09:05:00.000", "https://shop.example/account", "Account", user_id="u-7")
    doc = only(events(anonymous + signed_in))
    assert doc["customerIdentifier"] == [
        {"kind": "web", "value": "d-1", "scheme": "snowplow-domain-userid", "id": "snowplow-domain-userid:d-1"},
        {"kind": "web", "value": "n-1", "scheme": "snowplow-network-userid", "id": "snowplow-network-userid:n-1"},
        {"kind": "web", "value": "u-7", "scheme": "snowplow-user-id", "id": "snowplow-user-id:u-7"},
    ]


def test_two_sessions_of_one_visitor_are_two_interactions() -> None:
    first = page_view("e-1", "2026-11-20 09:00:00.000", "https://shop.example/", "Home")
    second = page_view("e-2", "2026-11-21 18:00:00.000", "https://shop.example/", "Home", domain_sessionid="s-2")
    states = stored(events(first + second))
    assert set(states) == {interaction_id(URN, "s-1"), interaction_id(URN, "s-2")}


def test_a_mobile_session_is_keyed_by_its_client_session() -> None:
    session = contexts((CLIENT_SESSION, {"sessionId": "m-1", "sessionIndex": 4, "userId": "install-1"}))
    screen = unstruct("iglu:com.snowplowanalytics.mobile/screen_view/jsonschema/1-0-0", {"name": "Bills", "id": "sc-1"})
    body = tsv(
        app_id="myapp",
        platform="mob",
        collector_tstamp="2026-11-20 09:00:00.000",
        event="unstruct",
        event_id="e-1",
        contexts=session,
        unstruct_event=screen,
        event_vendor="com.snowplowanalytics.mobile",
        event_name="screen_view",
        event_format="jsonschema",
        event_version="1-0-0",
    )
    doc = only(events(body))
    assert doc["id"] == interaction_id(URN, "m-1")
    assert doc["interactionDate"]["startDateTime"] == "2026-11-20T09:00:00.000Z"  # no derived_tstamp: collector's
    assert doc["externalIdentifier"] == [
        {"id": "m-1", "owner": SOURCE, "externalIdentifierType": "client_session.sessionId"}
    ]
    assert doc["customerIdentifier"] == [
        {
            "kind": "web",
            "value": "install-1",
            "scheme": "snowplow-domain-userid",
            "id": "snowplow-domain-userid:install-1",
        }
    ]
    assert doc["interactionItem"][0]["item"] == {"@type": "AppScreen", "role": "viewed", "id": "sc-1", "name": "Bills"}
    assert doc["session"]["sessionIndex"] == 4


@pytest.mark.parametrize(("platform", "channel"), [("mob", "app"), ("tv", "app"), ("pc", "app"), ("srv", "web")])
def test_platforms_map_to_channels(platform: str, channel: str) -> None:
    doc = only(events(web(platform=platform)))
    assert doc["channel"][0]["id"] == channel
    assert doc["@type"] == ("WebSessionInteraction" if channel == "web" else "AppSessionInteraction")


def test_an_event_of_no_session_is_an_interaction_of_its_own() -> None:
    body = tsv(
        platform="srv",
        collector_tstamp="2026-11-20 09:00:00.000",
        event="struct",
        event_id="e-9",
        se_category="billing",
        se_action="invoice-paid",
        user_id="u-7",
    )
    doc = only(events(body))
    assert doc["id"] == interaction_id(URN, "e-9")
    assert doc["externalIdentifier"] == [{"id": "e-9", "owner": SOURCE, "externalIdentifierType": "event_id"}]
    assert doc["customerIdentifier"] == [
        {"kind": "web", "value": "u-7", "scheme": "snowplow-user-id", "id": "snowplow-user-id:u-7"}
    ]
    assert doc["interactionItem"][0]["event"] == {"type": "struct", "category": "billing", "action": "invoice-paid"}
    assert doc["session"] == {"platform": "srv"}  # no session id: there is none


# -- redelivery -----------------------------------------------------------------------------------


def test_a_redelivered_event_is_the_same_event_and_changes_nothing() -> None:
    line = page_view("e-1", "2026-11-20 09:00:00.000", "https://shop.example/", "Home")
    later = page_view("e-2", "2026-11-20 09:01:00.000", "https://shop.example/plans", "Plans")
    [first] = events(line)
    [again] = events(line)
    assert first == again and first.id == "snowplow:e-1"
    assert adapters.adapt(first) == adapters.adapt(again)
    state = apply(changes.ABSENT, first).new
    state = apply(state, events(later)[0]).new
    for event in (again, events(later)[0]):  # whichever event comes again, old or latest
        outcome = apply(state, event)
        assert outcome.kind == "unchanged", outcome
    assert state.doc is not None and len(state.doc["interactionItem"]) == 2


# -- options: page pings and robots --------------------------------------------------------------


def test_page_pings_are_left_out_unless_the_source_keeps_them() -> None:
    body = page_view("e-1", "2026-11-20 09:00:00.000", "https://shop.example/", "Home") + web(
        "page_ping", eid="e-2", at="2026-11-20 09:20:00.000", pp_yoffset_max="1200"
    )
    assert len(FORMAT.split(body, TSV)) == 2
    without = only(events(body))
    assert without["interactionDate"]["endDateTime"] == "2026-11-20T09:00:00.000Z"
    kept_pings = only(events(body, settings={"page_pings": True}))
    # a ping extends the session's end, and is no item of its own
    assert kept_pings["interactionDate"]["endDateTime"] == "2026-11-20T09:20:00.000Z"
    assert [i["id"] for i in kept_pings["interactionItem"]] == ["e-1"]


ROBOTS = {
    "IAB enrichment": {"derived_contexts": contexts((IAB, {"spiderOrRobot": True, "category": "SPIDER_OR_ROBOT"}))},
    "ua-parser": {
        "derived_contexts": contexts((UA_PARSER, {"deviceFamily": "Spider", "useragentFamily": "Googlebot"}))
    },
    "YAUAA": {"derived_contexts": contexts((YAUAA, {"deviceClass": "Robot", "agentName": "Bingbot"}))},
    "Googlebot": {"useragent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
    "Baiduspider": {"useragent": "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"},
    "HeadlessChrome": {"useragent": "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0.0.0 Safari/537.36"},
}


@pytest.mark.parametrize("signs", list(ROBOTS.values()), ids=list(ROBOTS))
def test_robots_are_left_out_unless_the_source_keeps_them(signs: dict[str, Any]) -> None:
    body = web(**signs)
    assert events(body) == []
    doc = only(events(body, settings={"bots": True}))
    assert doc["session"]["robot"] is True


@pytest.mark.parametrize(
    "signs",
    [
        {"derived_contexts": contexts((IAB, {"spiderOrRobot": False, "category": "BROWSER"}))},
        {"useragent": "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 Chrome/120.0 Mobile Safari"},
        {"useragent": "curl/8.5.0"},
        {"useragent": "snowplow/andr-6.0.0 android/15"},
    ],
    ids=["IAB browser", "Cubot phone", "curl", "Android tracker"],
)
def test_people_are_not_robots(signs: dict[str, Any]) -> None:
    doc = only(events(web(**signs)))
    assert "robot" not in doc["session"]


def test_robots_in_the_flattened_json_form_are_found_too() -> None:
    [record] = FORMAT.split(web(**ROBOTS["IAB enrichment"]), TSV)
    body = orjson.dumps(flattened(record.data))
    assert b"contexts_com_iab_snowplow_spiders_and_robots_1" in body
    assert events(body, JSON) == []


def test_a_source_table_takes_the_options_and_refuses_others() -> None:
    table = '[sources.site]\nformat = "snowplow"\napi_key_env = "K"\n'
    assert parse(table, check_env=False)["site"].settings() == {"name": "site", "page_pings": False, "bots": False}
    keeping = parse(table + "page_pings = true\nbots = true\n", check_env=False)["site"]
    assert keeping.settings() == {"name": "site", "page_pings": True, "bots": True}
    for wrong in ("page_ping = true\n", 'bots = "yes"\n'):
        with pytest.raises(SourcesError, match=r"sources\.site"):
            parse(table + wrong, check_env=False)


# -- missing, null and wrong fields ---------------------------------------------------------------


def test_a_minimal_event_is_enough() -> None:
    body = tsv(platform="web", collector_tstamp="2026-11-20 09:00:00", event="page_view", event_id="e-1")
    doc = only(events(body))
    assert doc["description"] == "Web session"
    assert "customerIdentifier" not in doc
    assert doc["interactionItem"][0]["item"] == {"@type": "WebPage", "role": "viewed"}
    assert doc["interactionDate"]["startDateTime"] == "2026-11-20T09:00:00Z"


def test_nulls_and_empty_strings_of_the_json_form_are_absent_fields() -> None:
    event = {name: None for name in FIELDS} | {
        "platform": "web",
        "collector_tstamp": "2026-11-20T09:00:00.000Z",
        "event": "struct",
        "event_id": "e-1",
        "se_category": "plans",
        "se_action": "",
        "contexts": None,
        "derived_contexts": {},
    }
    [record] = FORMAT.split(orjson.dumps([event]), JSON)
    assert record.data == {
        "platform": "web",
        "collector_tstamp": "2026-11-20T09:00:00.000Z",
        "event": "struct",
        "event_id": "e-1",
        "se_category": "plans",
        "derived_contexts": {},
    }
    doc = only(events(orjson.dumps([event]), JSON))
    assert doc["interactionItem"][0]["reason"] == "plans"


def test_a_se_value_written_as_text_is_read_as_the_number() -> None:
    event = {
        "platform": "web",
        "collector_tstamp": "2026-11-20 09:00:00.000",  # Snowplow's own way, in the JSON form too
        "event": "struct",
        "event_id": "e-1",
        "se_category": "c",
        "se_action": "a",
        "se_value": "2.5",
    }
    doc = only(events(orjson.dumps(event), JSON))
    assert doc["interactionItem"][0]["event"]["value"] == 2.5
    assert doc["interactionDate"]["startDateTime"] == "2026-11-20T09:00:00.000Z"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"platform": None}, r"data\.platform: missing"),
        ({"platform": "fax"}, r"data\.platform: unknown value 'fax'"),
        ({"event": "struct", "se_value": "lots"}, r"data\.se_value: not a number"),
        ({"event": "struct", "se_value": True}, r"data\.se_value: expected a number"),
        ({"domain_sessionid": 42}, r"data\.domain_sessionid: expected a string"),
        ({"page_title": ["Home"]}, r"data\.page_title: expected a string"),
    ],
)
def test_unusable_fields_are_refused_naming_the_field(change: dict[str, Any], problem: str) -> None:
    event = {
        "platform": "web",
        "collector_tstamp": "2026-11-20T09:00:00Z",
        "event": "page_view",
        "event_id": "e-1",
        "page_title": "Home",
        "domain_sessionid": "s-1",
        "se_value": 1.0,
    } | change
    [found] = events(orjson.dumps(event), JSON)
    with pytest.raises(AdapterError, match=problem):
        adapters.adapt(found)


def test_entities_of_unexpected_shapes_are_ignored_not_crashes() -> None:
    odd = [
        {"contexts": {"data": "not a list"}},
        {"contexts": {"data": [1, None, {"schema": 5}, {"schema": CLIENT_SESSION, "data": []}]}},
        {"contexts": {"data": [{"schema": CLIENT_SESSION, "data": {"sessionId": 7}}]}},
        {"contexts_com_snowplowanalytics_snowplow_client_session_1": "x"},
        {"unstruct_event": {"data": "x"}, "event_name": "screen_view", "event_vendor": "com.snowplowanalytics.mobile"},
    ]
    for fields in odd:
        event = {"platform": "mob", "collector_tstamp": "2026-11-20T09:00:00Z", "event": "unstruct", "event_id": "e-1"}
        doc = only(events(orjson.dumps(event | fields), JSON))
        assert doc["id"] == interaction_id(URN, "e-1")  # no session id found: the event's own


# -- hostile and malformed deliveries -----------------------------------------------------------


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


GOOD = web().decode().rstrip("\n").split("\t")


def _line(**fields: str) -> bytes:
    values = list(GOOD)
    for name, value in fields.items():
        values[FIELDS.index(name)] = value
    return "\t".join(values).encode()


@pytest.mark.parametrize(
    ("body", "media_type", "problem"),
    [
        (b"", TSV, "empty"),
        (b" \n\n", TSV, "empty"),
        (web(), "text/csv", "not 'text/csv'"),
        (b"\xff\xfe" + web(), TSV, "not UTF-8"),
        (b"\t".join([b"x"] * 130), TSV, "line 1: 130 tab-separated fields"),
        (b"\t".join([b"x"] * 132), TSV, "line 1: more than 131 tab-separated fields"),
        (b"x" + b"\t" * 1_000_000, TSV, "more than 131"),
        (web() + b"just text\n", TSV, "line 2: 1 tab-separated fields"),
        (_line(domain_sessionidx="three"), TSV, "domain_sessionidx: not an integer: 'three'"),
        (_line(domain_sessionidx="9" * 5000), TSV, "domain_sessionidx: not an integer"),
        (_line(br_cookies="yes"), TSV, r"br_cookies: not a boolean \(1 or 0\)"),
        (_line(se_value="nan"), TSV, "se_value: not a number"),
        (_line(se_value="1e999"), TSV, "se_value: not a number"),
        (_line(collector_tstamp="yesterday"), TSV, "collector_tstamp: not a date-time: 'yesterday'"),
        (_line(derived_tstamp="2026-02-30 10:00:00"), TSV, "derived_tstamp: not a date-time"),
        (_line(contexts="{not json"), TSV, "line 1: contexts: not JSON"),
        (_line(contexts=_deep(100)), TSV, "contexts: nests more than 32 levels"),
        (_line(contexts=_deep(5000)), TSV, "contexts: not JSON"),
        (_line(event_id=""), TSV, "line 1: event_id: expected a non-empty string, got null"),
        (_line(collector_tstamp="", derived_tstamp=""), TSV, "neither derived_tstamp nor collector_tstamp"),
        (b"{", JSON, "not JSON"),
        (b"[1, 2", JSON, "not JSON"),
        (b'"event"', JSON, "neither an event nor an array of events but a string"),
        (b"42", JSON, "but a number"),
        (b"[1]", JSON, r"event \[0\]: expected an event \(a JSON object\), got a number"),
        (b'[{"event_id": "e"}]', JSON, "neither derived_tstamp nor collector_tstamp"),
        (b'[{"event_id": 7, "collector_tstamp": "2026-11-20T09:00:00Z"}]', JSON, "event_id: expected a non-empty"),
        (b'{"event_id": "e", "collector_tstamp": 1763629200}', JSON, "collector_tstamp: not a date-time"),
        (b'{"event_id": "e", "collector_tstamp": "x", "contexts": "{"}', JSON, "not a date-time"),
        (_deep(200).encode(), JSON, "nests more than 32 levels"),
        (_deep(100_000).encode(), JSON, "not JSON"),
        (b'{"a": 1}\n{"b"', NDJSON, "line 2: not JSON"),
        (b"[]\n", NDJSON, "line 1: expected an event"),
        (('{"x": ' + _deep(40) + "}").encode(), NDJSON, "line 1: nests more than 32 levels"),
        (b'{"a": 1}\n{"b"', JSON, "not JSON"),
    ],
)
def test_hostile_deliveries_are_format_errors_naming_the_problem(body: bytes, media_type: str, problem: str) -> None:
    with pytest.raises(FormatError, match=problem):
        FORMAT.split(body, media_type)


def test_an_empty_json_array_is_no_record() -> None:
    assert FORMAT.split(b"[]", JSON) == []


def test_a_delivery_bigger_than_the_limit_is_refused_before_it_is_read() -> None:
    with pytest.raises(FormatError, match="larger than"):
        FORMAT.split(b" " * (64 * 1024 * 1024 + 1), TSV)


@pytest.mark.parametrize("media_type", [TSV, JSON, NDJSON])
def test_a_delivery_with_too_many_records_is_refused(media_type: str) -> None:
    line = web().rstrip(b"\n")
    if media_type == TSV:
        body = b"\n".join([line] * (MAX_RECORDS + 1))
    else:
        [record] = FORMAT.split(line, TSV)
        one = orjson.dumps(record.data)
        body = (
            b"[" + b",".join([one] * (MAX_RECORDS + 1)) + b"]"
            if media_type == JSON
            else b"\n".join([one] * (MAX_RECORDS + 1))
        )
    with pytest.raises(FormatError, match=f"more than {MAX_RECORDS} records"):
        FORMAT.split(body, media_type)
    # exactly MAX_RECORDS, with a final newline, is fine
    if media_type == TSV:
        assert len(FORMAT.split(b"\n".join([line] * MAX_RECORDS) + b"\n", TSV)) == MAX_RECORDS


def test_random_garbage_is_a_format_error_or_records_never_a_crash() -> None:
    rng = random.Random(683)
    pieces = [b"\t", b"\n", b"{", b"}", b"[", b"]", b'"', b"x", b"1", b"\xc3", b"2026-11-20 09:00:00", b"null", b","]
    base = web()
    for _ in range(300):
        body = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(body) + 1)
            body[at:at] = rng.choice(pieces)
        for media_type in (TSV, JSON, NDJSON):
            try:
                records = FORMAT.split(bytes(body), media_type)
            except FormatError:
                continue
            assert all(isinstance(r, Record) for r in records)
            for event in events(bytes(body), media_type, {"bots": True, "page_pings": True}):
                with contextlib.suppress(AdapterError):  # an unusable field, named
                    apply(changes.ABSENT, event)
