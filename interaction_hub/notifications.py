"""The notifications a change causes, which callbacks the hub may call, and posting one
notification to a subscriber's callback.

Both dispatchers use these: the embedded API's (query_api/hub.py, from the store's outbox) and the
full-mode workers' (stream_workers/notifier.py, from the change topic).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import httpx
import orjson

from interaction_hub.references import ReferenceLinks
from interaction_hub.settings import Settings
from schemas.common import utc_now
from schemas.events import DEFAULT_PORTS, callback_url, change_events
from schemas.party_interaction_v5 import v5_event
from storage.base import Delivery
from storage.query import Query, matches
from storage.tmf630 import QueryError, parse_filter

log = logging.getLogger(__name__)

MAX_RETRY_DELAY_S = 300.0  # a failing callback is retried at least every five minutes

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Endpoint = tuple[str, int]  # (host name or address, as `endpoint` writes them; port)
LOOPBACK_NETWORKS: tuple[IPNetwork, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


class CallbackRefused(ValueError):
    """A callback the hub does not call; the message says why."""


def endpoint(host: str, port: int) -> Endpoint:
    """A host and port as the callback rule compares them: names in lower case without a trailing
    dot, addresses in their canonical form."""
    host = host.strip("[]").rstrip(".").lower()
    try:
        return str(_address(host)), port
    except ValueError:
        return host, port


def _port(url: httpx.URL) -> int:
    return url.port if url.port is not None else DEFAULT_PORTS.get(url.scheme, 0)


@dataclass(frozen=True)
class CallbackRule:
    """Where callbacks may point: hosts whose addresses are all public, or in a network the operator
    allows (IHUB_HUB_ALLOWED_NETWORKS, IHUB_HUB_LOOPBACK_CALLBACKS), and never this server itself."""

    allowed_networks: tuple[IPNetwork, ...] = ()
    this_server: frozenset[Endpoint] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings, *, loopback_by_default: bool = False) -> CallbackRule:
        """`loopback_by_default`: whether callbacks may reach loopback addresses when
        IHUB_HUB_LOOPBACK_CALLBACKS is unset. Only the API can tell (query_api/hub.py); a worker
        allows them only when the setting says so."""
        server: frozenset[Endpoint] = frozenset()
        if settings.public_url:  # where clients reach this server
            url = httpx.URL(settings.public_url)
            server = frozenset([endpoint(url.raw_host.decode("ascii"), _port(url))])
        networks = tuple(settings.hub_allowed_networks)
        loopback = settings.hub_loopback_callbacks
        if loopback or (loopback is None and loopback_by_default):
            networks += LOOPBACK_NETWORKS
        return cls(networks, server)

    def serving(self, *endpoints: Endpoint) -> CallbackRule:
        """The rule, also refusing these endpoints of this server (where a request reached it)."""
        return replace(self, this_server=self.this_server | set(endpoints))


@dataclass(frozen=True)
class Target:
    """A callback that passed the rule, and the checked address to connect to."""

    url: httpx.URL
    address: str


async def check_callback(callback: str, rule: CallbackRule) -> Target:
    """The callback rule, applied at registration and again before every delivery: a name can
    resolve elsewhere by then, so a delivery connects to the address checked here."""
    try:
        url = callback_url(callback)
    except ValueError as exc:
        raise CallbackRefused(str(exc)) from None
    host, port = url.raw_host.decode("ascii"), _port(url)
    if endpoint(host, port) in rule.this_server:
        raise CallbackRefused("points at this server")
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise CallbackRefused(f"host {host} does not resolve") from None
    addresses = [_address(str(info[4][0])) for info in found]
    if any((str(address), port) in rule.this_server for address in addresses):
        raise CallbackRefused("points at this server")
    for address in addresses:
        allowed = any(address in network for network in rule.allowed_networks)
        # not global: loopback, private, link-local, unspecified, reserved, shared, documentation
        if not allowed and (not address.is_global or address.is_multicast):
            what = str(address) if host == str(address) else f"{host} resolves to {address}, which"
            raise CallbackRefused(f"{what} is not a public address")
    return Target(url, str(addresses[0]))


def _address(text: str) -> IPAddress:
    address = ipaddress.ip_address(text.split("%")[0])  # without an IPv6 zone (fe80::1%eth0)
    # ::ffff:127.0.0.1 reaches 127.0.0.1: judge it as that
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def callback_client(timeout_s: float) -> httpx.AsyncClient:
    """The HTTP client that calls callbacks. It follows no redirect (that could lead anywhere the
    rule forbids) and has no cap on connections: a subscriber that holds one must not keep
    another waiting for the pool (each subscriber has at most one request under way)."""
    return httpx.AsyncClient(timeout=timeout_s, follow_redirects=False, limits=httpx.Limits(max_connections=None))


async def post_event(
    client: httpx.AsyncClient, callback: str, body: bytes, rule: CallbackRule, deadline_s: float
) -> str | None:
    """POST one notification; None when the listener took it (2xx), else why not. The whole
    attempt (checking the callback, connecting, sending, the answer's status) gets `deadline_s`:
    a listener that answers a byte at a time cannot hold it longer."""
    try:
        return await asyncio.wait_for(_post(client, callback, body, rule), deadline_s)
    except TimeoutError:
        return f"no answer within {deadline_s:g} s"
    except CallbackRefused as exc:
        return f"callback refused: {exc}"
    except httpx.HTTPError as exc:
        return repr(exc)


async def _post(client: httpx.AsyncClient, callback: str, body: bytes, rule: CallbackRule) -> str | None:
    target = await check_callback(callback, rule)
    # to the checked address; the name still goes in Host and, for https, in SNI and the
    # certificate check
    request = client.build_request(
        "POST",
        target.url.copy_with(host=target.address),
        content=body,
        headers={"host": target.url.netloc.decode("ascii"), "content-type": "application/json"},
        extensions={"sni_hostname": target.url.raw_host.decode("ascii")},
    )
    response = await client.send(request, stream=True)
    await response.aclose()  # the status is the answer; the body is not read
    return None if response.is_success else f"HTTP {response.status_code}"


class Subscriber(NamedTuple):
    id: str
    callback: str
    query: Query | None  # parsed
    # a listener registered through TMF683 v5: where its interactions' hrefs start (it gets the
    # events in the v5 shape, and its query reads them); None: v4
    v5: str | None = None


def subscriber(subscription: dict[str, Any]) -> Subscriber:
    query = subscription.get("query")
    return Subscriber(
        subscription["id"], subscription["callback"], parse_filter(query) if query else None, subscription.get("v5")
    )


def subscribers(subscriptions: Iterable[dict[str, Any]]) -> tuple[Subscriber, ...]:
    """The stored subscriptions as subscribers. One whose query this version refuses (stored by an
    older one with other query rules) is left out with a log line, rather than stopping the hub."""
    found = []
    for subscription in subscriptions:
        try:
            found.append(subscriber(subscription))
        except QueryError as exc:
            log.warning("subscription %s is not served: its query is refused (%s)", subscription.get("id"), exc)
    return tuple(found)


def fan_out(
    subscribers: tuple[Subscriber, ...],
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    *,
    links: ReferenceLinks,
    changed: list[str] | None = None,
    max_pending: int | None = None,
) -> list[Delivery]:
    """The notifications a change causes, one per subscriber whose query the event matches. The
    deliveries of one event share one body. The interaction an event carries is shown as the API
    shows it: its references linked. `changed`: as for `change_events`."""
    if not subscribers:
        return []
    deliveries = []
    for event in change_events(old, new, utc_now(), changed):
        event["event"]["partyInteraction"] = links.linked(event["event"]["partyInteraction"])
        body = orjson.dumps(event)
        in_v5: dict[str, tuple[dict[str, Any], bytes]] = {}  # the v5 event per href base, made once
        for sub in subscribers:
            seen, sent = event, body
            if sub.v5 is not None:
                if sub.v5 not in in_v5:
                    shaped = v5_event(event, href_base=sub.v5)
                    in_v5[sub.v5] = shaped, orjson.dumps(shaped)
                seen, sent = in_v5[sub.v5]
            if sub.query is None or matches(sub.query, seen):
                deliveries.append(Delivery(sub.id, sub.callback, sent, max_pending))
    return deliveries
