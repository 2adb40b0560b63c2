"""The ingress over real HTTP, in both modes: sources from a sources file, each delivery
authenticated as its vendor does it (an API key, Basic credentials, a signature, Meta's handshake),
bounded, refused with a TMF Error that changes nothing, and a redelivery that makes no second
interaction. Vendor payloads are the vendors' own published examples (tests/vendor_samples.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Iterator
from email.parser import BytesParser

import httpx
import orjson
import pytest

from ingest.adapters import sample_events
from tests.conformance.test_party_interaction import assert_tmf_error
from tests.support.server import own_server
from tests.vendor_samples import sample

API_KEY, BASIC, META_SECRET, META_TOKEN = "k-3f9a", "crm:pa55", "meta-app-secret", "verify-me"
SOURCES = """
[sources.own]
format = "ihub"
api_key_env = "IHUB_TEST_OWN_KEY"

[sources.own-basic]
format = "ihub"
basic_env = "IHUB_TEST_BASIC"
max_body_bytes = 2048

[sources.wa]
format = "whatsapp-cloud"
phone_region = "PT"
secret_env = "IHUB_TEST_META_SECRET"
verify_token_env = "IHUB_TEST_META_TOKEN"

[sources.fb]
format = "messenger"
secret_env = "IHUB_TEST_META_SECRET"
verify_token_env = "IHUB_TEST_META_TOKEN"

[sources.sms]
format = "twilio"
secret_env = "IHUB_TEST_TWILIO_TOKEN"

[sources.connect]
format = "amazon-connect-ctr"
api_key_env = "IHUB_TEST_OWN_KEY"

[sources.connect-events]
format = "amazon-connect-event"
api_key_env = "IHUB_TEST_OWN_KEY"

[sources.genesys]
format = "genesys-cloud"
api_key_env = "IHUB_TEST_OWN_KEY"

[sources.web]
format = "snowplow"
api_key_env = "IHUB_TEST_OWN_KEY"

[sources.streams]
format = "twilio-event-streams"
secret_env = "IHUB_TEST_TWILIO_TOKEN"

[sources.crm]
format = "debezium"
api_key_env = "IHUB_TEST_OWN_KEY"
table = "public.customers"
key = ["id"]
channel = "email"
[sources.crm.columns]
startDateTime = "registered_at"

[sources.mail]
format = "email-mime"
api_key_env = "IHUB_TEST_OWN_KEY"
max_body_bytes = 1048576
"""
TWILIO_TOKEN = "twilio-auth-token"


@pytest.fixture(scope="module", params=["embedded", "search"])
def ingress(request, tmp_path_factory) -> Iterator[httpx.Client]:
    sources = tmp_path_factory.mktemp("sources") / "sources.toml"
    sources.write_text(SOURCES)
    env = {
        "IHUB_SOURCES_FILE": str(sources),
        "IHUB_TEST_OWN_KEY": API_KEY,
        "IHUB_TEST_BASIC": BASIC,
        "IHUB_TEST_META_SECRET": META_SECRET,
        "IHUB_TEST_META_TOKEN": META_TOKEN,
        "IHUB_TEST_TWILIO_TOKEN": TWILIO_TOKEN,
    }
    with own_server(request, tmp_path_factory, "ingest", env) as api:
        root = str(api.base_url).split("/tmf-api/")[0]
        with httpx.Client(base_url=root, timeout=15) as client:
            yield client


def tmf(client: httpx.Client, path: str, **params: str) -> httpx.Response:
    return client.get(f"/tmf-api/partyInteraction/v4/{path}", params=params)


def found(client: httpx.Client, external_id: str, expected: int = 1, timeout: float = 30) -> list[dict]:
    """The interactions whose externalIdentifier.id is `external_id`, once there are `expected`
    (full mode applies a delivery after answering it)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = tmf(client, "partyInteraction", **{"externalIdentifier.id": external_id})
        assert answer.status_code == 200, answer.text
        if len(answer.json()) >= expected or time.monotonic() > deadline:
            return answer.json()
        time.sleep(0.2)


def wait_for(answer: Callable[[], list], timeout: float = 30) -> list:
    """`answer()` once it is not empty, or what it is at `timeout`."""
    deadline = time.monotonic() + timeout
    while not (found := answer()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def by_id(client: httpx.Client, interaction_id: str, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        answer = tmf(client, f"partyInteraction/{interaction_id}")
        if answer.status_code == 200 or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def own_event(marker: str) -> dict:
    event = orjson.loads(next(e for e in sample_events() if e.type == "ihub.voice.call.ended").to_bytes())
    return {**event, "id": f"evt-{marker}", "data": {**event["data"], "callId": f"call-{marker}"}}


def post(client: httpx.Client, source: str, body: bytes, headers: dict[str, str], query: str = "") -> httpx.Response:
    return client.post(f"/ingest/v1/sources/{source}{query}", content=body, headers=headers)


# -- the project's own envelope, with a key or Basic credentials -----------------------------------------


def test_an_api_key_source_takes_a_delivery_and_a_redelivery_makes_no_second_interaction(ingress):
    from ingest.adapters import adapt
    from schemas.channel_event import ChannelEvent

    event = own_event("key")
    body = orjson.dumps(event)
    headers = {"content-type": "application/json", "x-api-key": API_KEY}
    assert post(ingress, "own", body, headers).status_code == 200
    assert post(ingress, "own", body, headers).status_code == 200  # the vendor retries
    interaction_id = adapt(ChannelEvent.model_validate(event)).interaction_id
    stored = by_id(ingress, interaction_id)
    assert stored.status_code == 200 and stored.json()["status"] == "completed"
    # a list sees what the engine has refreshed (full mode), a GET by id at once
    listed = wait_for(lambda: tmf(ingress, "partyInteraction", **{"call.callId": "call-key"}).json())
    assert [i["id"] for i in listed] == [interaction_id]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"x-api-key": "wrong"}, 401),
        ({"x-api-key": API_KEY + "x"}, 401),
    ],
)
def test_a_missing_or_wrong_key_is_a_401_that_stores_nothing(ingress, headers, status):
    body = orjson.dumps(own_event(f"nokey-{status}-{len(headers)}"))
    answer = post(ingress, "own", body, {"content-type": "application/json", **headers})
    assert_tmf_error(answer, status)
    time.sleep(0.5)
    assert tmf(ingress, "partyInteraction", **{"call.callId": f"call-nokey-{status}-{len(headers)}"}).json() == []


def test_basic_credentials_and_the_source_body_bound(ingress):
    good = "Basic " + base64.b64encode(BASIC.encode()).decode()
    bad = "Basic " + base64.b64encode(b"crm:wrong").decode()
    body = orjson.dumps(own_event("basic"))
    answer = post(ingress, "own-basic", body, {"content-type": "application/json", "authorization": bad})
    assert_tmf_error(answer, 401)
    assert answer.headers["www-authenticate"].startswith("Basic")
    assert (
        post(ingress, "own-basic", body, {"content-type": "application/json", "authorization": good}).status_code == 200
    )
    assert_tmf_error(
        post(
            ingress, "own-basic", b"[" + b" " * 4096 + b"]", {"content-type": "application/json", "authorization": good}
        ),
        413,
    )


def test_an_unknown_source_is_a_404_and_a_bad_record_a_400_naming_it(ingress):
    headers = {"content-type": "application/json", "x-api-key": API_KEY}
    assert_tmf_error(post(ingress, "nobody", b"{}", headers), 404, "nobody")
    good, bad = own_event("batch-good"), own_event("batch-bad")
    del bad["data"]["queue"]
    answer = post(ingress, "own", orjson.dumps([good, bad]), headers)
    assert_tmf_error(answer, 400, "record 2 of 2", "queue")
    time.sleep(0.5)
    # the whole delivery is refused: its good record is not stored either
    assert tmf(ingress, "partyInteraction", **{"call.callId": "call-batch-good"}).json() == []
    assert_tmf_error(post(ingress, "own", b"{not json", headers), 400, "not JSON")


# -- a signing vendor: Meta (WhatsApp Cloud API) -----------------------------------------------------------


def meta_signature(body: bytes, secret: str = META_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_meta_handshake_echoes_the_challenge_only_for_the_right_token(ingress):
    ok = ingress.get(
        "/ingest/v1/sources/wa",
        params={"hub.mode": "subscribe", "hub.verify_token": META_TOKEN, "hub.challenge": "1158"},
    )
    assert ok.status_code == 200 and ok.text == "1158"
    wrong = ingress.get(
        "/ingest/v1/sources/wa", params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1158"}
    )
    assert_tmf_error(wrong, 403)
    assert_tmf_error(ingress.get("/ingest/v1/sources/own"), 405)


@pytest.mark.parametrize(
    "signed",
    [
        lambda body: {},
        lambda body: {"x-hub-signature-256": meta_signature(body, "another secret")},
        lambda body: {"x-hub-signature-256": meta_signature(body + b" ")},
        lambda body: {"x-hub-signature-256": "sha1=" + hashlib.sha1(body).hexdigest()},
    ],
    ids=["missing", "wrong secret", "another body", "another scheme"],
)
def test_a_meta_delivery_without_a_good_signature_is_a_401(ingress, signed: Callable[[bytes], dict[str, str]]):
    body = sample("whatsapp/pywa-fixture-message-text.json")
    answer = post(ingress, "wa", body, {"content-type": "application/json", **signed(body)})
    assert_tmf_error(answer, 401, "signature")


def test_a_signed_whatsapp_message_becomes_one_interaction_found_by_its_wamid(ingress):
    body = sample("whatsapp/pywa-fixture-message-text.json")
    wamid = orjson.loads(body)["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    headers = {"content-type": "application/json", "x-hub-signature-256": meta_signature(body)}
    assert post(ingress, "wa", body, headers).status_code == 200
    assert post(ingress, "wa", body, headers).status_code == 200  # Meta redelivers until answered
    [interaction] = found(ingress, wamid)
    assert {"id": wamid, "owner": "wa", "externalIdentifierType": "whatsapp-message"} in interaction[
        "externalIdentifier"
    ]
    assert interaction["channel"][0]["id"] == "messaging"
    assert any(i["kind"] == "phone" for i in interaction["customerIdentifier"])
    time.sleep(1)
    assert len(found(ingress, wamid)) == 1


# -- every vendor format, from its vendor's own published example -------------------------------------------


def twilio_signature(url: str, form: dict[str, str], token: str = TWILIO_TOKEN) -> str:
    """As Twilio signs a webhook: HMAC-SHA1 of the URL and each POST parameter, sorted by name."""
    payload = url + "".join(f"{name}{form[name]}" for name in sorted(form))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def _twilio(client: httpx.Client) -> tuple[bytes, dict[str, str]]:
    from urllib.parse import urlencode

    form = orjson.loads(sample("twilio/inbound-sms-webhook.json"))["form"]
    url = f"{client.base_url}".rstrip("/") + "/ingest/v1/sources/sms"
    headers = {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": twilio_signature(url, form)}
    return urlencode(form).encode(), headers


STREAM_SID = "SM" + "5" * 32


def _streams(client: httpx.Client) -> tuple[bytes, dict[str, str], str]:
    """An Event Streams batch as its webhook sink sends it: the URL carries the body's SHA-256, and
    X-Twilio-Signature signs that URL alone."""
    event = {
        "specversion": "1.0",
        "type": "com.twilio.messaging.inbound-message.received",
        "source": f"/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/{STREAM_SID}.json",
        "id": "EZ" + "5" * 32,
        "datacontenttype": "application/json",
        "data": {
            "messageSid": STREAM_SID,
            "timestamp": "2026-11-20T10:00:00.000Z",
            "accountSid": "AC0123456789abcdef0123456789abcdef",
            "eventName": "com.twilio.messaging.inbound-message.received",
            "from": "+351912345678",
            "to": "+351210000000",
            "numMedia": 0,
            "body": "Is my bill ready?",
        },
    }
    body = orjson.dumps([event])
    query = f"?bodySHA256={hashlib.sha256(body).hexdigest()}"
    url = f"{client.base_url}".rstrip("/") + "/ingest/v1/sources/streams" + query
    signature = base64.b64encode(hmac.new(TWILIO_TOKEN.encode(), url.encode(), hashlib.sha1).digest()).decode()
    return body, {"content-type": "application/json", "x-twilio-signature": signature}, query


def _debezium(client: httpx.Client) -> tuple[bytes, dict[str, str]]:
    """Debezium's documented create event of its customers table, with the registration time a
    contact-history table would have (its docs' table has no time column)."""
    event = orjson.loads(sample("debezium/postgresql-create-event-schema-and-payload.json"))
    event["payload"]["after"]["registered_at"] = "2019-05-28T08:58:00Z"
    return orjson.dumps(event), {"content-type": "application/json", "x-api-key": API_KEY}


def _keyed(path: str, media_type: str) -> Callable[[httpx.Client], tuple[bytes, dict[str, str]]]:
    return lambda client: (sample(path), {"content-type": media_type, "x-api-key": API_KEY})


def _meta(path: str) -> Callable[[httpx.Client], tuple[bytes, dict[str, str]]]:
    def delivery(client: httpx.Client) -> tuple[bytes, dict[str, str]]:
        body = sample(path)
        return body, {"content-type": "application/json", "x-hub-signature-256": meta_signature(body)}

    return delivery


VENDORS = [
    ("connect", _keyed("amazon-connect/ctr-voice-inbound-case1.json", "application/json"), "voice"),
    (
        "connect-events",
        _keyed("amazon-connect/contact-event-voice-connected-to-agent.json", "application/json"),
        "voice",
    ),
    ("genesys", _keyed("genesys-cloud/analytics-conversation-detail-chat-1.json", "application/json"), "chat"),
    ("sms", _twilio, "messaging"),
    ("fb", _meta("messenger/fbmessenger-api-hackage-wsTextMessageRequest.json"), "social"),
    ("web", _keyed("snowplow/web-page_view-line.tsv", "text/tab-separated-values"), "web"),
    ("mail", _keyed("email/flanker-multi-received-headers.eml", "message/rfc822"), "email"),
    ("streams", _streams, "messaging"),
    ("crm", _debezium, "email"),
]
NATIVE_IDS = {
    "connect": lambda: orjson.loads(sample("amazon-connect/ctr-voice-inbound-case1.json"))["ContactId"],
    "connect-events": lambda: orjson.loads(sample("amazon-connect/contact-event-voice-connected-to-agent.json"))[
        "contactId"
    ],
    "genesys": lambda: orjson.loads(sample("genesys-cloud/analytics-conversation-detail-chat-1.json"))[
        "conversationId"
    ],
    "sms": lambda: orjson.loads(sample("twilio/inbound-sms-webhook.json"))["form"]["MessageSid"],
    "fb": lambda: orjson.loads(sample("messenger/fbmessenger-api-hackage-wsTextMessageRequest.json"))["entry"][0][
        "messaging"
    ][0]["message"]["mid"],
    # the enriched event's domain_sessionid: the 124th of its 131 tab-separated fields
    "web": lambda: sample("snowplow/web-page_view-line.tsv").decode().rstrip("\n").split("\t")[123],
    # the message's own Message-ID, without its angle brackets
    "mail": lambda: (
        BytesParser().parsebytes(sample("email/flanker-multi-received-headers.eml"))["Message-ID"].strip("<> ")
    ),
    "streams": lambda: STREAM_SID,
    "crm": lambda: str(
        orjson.loads(sample("debezium/postgresql-create-event-schema-and-payload.json"))["payload"]["after"]["id"]
    ),
}


@pytest.mark.parametrize(("source", "delivery", "channel"), VENDORS, ids=[v[0] for v in VENDORS])
def test_each_vendor_format_arrives_by_webhook_once_however_often_it_is_delivered(ingress, source, delivery, channel):
    body, headers, *query = delivery(ingress)  # a signed URL may carry a query (Event Streams' bodySHA256)
    first = post(ingress, source, body, headers, *query)
    assert first.status_code == 200, first.text
    assert post(ingress, source, body, headers, *query).status_code == 200  # the vendor's retry
    native = NATIVE_IDS[source]()
    [interaction] = found(ingress, native)
    assert any(e["id"] == native and e["owner"] == source for e in interaction["externalIdentifier"])
    assert interaction["channel"][0]["id"] == channel
    time.sleep(1)
    assert len(found(ingress, native)) == 1


def test_a_signed_vendor_without_its_signature_stores_nothing(ingress):
    body, headers = _twilio(ingress)
    answer = post(ingress, "sms", body, {**headers, "x-twilio-signature": twilio_signature("http://elsewhere/", {})})
    assert_tmf_error(answer, 401, "signature")
    assert_tmf_error(post(ingress, "sms", body, {"content-type": headers["content-type"]}), 401)


def test_a_vendor_record_that_cannot_be_adapted_is_a_400_naming_it(ingress):
    record = orjson.loads(sample("amazon-connect/ctr-voice-inbound-case1.json"))
    record["Channel"] = "FAX"
    answer = post(ingress, "connect", orjson.dumps(record), {"content-type": "application/json", "x-api-key": API_KEY})
    assert_tmf_error(answer, 400, "Channel")
    wrong_type = post(ingress, "connect", b"x=1", {"content-type": "text/plain", "x-api-key": API_KEY})
    assert_tmf_error(wrong_type, 415)


# -- identity resolution of the vendors' own examples (README, "Identity resolution") ------------------


# the examples that name no customer at all, and why
NAMES_NO_CUSTOMER = {
    "connect-events": "a contact event before the contact's record carries no customer endpoint",
    "genesys": "the web chat's customer participant has no address",
    "crm": "this source's column mapping names no customer column",
}


def medium_for(key: str) -> dict:
    """The TMF632 ContactMedium that holds an identifier key."""
    kind, value = key.split(":", 1)
    if kind == "phone":
        return {"mediumType": "mobile", "characteristic": {"phoneNumber": value}}
    if kind == "email":
        return {"mediumType": "email", "characteristic": {"emailAddress": value}}
    return {"mediumType": kind, "characteristic": {"socialNetworkId": value}}


@pytest.mark.parametrize(("source", "delivery", "channel"), VENDORS, ids=[v[0] for v in VENDORS])
def test_each_vendors_example_is_linked_to_the_party_holding_what_it_names(ingress, source, delivery, channel):
    body, headers, *query = delivery(ingress)
    assert post(ingress, source, body, headers, *query).status_code == 200
    native = NATIVE_IDS[source]()
    [interaction] = found(ingress, native)
    keys = [entry["id"] for entry in interaction.get("customerIdentifier", []) if "id" in entry]
    if source in NAMES_NO_CUSTOMER:
        assert keys == [] and "customerResolution" not in interaction, interaction
        return
    assert keys, f"{source}: the example names its customer by nothing a party can hold"
    party = f"{source}-{uuid.uuid4().hex[:8]}"
    answer = ingress.put(f"/ihub/v1/parties/{party}/contactMedium", json=[medium_for(k) for k in keys])
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 10  # at once in embedded mode; full mode's workers within seconds
    while True:
        doc = ingress.get(f"/tmf-api/partyInteraction/v4/partyInteraction/{interaction['id']}").json()
        linked = doc.get("customerResolution", {})
        if linked.get("partyId") == party or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert linked == {"status": "linked", "partyId": party, "identifier": keys[0]} or (
        linked.get("partyId") == party and linked.get("identifier") in keys
    ), doc
    assert party in [p["id"] for p in doc["relatedParty"] if p["role"] == "customer"]
    # and the directory was put back: the next test finds the examples as they came
    assert ingress.put(f"/ihub/v1/parties/{party}/contactMedium", json=[]).status_code == 200
