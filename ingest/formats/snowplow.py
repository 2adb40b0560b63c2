"""Snowplow enriched events (`snowplow`): what a site's and an app's trackers recorded, after
Snowplow's enrichment, as one web or app session per interaction.

A delivery is either form of the enriched event stream:
- TSV (`text/tab-separated-values`): one event a line, the 131 fields of `FIELDS` in that order
  (what Enrich writes to its enriched stream, e.g. a Kafka topic: one event a record). Timestamps
  are written `2013-11-26 00:03:57.885`, in UTC; contexts, derived_contexts and unstruct_event are
  self-describing JSON.
- JSON (`application/json`: an array of events or one event; `application/x-ndjson`, or NDJSON
  sent as application/json: one event a line), in the Analytics SDKs' shape: the field names as
  keys, ISO 8601 times. Entities are either kept self-describing (`contexts: {schema, data: [..]}`,
  as Snowplow Micro shows them) or flattened (`contexts_<vendor>_<name>_<major>: [..]`,
  `unstruct_event_<vendor>_<name>_<major>: {..}`, as Snowbridge's spEnrichedToJson writes them).
Both become the same record: the event's non-empty fields with the SDKs' types (numbers,
booleans, ISO 8601 times with Z, entities as JSON). Native id the event_id (an event never
changes: a redelivery is the same record), time its derived_tstamp (else collector_tstamp).

Records a source does not keep (`Options`, `keep`): page pings (`page_pings = false`, the
default: they carry no new page; kept, they extend the session's end), and robots (`bots =
false`, the default): an event the IAB enrichment marks `spiderOrRobot`, that ua-parser calls a
`Spider`, that YAUAA classes as a `Robot`, or whose user agent names itself a bot, crawler or
spider (`ROBOT_AGENT`).

Every other event contributes to ONE interaction per session, its key the session's id: the
domain_sessionid, else (mobile trackers) the client_session entity's sessionId, else (no session,
e.g. server-side trackers) the event's own event_id. Channel `web` for platform web, else `app`
(`CHANNELS`). Each event (page_ping aside) is an `interactionItem` (id the event_id, so a
redelivered event adds nothing): page and screen views name the page or screen viewed, structured
events their category, action, label, property and value, self-describing events their schema.
The interaction spans its events' times; it stays `inProgress`, since a session has no closing
event (it ends when a tracker stops sending); its reason, "Web session" or "App session", is the
same whichever event comes first. The externalIdentifier is the session's id, once (not every
event's: a session holds hundreds); customerIdentifier the user_id, domain_userid (and a mobile
session's userId, the same kind of id) and network_userid. A session holds at most the model's
1000 items: past them the change model keeps those it holds (storage/changes.py: contribute).
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

from ingest.adapters.common import AdapterError, humanize, interaction, optional, required
from ingest.formats import MAX_RECORDS, Format, FormatError, Record, contribute, external_id, identifier, record_of
from schemas.channel_event import ChannelEvent
from schemas.common import deeper_than, parse_date_time
from storage.changes import Change

FORMAT_ID = "snowplow"
TSV = "text/tab-separated-values"
JSON = "application/json"
NDJSON = "application/x-ndjson"

MAX_BODY_BYTES = 64 * 1024 * 1024
"""The largest delivery read (a file of MAX_RECORDS events of a few kilobytes each)."""

MAX_NESTING = 32
"""How deep an event may nest objects and arrays (Snowplow's own entities nest fewer than six)."""

# The enriched event's fields, in the order of its TSV (the Analytics SDKs' list).
FIELDS = (
    "app_id", "platform", "etl_tstamp", "collector_tstamp", "dvce_created_tstamp", "event", "event_id",
    "txn_id", "name_tracker", "v_tracker", "v_collector", "v_etl", "user_id", "user_ipaddress",
    "user_fingerprint", "domain_userid", "domain_sessionidx", "network_userid", "geo_country", "geo_region",
    "geo_city", "geo_zipcode", "geo_latitude", "geo_longitude", "geo_region_name", "ip_isp", "ip_organization",
    "ip_domain", "ip_netspeed", "page_url", "page_title", "page_referrer", "page_urlscheme", "page_urlhost",
    "page_urlport", "page_urlpath", "page_urlquery", "page_urlfragment", "refr_urlscheme", "refr_urlhost",
    "refr_urlport", "refr_urlpath", "refr_urlquery", "refr_urlfragment", "refr_medium", "refr_source",
    "refr_term", "mkt_medium", "mkt_source", "mkt_term", "mkt_content", "mkt_campaign", "contexts",
    "se_category", "se_action", "se_label", "se_property", "se_value", "unstruct_event", "tr_orderid",
    "tr_affiliation", "tr_total", "tr_tax", "tr_shipping", "tr_city", "tr_state", "tr_country", "ti_orderid",
    "ti_sku", "ti_name", "ti_category", "ti_price", "ti_quantity", "pp_xoffset_min", "pp_xoffset_max",
    "pp_yoffset_min", "pp_yoffset_max", "useragent", "br_name", "br_family", "br_version", "br_type",
    "br_renderengine", "br_lang", "br_features_pdf", "br_features_flash", "br_features_java",
    "br_features_director", "br_features_quicktime", "br_features_realplayer", "br_features_windowsmedia",
    "br_features_gears", "br_features_silverlight", "br_cookies", "br_colordepth", "br_viewwidth",
    "br_viewheight", "os_name", "os_family", "os_manufacturer", "os_timezone", "dvce_type", "dvce_ismobile",
    "dvce_screenwidth", "dvce_screenheight", "doc_charset", "doc_width", "doc_height", "tr_currency",
    "tr_total_base", "tr_tax_base", "tr_shipping_base", "ti_currency", "ti_price_base", "base_currency",
    "geo_timezone", "mkt_clickid", "mkt_network", "etl_tags", "dvce_sent_tstamp", "refr_domain_userid",
    "refr_dvce_tstamp", "derived_contexts", "domain_sessionid", "derived_tstamp", "event_vendor", "event_name",
    "event_format", "event_version", "event_fingerprint", "true_tstamp",
)  # fmt: skip

# The TSV fields that are not text, by type (the Analytics SDKs read them so)
INTEGERS = frozenset(
    {"txn_id", "domain_sessionidx", "page_urlport", "refr_urlport", "ti_quantity", "pp_xoffset_min"}
    | {"pp_xoffset_max", "pp_yoffset_min", "pp_yoffset_max", "br_viewwidth", "br_viewheight"}
    | {"dvce_screenwidth", "dvce_screenheight", "doc_width", "doc_height"}
)
NUMBERS = frozenset(
    {"geo_latitude", "geo_longitude", "se_value", "tr_total", "tr_tax", "tr_shipping", "ti_price"}
    | {"tr_total_base", "tr_tax_base", "tr_shipping_base", "ti_price_base"}
)
BOOLEANS = frozenset({name for name in FIELDS if name.startswith("br_features_")} | {"br_cookies", "dvce_ismobile"})
TIMESTAMPS = frozenset({name for name in FIELDS if name.endswith("_tstamp")})
SELF_DESCRIBING = frozenset({"contexts", "derived_contexts", "unstruct_event"})

CHANNELS = {
    "web": "web",
    "mob": "app",  # mobile phone or tablet
    "app": "app",  # general app
    "pc": "app",  # desktop application
    "tv": "app",  # connected TV
    "cnsl": "app",  # games console
    "iot": "app",  # internet of things
    "headset": "app",  # AR/VR headset
    "srv": "web",  # a server-side tracker: the site's back end, on behalf of a visitor
}
"""Snowplow's platform codes (the `platform` field) to the interaction's channel."""

SNOWPLOW = "com.snowplowanalytics.snowplow"
MOBILE = "com.snowplowanalytics.mobile"

ROBOT_AGENT = re.compile(r"(?<!cu)bot\b|crawler|spider|slurp|facebookexternalhit|headlesschrome", re.IGNORECASE)
"""User agents that say they are robots: Googlebot, bingbot, AdsBot, Baiduspider, Yahoo! Slurp,
link previews, headless browsers (not Cubot, a phone maker)."""

_SNOWPLOW_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)(Z|[+-]\d{2}:\d{2})?")
_CAMEL = re.compile(r"([^A-Z_])([A-Z])")


class Options(BaseModel):
    """The format's keys in a source's table."""

    model_config = ConfigDict(extra="forbid", strict=True)

    page_pings: bool = False
    """Keep page pings (they extend the session's end); left out by default."""
    bots: bool = False
    """Keep the events of robots; left out by default."""


# -- split --------------------------------------------------------------------------------------


def split(body: bytes, media_type: str) -> list[Record]:
    """Each enriched event of a delivery: TSV lines, a JSON array (or one event) or NDJSON."""
    if len(body) > MAX_BODY_BYTES:
        raise FormatError(f"the delivery is larger than {MAX_BODY_BYTES} bytes")
    if not body.strip():
        raise FormatError("the delivery is empty")
    if media_type == TSV:
        return [_record(event, where) for where, event in _tsv_events(body)]
    if media_type == JSON:
        return [_record(event, where) for where, event in _json_events(body)]
    if media_type == NDJSON:
        return [_record(event, where) for where, event in _ndjson_events(body)]
    raise FormatError(f"Snowplow enriched events are {TSV}, {JSON} or {NDJSON}, not {media_type!r}")


def _tsv_events(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FormatError(f"the delivery is not UTF-8 text: {error}") from None
    lines = text.split("\n", MAX_RECORDS)
    if len(lines) > MAX_RECORDS and lines[MAX_RECORDS].strip():
        raise FormatError(f"the delivery carries more than {MAX_RECORDS} records")
    events = []
    for number, line in enumerate(lines[:MAX_RECORDS], 1):
        line = line.removesuffix("\r")
        if not line:
            continue
        where = f"line {number}"
        values = line.split("\t", len(FIELDS))  # at most one field too many: never millions
        if len(values) != len(FIELDS):
            found = f"more than {len(FIELDS)}" if len(values) > len(FIELDS) else str(len(values))
            raise FormatError(f"{where}: {found} tab-separated fields, not the {len(FIELDS)} of an enriched event")
        events.append(
            (where, {name: _typed(name, value, where) for name, value in zip(FIELDS, values, strict=True) if value})
        )
    return events


def _typed(name: str, value: str, where: str) -> Any:
    """A TSV field's value with the type the Analytics SDKs give it."""
    try:
        if name in INTEGERS:
            if len(value) > 20:  # int() of a long string is slow, and no count is that long
                raise ValueError(value)
            return int(value)
        if name in NUMBERS:
            number = float(value) if len(value) <= 64 else math.nan
            if not math.isfinite(number):
                raise ValueError(value)
            return number
        if name in BOOLEANS:
            return {"1": True, "0": False, "true": True, "false": False}[value]
    except (ValueError, KeyError):
        raise FormatError(f"{where}: {name}: not {_TYPE_NAMES[name]}: {value[:40]!r}") from None
    return value  # text; times and entities are read as the JSON form's (_normalised)


_TYPE_NAMES = {
    **dict.fromkeys(INTEGERS, "an integer"),
    **dict.fromkeys(NUMBERS, "a number"),
    **dict.fromkeys(BOOLEANS, "a boolean (1 or 0)"),
}


def _json_events(body: bytes) -> list[tuple[str, Any]]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        if b"\n" in body.strip():  # NDJSON sent as application/json
            try:
                return _ndjson_events(body)
            except FormatError:
                pass
        raise FormatError(f"the delivery is not JSON: {error}") from None
    if deeper_than(document, MAX_NESTING + 1):
        raise FormatError(f"the delivery nests more than {MAX_NESTING} levels of objects and arrays")
    if isinstance(document, dict):
        return [("the event", document)]
    if not isinstance(document, list):
        raise FormatError(f"the delivery is neither an event nor an array of events but {_kind(document)}")
    if len(document) > MAX_RECORDS:
        raise FormatError(f"the delivery carries more than {MAX_RECORDS} records")
    return [(f"event [{index}]", event) for index, event in enumerate(document)]


def _ndjson_events(body: bytes) -> list[tuple[str, Any]]:
    lines = body.split(b"\n", MAX_RECORDS)
    if len(lines) > MAX_RECORDS and lines[MAX_RECORDS].strip():
        raise FormatError(f"the delivery carries more than {MAX_RECORDS} records")
    events = []
    for number, line in enumerate(lines[:MAX_RECORDS], 1):
        if not line.strip():
            continue
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise FormatError(f"line {number}: not JSON: {error}") from None
        if deeper_than(event, MAX_NESTING):
            raise FormatError(f"line {number}: nests more than {MAX_NESTING} levels of objects and arrays")
        events.append((f"line {number}", event))
    return events


def _record(event: Any, where: str) -> Record:
    if not isinstance(event, dict):
        raise FormatError(f"{where}: expected an event (a JSON object), got {_kind(event)}")
    data = _normalised(event, where)
    event_id = data.get("event_id")
    if not isinstance(event_id, str) or not event_id.strip():
        raise FormatError(f"{where}: event_id: expected a non-empty string, got {_kind(event_id)}")
    time = data.get("derived_tstamp") or data.get("collector_tstamp")
    if time is None:
        raise FormatError(f"{where}: neither derived_tstamp nor collector_tstamp: an enriched event has them")
    return Record(event_id, time, data)


def _normalised(event: dict[str, Any], where: str) -> dict[str, Any]:
    """The event without empty fields, its times ISO 8601 with Z and its entities parsed JSON."""
    data = {}
    for name, value in event.items():
        if value is None or value == "":
            continue
        if name in TIMESTAMPS:
            moment = iso_time(value) if isinstance(value, str) else None
            if moment is None:
                raise FormatError(f"{where}: {name}: not a date-time: {str(value)[:40]!r}")
            value = moment
        elif name in SELF_DESCRIBING and isinstance(value, str):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError as error:
                raise FormatError(f"{where}: {name}: not JSON: {error}") from None
            if deeper_than(value, MAX_NESTING):
                raise FormatError(f"{where}: {name}: nests more than {MAX_NESTING} levels of objects and arrays")
        data[name] = value
    return data


def iso_time(text: str) -> str | None:
    """`2013-11-26 00:03:57.885` (Snowplow's UTC) or ISO 8601 as `2013-11-26T00:03:57.885Z`; None
    when it is neither."""
    match = _SNOWPLOW_TIME.fullmatch(text)
    if match is None:
        return None
    moment = f"{match[1]}T{match[2]}{match[3] or 'Z'}"
    return moment if parse_date_time(moment) is not None else None


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


# -- which records a source keeps ---------------------------------------------------------------


def keep(record: Record, settings: dict[str, Any]) -> bool:
    """Whether a source keeps an event: page pings and robots only when its options say so."""
    event = record.data
    if event.get("event") == "page_ping" and not settings.get("page_pings", False):
        return False
    return bool(settings.get("bots", False)) or not is_robot(event)


def is_robot(event: dict[str, Any]) -> bool:
    """Whether the enrichments, or the user agent itself, say a robot sent the event."""
    iab = entities(event, "com.iab.snowplow", "spiders_and_robots")
    ua_parser = entities(event, SNOWPLOW, "ua_parser_context")
    yauaa = entities(event, "nl.basjes", "yauaa_context")
    agent = event.get("useragent")
    return (
        any(entity.get("spiderOrRobot") is True for entity in iab)
        or any(entity.get("deviceFamily") == "Spider" for entity in ua_parser)
        or any(str(entity.get("deviceClass", "")).startswith("Robot") for entity in yauaa)
        or (isinstance(agent, str) and ROBOT_AGENT.search(agent[:1000]) is not None)
    )


# -- adapt --------------------------------------------------------------------------------------


def adapt(event: ChannelEvent) -> Change:
    record = record_of(event)
    platform = required(record, "platform")
    kind = CHANNELS.get(platform)
    if kind is None:
        raise AdapterError(f"data.platform: unknown value {platform!r}; expected one of {', '.join(CHANNELS)}")
    key, key_type = session_key(record)
    at = _time(record) or event.time
    item = _item(record, at)
    label = "Web" if kind == "web" else "App"
    app_id = optional(record, "app_id")
    document = interaction(
        type_name=f"{label}SessionInteraction",
        kind=kind,
        reason=f"{label} session",
        direction="inbound",
        status="inProgress",  # a session has no closing event (module docstring)
        description=f"{label} session" + (f" on {app_id}" if app_id else ""),
        start=at,
        end=at,
        parties=[],
        interactionItem=[item] if item else None,  # a page ping only extends the session
        externalIdentifier=[external_id(key, event, key_type)],
        customerIdentifier=_identifiers(record) or None,
        session=_session(record, key if key_type != "event_id" else None),
    )
    return contribute(event, key, document)


def session_key(event: dict[str, Any]) -> tuple[str, str]:
    """The session an event belongs to, and where its id came from."""
    session_id = optional(event, "domain_sessionid")
    if session_id:
        return session_id, "domain_sessionid"
    for mobile_session in entities(event, SNOWPLOW, "client_session"):
        session_id = _text(mobile_session, "sessionId")
        if session_id:
            return session_id, "client_session.sessionId"
    return required(event, "event_id"), "event_id"


def _time(event: dict[str, Any]) -> str | None:
    for name in ("derived_tstamp", "collector_tstamp"):
        value = optional(event, name)
        if value is not None:
            moment = iso_time(value)
            if moment is None:
                raise AdapterError(f"data.{name}: not a date-time: {value!r}")
            return moment
    return None


def _item(event: dict[str, Any], at: str) -> dict[str, Any] | None:
    """The event as an item of its session (None for a page ping): what was viewed or done."""
    kind = optional(event, "event")
    name = optional(event, "event_name")
    if kind == "page_ping" or name == "page_ping":
        return None
    details: dict[str, Any] = {"type": kind, "schema": _schema(event)}
    viewed = None
    if kind == "page_view":
        reason = "Page view"
        viewed = {
            "@type": "WebPage",
            "role": "viewed",
            "href": optional(event, "page_url"),
            "name": optional(event, "page_title"),
        }
    elif name == "screen_view" and optional(event, "event_vendor") in (SNOWPLOW, MOBILE):
        reason = "Screen view"
        screen = self_describing(event)
        viewed = {"@type": "AppScreen", "role": "viewed", "id": _text(screen, "id"), "name": _text(screen, "name")}
    else:
        details |= _where(event)
        if kind == "struct":
            category, action = optional(event, "se_category"), optional(event, "se_action")
            reason = ": ".join(part for part in (category, action) if part) or "Structured event"
            details |= {
                "category": category,
                "action": action,
                "label": optional(event, "se_label"),
                "property": optional(event, "se_property"),
                "value": _number(event, "se_value"),
            }
        elif kind == "transaction":
            reason = "Transaction"
            details |= {
                "orderId": optional(event, "tr_orderid"),
                "total": _number(event, "tr_total"),
                "currency": optional(event, "tr_currency"),
            }
        elif kind == "transaction_item":
            reason = "Transaction item"
            details |= {
                "orderId": optional(event, "ti_orderid"),
                "sku": optional(event, "ti_sku"),
                "name": optional(event, "ti_name"),
                "category": optional(event, "ti_category"),
                "price": _number(event, "ti_price"),
                "quantity": optional(event, "ti_quantity", int),
                "currency": optional(event, "ti_currency"),
            }
        else:  # a self-describing event
            reason = humanize(name or kind or "event")
            if name == "link_click":
                details["targetUrl"] = _text(self_describing(event), "targetUrl")
    item: dict[str, Any] = {
        "id": required(event, "event_id"),
        "@type": "AnalyticsEventItem",
        "reason": reason,
        "itemDate": {"startDateTime": at},
        "event": {k: v for k, v in details.items() if v is not None},
    }
    if viewed is not None:
        item["item"] = {k: v for k, v in viewed.items() if v is not None}
    return item


def _number(event: dict[str, Any], name: str) -> float | None:
    """A number field; the Python Analytics SDK writes se_value as text, the others as a number."""
    value = event.get(name)
    if isinstance(value, str):
        try:
            number = float(value) if len(value) <= 64 else math.nan
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise AdapterError(f"data.{name}: not a number: {value[:40]!r}")
        return number
    found: float | None = optional(event, name, float)
    return found


def _schema(event: dict[str, Any]) -> str | None:
    """The event's schema, `iglu:<vendor>/<name>/<format>/<version>`."""
    parts = [optional(event, f"event_{part}") for part in ("vendor", "name", "format", "version")]
    return None if None in parts else "iglu:" + "/".join(parts)


def _where(event: dict[str, Any]) -> dict[str, Any]:
    """Where in the site or app an event happened: its page, or the app's screen."""
    screen = next(iter(entities(event, MOBILE, "screen")), {})
    return {
        "pageUrl": optional(event, "page_url"),
        "pageTitle": optional(event, "page_title"),
        "screenName": _text(screen, "name"),
    }


def _identifiers(event: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    user_id = optional(event, "user_id")
    if user_id:
        found.append(identifier("web", user_id, "snowplow-user-id"))
    # a mobile session's userId is the app's own per-install id, as domain_userid is the site's
    device_ids = [optional(event, "domain_userid")] + [
        _text(s, "userId") for s in entities(event, SNOWPLOW, "client_session")
    ]
    for device_id in device_ids:
        entry = identifier("web", device_id, "snowplow-domain-userid") if device_id else None
        if entry and entry not in found:
            found.append(entry)
    network_userid = optional(event, "network_userid")
    if network_userid:
        found.append(identifier("web", network_userid, "snowplow-network-userid"))
    return found


def _session(event: dict[str, Any], session_id: str | None) -> dict[str, Any]:
    """What a CSR reads of the session: where it came from and on what (the latest event's)."""
    mobile_session = next(iter(entities(event, SNOWPLOW, "client_session")), {})
    mobile = next(iter(entities(event, SNOWPLOW, "mobile_context")), {})
    application = next(iter(entities(event, MOBILE, "application")), {})
    index = optional(event, "domain_sessionidx", int)
    if index is None and isinstance(mobile_session.get("sessionIndex"), int):
        index = mobile_session["sessionIndex"]
    return {
        "sessionId": session_id,
        "sessionIndex": index,
        "appId": optional(event, "app_id"),
        "platform": optional(event, "platform"),
        "appVersion": _text(application, "version"),
        "tracker": optional(event, "v_tracker"),
        "userAgent": optional(event, "useragent"),
        "language": optional(event, "br_lang"),
        "country": optional(event, "geo_country"),
        "city": optional(event, "geo_city"),
        "device": _some(
            model=_text(mobile, "deviceModel"),
            manufacturer=_text(mobile, "deviceManufacturer"),
            osType=_text(mobile, "osType"),
            osVersion=_text(mobile, "osVersion"),
        ),
        "referrer": _some(
            medium=optional(event, "refr_medium"),
            source=optional(event, "refr_source"),
            term=optional(event, "refr_term"),
        ),
        "campaign": _some(
            medium=optional(event, "mkt_medium"),
            source=optional(event, "mkt_source"),
            term=optional(event, "mkt_term"),
            content=optional(event, "mkt_content"),
            name=optional(event, "mkt_campaign"),
        ),
        "robot": True if is_robot(event) else None,
    }


def _some(**values: Any) -> dict[str, Any] | None:
    """The values that are there, or None when none is (no empty objects in the session)."""
    present = {k: v for k, v in values.items() if v is not None}
    return present or None


# -- entities, in either JSON form --------------------------------------------------------------


def entities(event: dict[str, Any], vendor: str, name: str) -> list[dict[str, Any]]:
    """The data of the event's entities of schema `vendor/name`, major version 1, from contexts
    and derived_contexts (self-describing) or their flattened `contexts_<vendor>_<name>_1` key."""
    prefix = f"iglu:{vendor}/{name}/jsonschema/1-"
    found = []
    for field in ("contexts", "derived_contexts"):
        wrapper = event.get(field)
        items = wrapper.get("data") if isinstance(wrapper, dict) else None
        for entity in items if isinstance(items, list) else ():
            schema = entity.get("schema") if isinstance(entity, dict) else None
            if isinstance(schema, str) and schema.startswith(prefix) and isinstance(entity.get("data"), dict):
                found.append(entity["data"])
    flattened = event.get(f"contexts_{_snake(vendor)}_{_snake(name)}_1")
    if isinstance(flattened, list):
        found.extend(entity for entity in flattened if isinstance(entity, dict))
    return found


def self_describing(event: dict[str, Any]) -> dict[str, Any]:
    """The data of a self-describing event (unstruct_event), in either form; {} for none."""
    wrapper = event.get("unstruct_event")
    if isinstance(wrapper, dict):
        inner = wrapper.get("data")
        return inner["data"] if isinstance(inner, dict) and isinstance(inner.get("data"), dict) else {}
    for key, value in event.items():
        if key.startswith("unstruct_event_") and isinstance(value, dict):
            return value
    return {}


def _snake(name: str) -> str:
    """A schema's vendor or name as the flattened keys write it (the SDKs' rule)."""
    return _CAMEL.sub(r"\1_\2", name.replace(".", "_").replace("-", "_")).lower()


def _text(mapping: dict[str, Any], key: str) -> str | None:
    """A non-empty string of an entity (Enrich validated its schema), or None."""
    value = mapping.get(key)
    return value if isinstance(value, str) and value.strip() else None


FORMAT = Format(
    id=FORMAT_ID,
    split=split,
    adapt=adapt,
    media_types=(TSV, JSON, NDJSON),  # TSV first: what a Kafka record of the enriched stream holds
    options=Options,
    keep=keep,
)
