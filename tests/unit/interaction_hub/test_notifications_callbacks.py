"""Hub callbacks: which ones the hub calls (one rule, at registration and before each delivery),
how long one attempt may take, each subscriber delivered independently of the others and in
order, the caps on subscriptions and on waiting notifications, and one stored body per event.
The dispatchers run against real listeners on this machine; names resolve through a fake resolver
(numeric hosts through the real one)."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import orjson
import pytest

from interaction_hub.notifications import (
    CallbackRefused,
    CallbackRule,
    Target,
    check_callback,
    fan_out,
    post_event,
    subscriber,
)
from interaction_hub.references import ReferenceLinks
from interaction_hub.settings import Settings
from query_api.hub import Hub, HubFull, serves_this_machine_only
from schemas.change_record import Applied, ChangeRecord
from schemas.events import EventSubscriptionInput
from storage.base import Delivery
from storage.sqlite import outbox
from storage.sqlite.schema import SCHEMA, SCHEMA_VERSION, migrate
from storage.sqlite.store import SqliteStore
from stream_workers.notifier import Notifier
from tests.store_contract import create_change, resource

NAMES = {  # what the fake resolver answers
    "hooks.example.com": ["93.184.216.34"],
    "dual.example.com": ["93.184.216.34", "2606:2800:220:1::1"],
    "internal.example.com": ["10.1.2.3"],
    "mixed.example.com": ["93.184.216.34", "192.168.1.1"],
    "localhost": ["127.0.0.1"],
}
LOOPBACK = Settings(hub_allowed_networks=("127.0.0.0/8",))


def with_notify(settings: Settings, *, attempts: int, timeout_s: float, backoff_s: float) -> Settings:
    return settings.model_copy(
        update={"notify_max_attempts": attempts, "notify_timeout_s": timeout_s, "notify_backoff_s": backoff_s}
    )


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names from NAMES (a test may change them), numeric hosts as the system reads them, no DNS."""
    real = socket.getaddrinfo
    names = {name: list(addresses) for name, addresses in NAMES.items()}

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if host in names:
            return [
                (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in names[host]
            ]
        return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def check(url: str, rule: CallbackRule | None = None) -> Target:
    return asyncio.run(check_callback(url, rule or CallbackRule()))


# -- the callback rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:abc/x", "not a valid URL (Invalid port: 'abc')"),
        ("ftp://hooks.example.com/x", "must be an absolute http(s) URL"),
        ("/listener", "must be an absolute http(s) URL"),
        ("http://user:pass@hooks.example.com/", "must not contain credentials (user:password@)"),
        ("http://hooks.example.com:0/", "port 0 is out of range"),
        ("http://hooks.example.com:65536/", "port 65536 is out of range"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is not a public address"),
        ("http://2130706433/x", "2130706433 resolves to 127.0.0.1, which is not a public address"),
        ("http://0x7f.1/x", "0x7f.1 resolves to 127.0.0.1, which is not a public address"),
        ("http://127.0.0.1:8683/x", "127.0.0.1 is not a public address"),
        ("http://[::1]/x", "::1 is not a public address"),
        ("http://[::ffff:10.0.0.1]/x", "::ffff:10.0.0.1 resolves to 10.0.0.1, which is not a public address"),
        ("http://0.0.0.0/x", "0.0.0.0 is not a public address"),
        ("http://224.0.0.1/x", "224.0.0.1 is not a public address"),
        ("http://100.64.0.1/x", "100.64.0.1 is not a public address"),
        ("http://[fe80::1]/x", "fe80::1 is not a public address"),
        ("http://internal.example.com/x", "internal.example.com resolves to 10.1.2.3, which is not a public address"),
        ("http://mixed.example.com/x", "mixed.example.com resolves to 192.168.1.1, which is not a public address"),
        ("http://gone.example.com/x", "host gone.example.com does not resolve"),
    ],
)
def test_the_rule_refuses_what_is_not_a_public_http_endpoint(url, why):
    with pytest.raises(CallbackRefused) as refused:
        check(url)
    assert str(refused.value) == why


def test_the_rule_accepts_public_hosts_and_the_networks_an_operator_allows():
    assert check("https://hooks.example.com/in") == Target(httpx.URL("https://hooks.example.com/in"), "93.184.216.34")
    assert check("http://dual.example.com:8080/in").address == "93.184.216.34"
    internal = CallbackRule(allowed_networks=Settings(hub_allowed_networks="10.0.0.0/8").hub_allowed_networks)
    assert check("http://internal.example.com/in", internal).address == "10.1.2.3"
    assert check("http://127.0.0.1:9/in", CallbackRule.from_settings(LOOPBACK)).address == "127.0.0.1"


def test_the_rule_refuses_this_server_by_any_name():
    rule = CallbackRule.from_settings(LOOPBACK).serving(("127.0.0.1", 8683))
    for url in ("http://127.0.0.1:8683/tmf-api/partyInteraction/v4/hub", "http://LOCALHOST:8683/x"):
        with pytest.raises(CallbackRefused, match=r"^points at this server$"):
            check(url, rule)
    assert check("http://127.0.0.1:8684/x", rule).address == "127.0.0.1"  # another port, another server
    public = CallbackRule.from_settings(Settings(public_url="https://hooks.example.com"))
    with pytest.raises(CallbackRefused, match=r"^points at this server$"):
        check("https://HOOKS.example.com./tmf-api/partyInteraction/v4/hub", public)


def test_the_allowed_networks_setting_reads_comma_separated_cidrs(monkeypatch):
    monkeypatch.setenv("IHUB_HUB_ALLOWED_NETWORKS", "127.0.0.0/8, ::1/128")
    assert [str(n) for n in Settings().hub_allowed_networks] == ["127.0.0.0/8", "::1/128"]
    monkeypatch.delenv("IHUB_HUB_ALLOWED_NETWORKS")
    defaults = Settings()
    assert (defaults.hub_allowed_networks, defaults.hub_max_subscriptions, defaults.hub_max_pending) == (
        (),
        1000,
        10000,
    )


AUTH_ON = {"auth_public_key_file": "/keys/ihub.pem", "auth_issuer": "https://id.example", "auth_audience": "ihub"}


@pytest.mark.parametrize(
    ("settings", "this_machine_only"),
    [
        (Settings(), True),  # `ihub serve` as it comes: 127.0.0.1, the embedded store, no auth
        (Settings(host="::1"), True),
        (Settings(host="localhost", auth="off"), True),
        (Settings(host="0.0.0.0", auth="off"), False),  # reachable from the network
        (Settings(host="10.0.0.5", auth="off"), False),
        (Settings(**AUTH_ON), False),  # with tokens: callers from elsewhere, through a proxy
        (Settings(store="search"), False),  # the workers deliver, and cannot tell how the API is served
    ],
)
def test_loopback_callbacks_are_allowed_by_default_only_where_no_one_else_can_register(settings, this_machine_only):
    assert serves_this_machine_only(settings) is this_machine_only
    rule = CallbackRule.from_settings(settings, loopback_by_default=serves_this_machine_only(settings))
    if this_machine_only:
        assert check("http://127.0.0.1:9000/listener", rule).address == "127.0.0.1"
        assert check("http://localhost:9000/listener", rule).address == "127.0.0.1"
        assert check("http://[::1]:9000/listener", rule).address == "::1"
    else:
        with pytest.raises(CallbackRefused, match=r"^127\.0\.0\.1 is not a public address$"):
            check("http://127.0.0.1:9000/listener", rule)
    with pytest.raises(CallbackRefused, match=r"^10\.1\.2\.3 is not a public address$"):  # loopback only
        check("http://10.1.2.3/listener", rule)


def test_the_loopback_setting_overrides_the_default_both_ways(monkeypatch):
    monkeypatch.setenv("IHUB_HUB_LOOPBACK_CALLBACKS", "false")
    refused = CallbackRule.from_settings(Settings(), loopback_by_default=True)
    with pytest.raises(CallbackRefused, match=r"^127\.0\.0\.1 is not a public address$"):
        check("http://127.0.0.1:9000/listener", refused)
    monkeypatch.setenv("IHUB_HUB_LOOPBACK_CALLBACKS", "true")
    allowed = CallbackRule.from_settings(Settings(host="0.0.0.0", auth="off"))  # as a worker reads it
    assert check("http://127.0.0.1:9000/listener", allowed).address == "127.0.0.1"
    assert check("http://[::1]:9000/listener", allowed).address == "::1"
    monkeypatch.setenv("IHUB_HUB_LOOPBACK_CALLBACKS", "")  # an empty variable of a deployment file: unset
    assert Settings().hub_loopback_callbacks is None


# -- one delivery attempt ---------------------------------------------------------------------


def capture(requests: list[httpx.Request], status: int = 204) -> httpx.AsyncClient:
    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(status)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


def test_a_delivery_connects_to_the_address_it_checked():
    sent: list[httpx.Request] = []

    async def scenario():
        async with capture(sent) as client:
            return await post_event(client, "https://hooks.example.com:8443/in?x=1", b"{}", CallbackRule(), 1.0)

    assert asyncio.run(scenario()) is None
    (request,) = sent
    assert str(request.url) == "https://93.184.216.34:8443/in?x=1"
    assert request.headers["host"] == "hooks.example.com:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.com"  # and the certificate's name
    assert request.content == b"{}" and request.headers["content-type"] == "application/json"


def test_a_host_that_resolves_elsewhere_after_registration_is_not_called(resolver):
    check("http://hooks.example.com/in")  # registered while public
    resolver["hooks.example.com"] = ["127.0.0.1"]
    sent: list[httpx.Request] = []

    async def scenario():
        async with capture(sent) as client:
            return await post_event(client, "http://hooks.example.com/in", b"{}", CallbackRule(), 1.0)

    assert asyncio.run(scenario()) == (
        "callback refused: hooks.example.com resolves to 127.0.0.1, which is not a public address"
    )
    assert sent == []


def test_a_callback_stored_before_the_rule_is_refused_at_delivery():
    sent: list[httpx.Request] = []

    async def scenario():
        async with capture(sent) as client:
            return await post_event(client, "http://127.0.0.1:abc/x", b"{}", CallbackRule(), 1.0)

    assert asyncio.run(scenario()) == "callback refused: not a valid URL (Invalid port: 'abc')"
    assert sent == []


class Listener:
    """A notification receiver on this machine: takes notifications (201), refuses them (503)
    while `refusing`, or, when `drip`, answers a header line every 0.1 s for as long as the caller
    waits. `attempted` and `received` hold the interaction ids of the events it was sent and took."""

    def __init__(self, *, refusing: bool = False, drip: bool = False):
        self.attempted: list[str] = []
        self.received: list[str] = []
        self.refusing = refusing
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                interaction_id = orjson.loads(body)["event"]["partyInteraction"]["id"]
                listener.attempted.append(interaction_id)
                if drip:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    while True:
                        time.sleep(0.1)
                        self.wfile.write(b"x-drip: 1\r\n")  # raises once the caller has gone
                        self.wfile.flush()
                if listener.refusing:
                    self.send_response(503)
                else:
                    listener.received.append(interaction_id)
                    self.send_response(201)
                self.send_header("content-length", "0")
                self.end_headers()

            def handle_one_request(self):
                try:
                    super().handle_one_request()
                except OSError:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/listener"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 5) -> list[str]:
        """The ids received once there are `count` (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def listeners() -> Iterator[type[Listener]]:
    made: list[Listener] = []

    class Made(Listener):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            made.append(self)

    yield Made
    for listener in made:
        listener.close()


def test_an_attempt_ends_at_its_deadline_however_the_listener_drips(listeners):
    slow = listeners(drip=True)
    rule = CallbackRule.from_settings(LOOPBACK)

    async def scenario():
        async with httpx.AsyncClient(timeout=10) as client:  # per-read timeouts alone never fire here
            started = time.monotonic()
            body = orjson.dumps({"event": {"partyInteraction": {"id": "i1"}}})
            reason = await post_event(client, slow.url, body, rule, 0.5)
            return reason, time.monotonic() - started

    reason, took = asyncio.run(scenario())
    assert reason == "no answer within 0.5 s"
    assert 0.5 <= took < 1.0


# -- the embedded dispatcher ------------------------------------------------------------------


def assert_in_order(*attempted: list[str], docs: list[dict], max_attempts: int) -> None:
    """Each failing subscriber was tried on its events in order, each at most `max_attempts` times."""
    order = [doc["id"] for doc in docs]
    for ids in attempted:
        assert ids and ids == sorted(ids, key=order.index)
        assert max(ids.count(i) for i in ids) <= max_attempts


def interactions(count: int) -> list[dict]:
    return [resource({"reason": "r", "direction": "in", "channel": [{"id": "web"}]}, n) for n in range(count)]


def test_each_subscriber_is_delivered_on_its_own_and_in_order(tmp_path, listeners):
    slow, refusing, fast = listeners(drip=True), listeners(refusing=True), listeners()
    store = SqliteStore(tmp_path, synchronous="NORMAL")
    docs = interactions(5)

    async def scenario():
        # a callback an older version accepted, which cannot even be parsed
        await store.add_subscription({"id": "unparsable", "callback": "http://127.0.0.1:abc/x"})
        hub = Hub(store, outbox=store, settings=with_notify(LOOPBACK, attempts=3, timeout_s=0.5, backoff_s=0.05))
        await hub.start()
        try:
            for listener in (slow, refusing, fast):
                await hub.subscribe(EventSubscriptionInput(callback=listener.url))
            started = time.monotonic()
            for doc in docs:
                await store.write(create_change(doc), hub.notify)
                hub.wake()
            received = await asyncio.to_thread(fast.wait_for, 5)
            took = time.monotonic() - started
            await asyncio.sleep(0.3)  # nothing more comes: no duplicates
            return received, took, list(fast.received)
        finally:
            await hub.stop()
            await store.close()

    received, took, finally_received = asyncio.run(scenario())
    assert received == finally_received == [doc["id"] for doc in docs]
    assert took < 1.5  # not after the slow listener's attempts, 0.5 s each
    assert_in_order(slow.attempted, refusing.attempted, docs=docs, max_attempts=3)


def test_the_hub_takes_at_most_max_subscriptions_and_only_good_callbacks(tmp_path):
    store = SqliteStore(tmp_path, synchronous="NORMAL")
    settings = Settings(hub_allowed_networks=("127.0.0.0/8",), hub_max_subscriptions=2)

    async def scenario():
        hub = Hub(store, outbox=store, settings=with_notify(settings, attempts=1, timeout_s=1, backoff_s=1))
        await hub.start()
        try:
            with pytest.raises(CallbackRefused, match=r"^169\.254\.169\.254 is not a public address$"):
                await hub.subscribe(EventSubscriptionInput(callback="http://169.254.169.254/"))
            first = await hub.subscribe(EventSubscriptionInput(callback="http://127.0.0.1:9/a"))
            await hub.subscribe(EventSubscriptionInput(callback="http://127.0.0.1:9/b"))
            with pytest.raises(HubFull, match=r"^the hub has its maximum of 2 subscriptions$"):
                await hub.subscribe(EventSubscriptionInput(callback="http://127.0.0.1:9/c"))
            assert await hub.unsubscribe(first.id)
            await hub.subscribe(EventSubscriptionInput(callback="http://127.0.0.1:9/c"))
            return sorted(s["callback"] for s in await store.subscriptions())
        finally:
            await hub.stop()
            await store.close()

    assert asyncio.run(scenario()) == ["http://127.0.0.1:9/b", "http://127.0.0.1:9/c"]


# -- the outbox -------------------------------------------------------------------------------


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(SCHEMA)
    migrate(conn)
    yield conn
    conn.close()


def subscribe_rows(conn: sqlite3.Connection, *ids: str) -> None:
    for subscription_id in ids:
        outbox.add_subscription(conn, subscription_id, orjson.dumps({"id": subscription_id, "callback": "cb"}))


def test_an_event_body_is_stored_once_for_all_its_subscribers(conn):
    ids = [f"s{n}" for n in range(100)]
    subscribe_rows(conn, *ids)
    doc = {**interactions(1)[0], "description": "x" * 1_000_000}
    links = ReferenceLinks.from_settings(Settings())
    deliveries = fan_out(tuple(subscriber({"id": i, "callback": "cb"}) for i in ids), None, doc, links=links)
    assert len(deliveries) == 100 and len({id(d.body) for d in deliveries}) == 1  # one body in memory too
    outbox.enqueue(conn, deliveries)
    stored = conn.execute("SELECT count(*), sum(length(body)) FROM notification").fetchone()
    assert stored == (1, len(deliveries[0].body))
    heads = outbox.due_deliveries(conn, time.time(), 1000)
    assert sorted(d.subscription_id for _, d, _ in heads) == sorted(ids)
    assert all(d.body == deliveries[0].body for _, d, _ in heads)
    for delivery_id, _, _ in heads[:99]:
        outbox.delivery_done(conn, delivery_id)
    assert conn.execute("SELECT count(*) FROM notification").fetchone() == (1,)  # one subscriber still owed it
    outbox.delivery_failed(conn, heads[99][0], None)  # given up
    assert conn.execute("SELECT count(*) FROM notification").fetchone() == (0,)


def test_past_max_pending_the_oldest_deliveries_are_dropped(conn, caplog):
    subscribe_rows(conn, "slow", "other")
    with caplog.at_level(logging.WARNING, logger="storage.sqlite.outbox"):
        for n in range(1, 8):
            outbox.enqueue(
                conn, [Delivery("slow", "cb", str(n).encode(), 3), Delivery("other", "cb", str(n).encode(), 10)]
            )
    waiting = conn.execute(
        "SELECT o.subscription_id, n.body FROM outbox o JOIN notification n ON n.id = o.notification_id ORDER BY o.id"
    ).fetchall()
    assert [body for sub, body in waiting if sub == "slow"] == [b"5", b"6", b"7"]
    assert [body for sub, body in waiting if sub == "other"] == [str(n).encode() for n in range(1, 8)]
    assert conn.execute("SELECT id, pending, dropped FROM subscription ORDER BY id").fetchall() == [
        ("other", 7, 0),
        ("slow", 3, 4),
    ]
    assert [r.getMessage() for r in caplog.records] == [  # one line each time the count doubles
        f"subscription slow: more than 3 notifications waiting, dropped the oldest ({n} so far)" for n in (1, 2, 4)
    ]
    outbox.remove_subscription(conn, "other")
    assert conn.execute("SELECT count(*) FROM notification").fetchone() == (3,)  # only what "slow" still needs


def test_an_older_store_keeps_its_queued_deliveries(tmp_path):
    old = sqlite3.connect(tmp_path / "interactions.sqlite3", isolation_level=None)
    old.executescript(
        """
        CREATE TABLE subscription (id TEXT PRIMARY KEY, doc BLOB NOT NULL);
        CREATE TABLE delivery (
            id INTEGER PRIMARY KEY, subscription_id TEXT NOT NULL, callback TEXT NOT NULL,
            body BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, due REAL NOT NULL
        );
        CREATE INDEX delivery_queue ON delivery (subscription_id, id);
        INSERT INTO subscription VALUES ('a', '{"id": "a", "callback": "http://a"}');
        INSERT INTO subscription VALUES ('b', '{"id": "b", "callback": "http://b"}');
        INSERT INTO delivery VALUES (1, 'a', 'http://a', CAST('E1' AS BLOB), 2, 100.0);
        INSERT INTO delivery VALUES (2, 'b', 'http://b', CAST('E1' AS BLOB), 0, 0);
        INSERT INTO delivery VALUES (3, 'a', 'http://a', CAST('E2' AS BLOB), 0, 0);
        PRAGMA user_version = 7;
        """
    )
    old.close()
    store = SqliteStore(tmp_path, synchronous="NORMAL")

    async def scenario():
        heads = await store.due_deliveries(1000.0, 10)
        await store.delivery_done(heads[0][0])
        return heads, await store.due_deliveries(1000.0, 10)

    heads, after = asyncio.run(scenario())
    asyncio.run(store.close())
    assert [(i, d.subscription_id, d.callback, d.body, a) for i, d, a in heads] == [
        (1, "a", "http://a", b"E1", 2),
        (2, "b", "http://b", b"E1", 0),
    ]
    assert [(i, d.subscription_id, d.body) for i, d, _ in after] == [(2, "b", b"E1"), (3, "a", b"E2")]
    check = sqlite3.connect(tmp_path / "interactions.sqlite3")
    assert check.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert check.execute("SELECT count(*) FROM notification").fetchone() == (2,)  # E1 once
    assert check.execute("SELECT id, pending FROM subscription ORDER BY id").fetchall() == [("a", 1), ("b", 1)]
    assert check.execute("SELECT name FROM sqlite_master WHERE name = 'delivery'").fetchall() == []
    check.close()


# -- the full-mode notifier -------------------------------------------------------------------


class Subscriptions:
    """The subscription index, as the notifier reads it."""

    def __init__(self, *subscriptions: dict):
        self.list = list(subscriptions)

    async def subscriptions(self) -> list[dict]:
        return self.list


def records(docs: list[dict]) -> list[ChangeRecord]:
    return [
        Applied(f"e-{doc['id']}", "urn:test", "t", "2024-05-01T00:00:00Z", doc["id"], 1, "create", None, doc)
        for doc in docs
    ]


def test_full_mode_subscribers_are_delivered_on_their_own_and_in_order(listeners):
    slow, refusing, fast = listeners(drip=True), listeners(refusing=True), listeners()
    index = Subscriptions(
        {"id": "unparsable", "callback": "http://127.0.0.1:abc/x"},
        *({"id": name, "callback": listener.url} for name, listener in [("s", slow), ("r", refusing), ("f", fast)]),
    )
    docs = interactions(5)

    async def scenario():
        notifier = Notifier(index, with_notify(LOOPBACK, attempts=3, timeout_s=0.5, backoff_s=0.05))
        try:
            started = time.monotonic()
            queued = 0
            for record in records(docs):  # one batch each: the worst case for a shared wait
                queued += await notifier.handle([record])
            handled = time.monotonic() - started
            received = await asyncio.to_thread(fast.wait_for, 5)
            return queued, handled, received, time.monotonic() - started
        finally:
            await notifier.close()

    queued, handled, received, took = asyncio.run(scenario())
    assert queued == 20
    assert handled < 0.2  # no batch waits for a callback
    assert received == [doc["id"] for doc in docs]
    assert took < 1.5  # not after the slow listener's attempts, 0.5 s each
    assert_in_order(slow.attempted, refusing.attempted, docs=docs, max_attempts=3)


def test_full_mode_drops_the_oldest_past_max_pending(listeners, caplog):
    sink = listeners()
    index = Subscriptions({"id": "s", "callback": sink.url})
    settings = Settings(hub_allowed_networks=("127.0.0.0/8",), hub_max_pending=3)
    docs = interactions(7)

    async def scenario():
        notifier = Notifier(index, with_notify(settings, attempts=3, timeout_s=1, backoff_s=0.05))
        try:
            with caplog.at_level(logging.WARNING, logger="stream_workers.notifier"):
                assert await notifier.handle(records(docs)) == 7
            return await asyncio.to_thread(sink.wait_for, 3)
        finally:
            await notifier.close()

    assert asyncio.run(scenario()) == [doc["id"] for doc in docs[4:]]
    assert [r.getMessage() for r in caplog.records] == [
        f"subscription s: more than 3 notifications waiting, dropped the oldest ({n} so far)" for n in (1, 2, 4)
    ]
