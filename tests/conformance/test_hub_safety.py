"""The hub against hostile or broken callbacks, over HTTP in both modes: what it refuses to
register, a listener that drips its answer, and the caps on subscriptions and on notifications
waiting for one subscriber."""

from __future__ import annotations

import time
from uuid import uuid4

import httpx
import pytest

from tests.conformance.test_hub import LOOPBACK
from tests.conformance.test_party_interaction import CTK_BODY, assert_tmf_error
from tests.support.server import own_server, subscribe
from tests.unit.interaction_hub.test_notifications_callbacks import Listener


def creates_of(marker: str) -> str:
    """Creates of this test's interactions only: full-mode servers of other tests share the topics."""
    return f"eventType=PartyInteractionCreateEvent&event.partyInteraction.description={marker}"


def create_marked(api: httpx.Client, marker: str) -> str:
    return str(api.post("partyInteraction", json={**CTK_BODY, "description": marker}).json()["id"])


# small caps and a one-second deadline per attempt
LIMITS = {"IHUB_HUB_MAX_SUBSCRIPTIONS": "3", "IHUB_HUB_MAX_PENDING": "3", "IHUB_NOTIFY_TIMEOUT_S": "1"}


@pytest.fixture(scope="module", params=["embedded", "search"])
def plain_api(request, tmp_path_factory):
    """A server the network reaches, with the default hub settings: callbacks reach public
    addresses only."""
    env = {"IHUB_NOTIFY_BACKOFF_S": "0.2", "IHUB_HOST": "0.0.0.0", "IHUB_AUTH": "off"}
    with own_server(request, tmp_path_factory, "hub-safety", env) as client:
        yield client


@pytest.fixture(scope="module", params=["embedded", "search"])
def limited_api(request, tmp_path_factory):
    env = {"IHUB_NOTIFY_BACKOFF_S": "0.2", **LOOPBACK, **LIMITS}
    with own_server(request, tmp_path_factory, "hub-safety", env) as client:
        yield client


@pytest.fixture
def listeners():
    made: list[Listener] = []

    def make(**kwargs) -> Listener:
        made.append(Listener(**kwargs))
        return made[-1]

    yield make
    for listener in made:
        listener.close()


@pytest.fixture
def limited_subscriptions(limited_api):
    made: list[dict] = []
    yield made
    for subscription in made:
        limited_api.delete(f"hub/{subscription['id']}")


@pytest.mark.parametrize(
    ("callback", "message"),
    [
        ("http://127.0.0.1:abc/x", "callback: not a valid URL (Invalid port: 'abc')"),
        ("http://user:pass@example.com/x", "callback: must not contain credentials (user:password@)"),
        ("http://127.0.0.1:9/x", "callback: 127.0.0.1 is not a public address"),
        ("http://169.254.169.254/latest/meta-data/", "callback: 169.254.169.254 is not a public address"),
        ("http://2130706433/x", "callback: 2130706433 resolves to 127.0.0.1, which is not a public address"),
        ("http://[::1]:9/x", "callback: ::1 is not a public address"),
        ("http://10.0.0.1/x", "callback: 10.0.0.1 is not a public address"),
        ("http://no-such-host.invalid/x", "callback: host no-such-host.invalid does not resolve"),
        ("{self}hub", "callback: points at this server"),
        ("https://example.com/" + "a" * 2048, "callback: String should have at most 2048 characters"),
    ],
)
def test_a_callback_that_is_not_a_public_http_endpoint_is_refused(plain_api, callback, message):
    started = time.monotonic()
    response = plain_api.post("hub", json={"callback": callback.format(self=plain_api.base_url)})
    assert assert_tmf_error(response, 400)["message"] == message
    assert time.monotonic() - started < 2


def test_the_server_itself_is_refused_when_loopback_is_allowed(limited_api):
    port = limited_api.base_url.port
    for callback in (f"{limited_api.base_url}hub", f"http://localhost:{port}/x"):
        error = assert_tmf_error(limited_api.post("hub", json={"callback": callback}), 400)
        assert error["message"] == "callback: points at this server"


def test_a_dripping_listener_delays_no_other_subscriber(limited_api, listeners, limited_subscriptions):
    slow, fast = listeners(drip=True), listeners()
    marker = uuid4().hex
    limited_subscriptions.extend(subscribe(limited_api, sink.url, creates_of(marker)) for sink in (slow, fast))
    started = time.monotonic()
    created = [create_marked(limited_api, marker) for _ in range(3)]
    assert fast.wait_for(3, timeout=10) == created
    took = time.monotonic() - started
    assert took < 2.5  # not one after another behind the slow listener's one-second attempts
    deadline = time.monotonic() + 5
    while len(slow.attempted) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slow.attempted[:2] == [created[0], created[0]]  # each attempt ended at the deadline, then a retry


def test_subscriptions_past_the_maximum_are_refused(limited_api, limited_subscriptions):
    never = "eventType=PartyInteractionDeleteEvent&event.partyInteraction.id=none"
    limited_subscriptions.extend(subscribe(limited_api, f"http://127.0.0.1:9/{n}", never) for n in range(3))
    response = limited_api.post("hub", json={"callback": "http://127.0.0.1:9/3", "query": never})
    assert assert_tmf_error(response, 409)["message"] == "the hub has its maximum of 3 subscriptions"
    assert limited_api.delete(f"hub/{limited_subscriptions.pop()['id']}").status_code == 204
    limited_subscriptions.append(subscribe(limited_api, "http://127.0.0.1:9/3", never))


def test_past_max_pending_the_oldest_notifications_are_dropped(limited_api, listeners, limited_subscriptions):
    sink = listeners(refusing=True)
    marker = uuid4().hex
    limited_subscriptions.append(subscribe(limited_api, sink.url, creates_of(marker)))
    created = [create_marked(limited_api, marker) for _ in range(6)]
    # the fourth is tried only once the three before it were dropped: the sixth is queued by then
    deadline = time.monotonic() + 10
    while created[3] not in sink.attempted and time.monotonic() < deadline:
        time.sleep(0.02)
    sink.refusing = False
    assert sink.wait_for(3) == created[3:]
    time.sleep(1)
    assert sink.received == created[3:]
