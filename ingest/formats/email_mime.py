"""Mail (`email-mime`): raw RFC 5322 messages as an MTA pipe, an IMAP fetch or a mailbox export
hands them over, and Amazon SES inbound notifications that carry the message.

A delivery is one of (by media type):
- `message/rfc822`, `text/plain`: one raw message (one that starts with an mbox `From ` line is
  read as an mbox, as a Postfix pipe with the F flag writes it);
- `application/mbox`: messages each after a `From ` separator line (`>From ` lines unquoted, mboxrd);
- `application/json` (and `text/plain` starting with `{`, as SNS posts it): an SES `Received`
  notification, {notificationType, mail {messageId, timestamp, ...}, receipt {recipients,
  spamVerdict, ..., action {type, encoding}}, content}, whose `content` is the raw message
  (base64 when `receipt.action.encoding` is BASE64), or the SNS envelope whose `Message` is that
  notification as a string. Only a receipt rule's SNS action puts the message in `content`.

Each message is one record, read with the standard library's `email` package (policy.default)
within bounds: MAX_DELIVERY_BYTES a delivery, MAX_PARTS MIME parts nesting at most MAX_DEPTH
levels, MAX_HEADERS header fields of at most MAX_HEADER_BYTES each; beyond, FormatError naming
the bound. Its native id is its Message-ID without angle brackets (a redelivery is the same
record); a message without one gets `sha256:<hex digest of its bytes>`. Its time is its Date, else
SES's `mail.timestamp`; a message with neither cannot be adapted (AdapterError naming Date).

Record data (what adapt reads): messageId, generatedId (true for the sha256 fallback), inReplyTo,
references [ids], date, subject, from/to/cc [{address, name}], text (text/plain, else the HTML as
text; at most MAX_NOTE_CHARS), attachments [{filename, mediaType, size}] (never their bytes),
report (a delivery status notification: {recipients [{address, action, status}], of {messageId,
inReplyTo, references, from, subject} of the returned message}), ses {messageId, timestamp,
recipients, verdicts}.

A thread is one `EmailInteraction`, keyed by its root: the first id of References, else
In-Reply-To, else the message's own Message-ID. Each message contributes its part
(storage.changes: contribute): a note, its Message-ID in externalIdentifier, its attachments, its
customer's addresses, the span of dates. A message is outbound when its From is one of the
source's own addresses (option `own_addresses`; an SES notification's receipt recipients count as
own too), else inbound. Its status: inbound `inProgress` (the customer waits), outbound
`completed` (we answered); the newest message's wins, so a thread is open while its last word is
the customer's. The interaction's direction is that of the first message the hub received of it.

A delivery status notification (a bounce: multipart/report with a message/delivery-status part)
joins the thread of the message it returns, with a note naming each recipient's action and status,
and makes the thread `inProgress` when delivery failed (an answer that never arrived is no answer);
one that returns no message with a Message-ID cannot be placed (AdapterError).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import UTC
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import EmailPolicy, default
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any, NamedTuple

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ingest.adapters.common import AdapterError, interaction, optional, required, strings, timestamp
from ingest.formats import (
    MAX_RECORDS,
    Format,
    FormatError,
    Record,
    contribute,
    external_id,
    identifier,
    record_of,
    settings_of,
)
from schemas.channel_event import ChannelEvent
from schemas.common import deeper_than, describe, parse_date_time
from storage.changes import Change

FORMAT_ID = "email-mime"
MEDIA_TYPES = ("message/rfc822", "application/mbox", "text/plain", "application/json")

MAX_DELIVERY_BYTES = 25 * 1024 * 1024
"""The largest delivery: a message, an mbox or an SES notification (SES sends mail through SNS only
up to 150 KB; it bounces larger mail)."""
MAX_PARTS = 200
"""MIME parts of one message, every nested part counted."""
MAX_DEPTH = 10
"""Levels of nested MIME parts (multipart, attached messages)."""
MAX_HEADERS = 1000
"""Header fields of one message, those of its parts included."""
MAX_HEADER_BYTES = 16 * 1024
"""The longest header field (a long thread's References stays far below)."""
MAX_MIME_FIELD_BYTES = 2048
"""The longest Content-* field (a long non-ASCII filename, encoded, stays below). The email package
parses these again on each look, in time that grows with the square of their length."""
MAX_MIME_HEADER_BYTES = 32 * 1024
"""The Content-* fields of all parts of a message together (real parts write a hundred bytes each)."""
MAX_JSON_NESTING = 32
MAX_NOTE_CHARS = 8000
"""The longest text kept of a message (the rest is cut, marked with …)."""
MAX_DECODED_BYTES = 256 * 1024
"""The most bytes of a body part decoded (and of HTML parsed) to find that text."""
MAX_ADDRESSES = 100
"""Addresses kept of one From, To or Cc field."""
MAX_ATTACHMENTS = 50
"""Attachments listed of one message (an interaction holds at most 100)."""

NO_SUBJECT = "(no subject)"
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
_MBOX_SEPARATOR = re.compile(rb"^From ", re.MULTILINE)
_MBOX_QUOTED = re.compile(rb"^>(>*From )", re.MULTILINE)
_LINE_BREAKS = re.compile(r"[\r\n]")
# Reply and forward prefixes, repeated: "Re: Fwd: AW: Re[2]: subject". Unambiguous, so linear.
_REPLY_PREFIXES = re.compile(r"^(?:(?:re|fwd?|aw|wg|sv|antw)(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
# Codecs that are pure Python and slower than linear on hostile input: read as unknown charsets.
_SLOW_CODECS = {"punycode", "idna"}


class EmailOptions(BaseModel):
    """The `email-mime` keys of a source's table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    own_addresses: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="The source's own mailboxes (support@example.com) or domains (example.com, "
        "subdomains included): mail from them is outbound, an answer",
    )

    @field_validator("own_addresses")
    @classmethod
    def _normalised(cls, values: list[str]) -> list[str]:
        normalised = []
        for value in values:
            entry = value.strip().lower().removeprefix("@")
            if not entry or entry.count("@") > 1 or any(c.isspace() for c in entry) or entry.endswith("@"):
                raise ValueError(f"not an address or a domain: {value!r}")
            normalised.append(entry)
        return normalised


# -- split ------------------------------------------------------------------------------------


def split(body: bytes, media_type: str) -> list[Record]:
    if len(body) > MAX_DELIVERY_BYTES:
        raise FormatError(f"the delivery is larger than {MAX_DELIVERY_BYTES} bytes")
    if not body.strip():
        raise FormatError("the delivery is empty")
    kind = media_type.split(";")[0].strip().lower()
    if kind not in MEDIA_TYPES:
        raise FormatError(f"media type {kind!r}: expected one of {', '.join(MEDIA_TYPES)}")
    if kind == "application/json" or (kind == "text/plain" and body.lstrip()[:1] == b"{"):
        return [_ses_record(body)]
    if kind == "application/mbox" or body.startswith(b"From "):
        messages = _mbox_messages(body)
        records = []
        for number, message in enumerate(messages, 1):
            try:
                records.append(_record(message))
            except FormatError as error:
                raise FormatError(f"message {number} of {len(messages)} of the mbox: {error}") from None
        return records
    return [_record(body)]


def _mbox_messages(body: bytes) -> list[bytes]:
    if not body.startswith(b"From "):
        raise FormatError("not an mbox: it does not start with a 'From ' separator line")
    starts: list[int] = []
    for separator in _MBOX_SEPARATOR.finditer(body):
        if len(starts) == MAX_RECORDS:
            raise FormatError(f"the mbox holds more than {MAX_RECORDS} messages")
        starts.append(separator.start())
    messages = []
    for start, end in zip(starts, [*starts[1:], len(body)], strict=True):
        line_end = body.find(b"\n", start, end)
        message = body[line_end + 1 : end] if line_end >= 0 else b""
        messages.append(_MBOX_QUOTED.sub(rb"\1", message))
    return messages


def _ses_record(body: bytes) -> Record:
    notification = _json_object(body, "the delivery")
    if "notificationType" not in notification and "Type" in notification:
        notification = _sns_message(notification)
    kind = notification.get("notificationType")
    if kind != "Received":
        raise FormatError(f"notificationType: expected 'Received' (an SES inbound notification), got {kind!r}")
    mail = _object(notification, "mail")
    receipt = _object(notification, "receipt")
    action = _object(receipt, "action")
    content = notification.get("content")
    if not isinstance(content, str) or not content:
        raise FormatError(
            f"content: missing: the notification does not carry the message (receipt action "
            f"{action.get('type')!r}); only an SNS action does"
        )
    if str(action.get("encoding", "UTF8")).upper() == "BASE64":
        try:
            raw = base64.b64decode("".join(content.split()), validate=True)
        except (binascii.Error, ValueError) as error:
            raise FormatError(f"content: not base64 ({error})") from None
    else:
        raw = content.encode("utf-8", "replace")
    moment = mail.get("timestamp")
    verdicts = {
        name: verdict["status"]
        for name in ("spam", "virus", "spf", "dkim", "dmarc")
        if isinstance(verdict := receipt.get(f"{name}Verdict"), dict) and isinstance(verdict.get("status"), str)
    }
    recipients = receipt.get("recipients")
    ses = {
        "messageId": mail.get("messageId") if isinstance(mail.get("messageId"), str) else None,
        "timestamp": moment if isinstance(moment, str) and parse_date_time(moment) else None,
        "recipients": [r for r in recipients[:MAX_ADDRESSES] if isinstance(r, str)]
        if isinstance(recipients, list)
        else [],
        "verdicts": verdicts,
    }
    return _record(raw, {k: v for k, v in ses.items() if v is not None})


def _sns_message(envelope: dict[str, Any]) -> dict[str, Any]:
    kind = envelope.get("Type")
    if kind in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        url = envelope.get("SubscribeURL")
        where = f": {url}" if isinstance(url, str) and url.startswith("https://sns.") and len(url) < 2048 else ""
        raise FormatError(f"an SNS {kind}, not a notification: confirm the subscription at its SubscribeURL{where}")
    if kind != "Notification":
        raise FormatError(f"Type: expected an SNS 'Notification', got {kind!r}")
    message = envelope.get("Message")
    if not isinstance(message, str):
        raise FormatError("Message: expected the SES notification, as a JSON string")
    return _json_object(message.encode("utf-8", "replace"), "the SNS Message")


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise FormatError(f"{what} is not JSON: {error}") from None
    if deeper_than(document, MAX_JSON_NESTING):
        raise FormatError(f"{what} nests more than {MAX_JSON_NESTING} levels of objects and arrays")
    if not isinstance(document, dict):
        raise FormatError(f"{what} is not a JSON object")
    return document


def _object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key, {})
    if not isinstance(value, dict):
        raise FormatError(f"{key}: expected an object")
    return value


class _Budget:
    """What one message may hold, counted as the parser reads it (so it stops early)."""

    def __init__(self) -> None:
        self.parts = 0
        self.headers = 0
        self.mime_header_bytes = 0

    def new_part(self, policy: Any) -> EmailMessage:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise FormatError(f"more than {MAX_PARTS} MIME parts")
        return EmailMessage(policy=policy)


class _BoundedPolicy(EmailPolicy):
    """policy.default, counting header fields and their length as the parser reads them."""

    def __init__(self, budget: _Budget) -> None:
        super().__init__(message_factory=budget.new_part)
        object.__setattr__(self, "_budget", budget)  # a policy is read-only once made

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        budget: _Budget = self.__dict__["_budget"]
        budget.headers += 1
        if budget.headers > MAX_HEADERS:
            raise FormatError(f"more than {MAX_HEADERS} header fields")
        name = sourcelines[0].split(":", 1)[0]
        size = sum(len(line) for line in sourcelines)
        if size > MAX_HEADER_BYTES:
            raise FormatError(f"header field {name[:60]!r} is longer than {MAX_HEADER_BYTES} bytes")
        if name.lower().startswith("content-"):
            if size > MAX_MIME_FIELD_BYTES:
                raise FormatError(f"header field {name[:60]!r} is longer than {MAX_MIME_FIELD_BYTES} bytes")
            budget.mime_header_bytes += size
            if budget.mime_header_bytes > MAX_MIME_HEADER_BYTES:
                raise FormatError(f"the Content-* header fields are longer than {MAX_MIME_HEADER_BYTES} bytes in all")
        return super().header_source_parse(sourcelines)


def _parsed(raw: bytes, budget: _Budget, *, headers_only: bool = False) -> EmailMessage:
    message = BytesParser(policy=_BoundedPolicy(budget)).parsebytes(raw, headersonly=headers_only)
    assert isinstance(message, EmailMessage), "the budget makes every part"
    return message


def _record(raw: bytes, ses: dict[str, Any] | None = None) -> Record:
    try:
        data = _read(raw, ses)
    except FormatError:
        raise
    except RecursionError:
        raise FormatError("not a readable message: it nests too deep (comments in a header field?)") from None
    except Exception as error:  # the email package on input nobody meant: never another exception type
        raise FormatError(f"not a readable message ({type(error).__name__}: {error})") from None
    time = data.get("date") or (ses or {}).get("timestamp")
    return Record(data["messageId"], time, data)


def _read(raw: bytes, ses: dict[str, Any] | None) -> dict[str, Any]:
    budget = _Budget()
    message = _parsed(raw, budget)
    headers = _headers(message)
    if not headers:
        raise FormatError("not an RFC 5322 message: it has no header fields")
    _check_depth(message)
    message_id = _message_id(headers.get("message-id"))
    report = _report(message, budget)
    data: dict[str, Any] = {
        "messageId": message_id or f"sha256:{hashlib.sha256(raw).hexdigest()}",
        "generatedId": True if message_id is None else None,
        **_thread_headers(headers),
        "date": _date(headers.get("date")),
        "subject": _unstructured(headers.get("subject")),
        "from": _addresses(headers.get("from")),
        "to": _addresses(headers.get("to")),
        "cc": _addresses(headers.get("cc")),
        "text": _text(message),
        "attachments": [] if report else _attachments(message),
        "report": report,
        "ses": ses,
    }
    return {key: value for key, value in data.items() if value is not None}


def _headers(message: Message) -> dict[str, str]:
    """The first value of each header field, by lower-cased name, as written (unfolded)."""
    found: dict[str, str] = {}
    for name, value in message.raw_items():
        found.setdefault(name.lower(), _LINE_BREAKS.sub("", str(value)))
    return found


def _check_depth(message: Message) -> None:
    stack = [(message, 0)]
    while stack:
        part, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise FormatError(f"MIME parts nest deeper than {MAX_DEPTH} levels")
        if part.is_multipart():
            stack.extend((child, depth + 1) for child in part.get_payload() if isinstance(child, Message))


def _thread_headers(headers: dict[str, str]) -> dict[str, Any]:
    return {
        "inReplyTo": _message_id(headers.get("in-reply-to")),
        "references": [_clean(found) for found in _MESSAGE_ID.findall(headers.get("references", ""))] or None,
    }


def _message_id(value: str | None) -> str | None:
    """The id in `<...>` (angle brackets stripped); an id written without them, as some do."""
    if not value:
        return None
    found = _MESSAGE_ID.search(value)
    if found:
        return _clean(found.group(1))
    bare = value.strip()
    return _clean(bare) if bare and not any(c.isspace() or c in "<>" for c in bare) else None


def _date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if moment.tzinfo is None:  # "-0000": a time in UTC whose sender's zone is unknown
        moment = moment.replace(tzinfo=UTC)
    text = moment.isoformat()
    return text if parse_date_time(text) else None


def _unstructured(value: str | None) -> str | None:
    """A header value with its encoded words (RFC 2047) decoded; None when empty."""
    if value is None:
        return None
    try:
        text = str(default.header_factory("subject", value))
    except Exception:  # a value the header parser chokes on is kept as written
        text = value
    text = " ".join(_clean(text).split())
    return text or None


def _addresses(value: str | None) -> list[dict[str, str]]:
    if not value:
        return []
    # email.utils' parser: the policy's address parser takes ~40 times as long on long lists
    try:
        pairs = getaddresses([value])
    except Exception:  # e.g. RecursionError on comments nested thousands deep
        return []
    found = []
    for name, written in pairs[:MAX_ADDRESSES]:
        address = _clean(written).strip()
        local, at, domain = address.rpartition("@")
        if not (local and at and domain) or any(c.isspace() for c in address):
            continue
        decoded = _unstructured(name) if name else None
        found.append({"address": address, **({"name": decoded} if decoded else {})})
    return found


def _clean(text: str) -> str:
    """`text` as valid Unicode: raw 8-bit header bytes (kept by the parser as surrogates) read as
    UTF-8, anything undecodable replaced."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def _text(message: EmailMessage) -> str | None:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return None
    payload = body.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    text = _decoded(payload[:MAX_DECODED_BYTES], body.get_content_charset())
    if body.get_content_subtype() == "html":
        text = _html_text(text)
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if len(text) > MAX_NOTE_CHARS:
        text = text[:MAX_NOTE_CHARS].rstrip() + " …"
    return text or None


def _decoded(payload: bytes, charset: str | None) -> str:
    """Bytes in `charset`; an unknown charset, or ASCII holding 8-bit bytes, read as UTF-8, and
    whatever does not decode replaced."""
    name = (charset or "utf-8").lower()
    if name in ("us-ascii", "ascii") or name in _SLOW_CODECS:
        name = "utf-8"
    try:
        return payload.decode(name, "replace")
    except (LookupError, UnicodeError):
        return payload.decode("utf-8", "replace")


class _HtmlText(HTMLParser):
    """The text of an HTML body: script and style left out, a line break for each block."""

    _HIDDEN = frozenset({"script", "style", "head", "title"})
    _BLOCKS = frozenset(
        {"br", "p", "div", "li", "tr", "table", "blockquote", "hr", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self.hidden += 1
        elif tag in self._BLOCKS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self._BLOCKS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.pieces.append(data)


# html.parser is quadratic on some malformed markup (unclosed tags, comments, quoted attributes),
# so it reads a tamed copy: comments, declarations and attributes dropped, each tag reduced to
# <name> or </name>, and every other '<' escaped. One linear pass (possessive quantifiers).
_MARKUP = re.compile(
    r"<!--.*?(?:-->|\Z)|<(/?)([A-Za-z][A-Za-z0-9]*+)[^<>]{0,1000}+>|<[!?/][^<>]{0,1000}+>|<", re.DOTALL
)


def _tamed_tag(found: re.Match[str]) -> str:
    if found.group(2):
        return f"<{found.group(1)}{found.group(2).lower()}>"
    return "&lt;" if found.group(0) == "<" else ""


def _html_text(html: str) -> str:
    parser = _HtmlText()
    try:
        parser.feed(_MARKUP.sub(_tamed_tag, html))
        parser.close()
    except Exception:  # whatever the parser still refuses: the text found so far
        pass
    return "\n".join(" ".join(line.split()) for line in "".join(parser.pieces).split("\n"))


def _attachments(message: EmailMessage) -> list[dict[str, Any]]:
    """The parts that are files (a filename, or `attachment` disposition) and attached messages,
    not the body; those of an attached message belong to it."""
    body = message.get_body(preferencelist=("plain", "html"))
    found: list[dict[str, Any]] = []
    stack = [message]
    while stack and len(found) < MAX_ATTACHMENTS:
        part = stack.pop()
        kind = part.get_content_type()
        if part.get_content_maintype() == "multipart":
            stack.extend(reversed([p for p in part.get_payload() if isinstance(p, EmailMessage)]))
            continue
        filename = part.get_filename()
        if part is body or not (filename or part.is_attachment() or kind == "message/rfc822"):
            continue
        payload = None if part.is_multipart() else part.get_payload(decode=True)
        attachment: dict[str, Any] = {"filename": _clean(filename) if filename else None, "mediaType": kind}
        if isinstance(payload, bytes):
            attachment["size"] = len(payload)
        found.append({k: v for k, v in attachment.items() if v is not None})
    return found


def _report(message: EmailMessage, budget: _Budget) -> dict[str, Any] | None:
    """What a delivery status notification (RFC 3464) says, and of which message."""
    if message.get_content_type() != "multipart/report":
        return None
    status = returned = None
    for part in message.iter_parts():
        kind = part.get_content_type()
        payload = part.get_payload()
        if kind == "message/delivery-status":
            status = payload
        elif kind == "message/rfc822" and isinstance(payload, list) and payload:
            returned = payload[0]
        elif kind == "text/rfc822-headers":
            text = part.get_payload(decode=True)
            returned = _parsed(text, budget, headers_only=True) if isinstance(text, bytes) else None
    if not isinstance(status, list):
        return None
    recipients = []
    for block in status:
        fields = _headers(block) if isinstance(block, Message) else {}
        address = fields.get("final-recipient", "").partition(";")[2].strip()
        if address:
            entry = {
                "address": _clean(address),
                "action": _clean(fields.get("action", "").strip().lower()),
                "status": _clean(fields.get("status", "").strip()),
            }
            recipients.append({k: v for k, v in entry.items() if v})
    of: dict[str, Any] = {}
    if isinstance(returned, Message):
        headers = _headers(returned)
        found = {
            "messageId": _message_id(headers.get("message-id")),
            **_thread_headers(headers),
            "from": _addresses(headers.get("from")) or None,
            "subject": _unstructured(headers.get("subject")),
        }
        of = {k: v for k, v in found.items() if v is not None}
    return {"recipients": recipients[:MAX_ADDRESSES], "of": of}


# -- adapt ------------------------------------------------------------------------------------


class _Part(NamedTuple):
    """What one message says of its thread."""

    key: str  # the thread's root Message-ID
    outbound: bool
    status: str | None  # None: leaves the thread's status as it is
    customers: list[str]  # addresses, own ones included (left out later)
    reason: str
    text: str | None


def adapt(event: ChannelEvent) -> Change:
    record = record_of(event)
    own = _own_addresses(settings_of(event)) + [r.lower() for r in strings(record, "ses.recipients")]
    message_id = required(record, "messageId")
    date = timestamp(record, "date", needed=False) or timestamp(record, "ses.timestamp", needed=False)
    if date is None:
        raise AdapterError("Date: the message has no usable Date header (nor an SES mail.timestamp)")
    sender = next(iter(_addresses_at(record, "from")), None)
    subject = optional(record, "subject")
    report = optional(record, "report", dict)
    part = _message(record, sender, own) if report is None else _delivery_report(record, report, own)
    direction = "outbound" if part.outbound else "inbound"
    note = {"id": message_id, "author": sender, "date": date, "text": part.text}
    ses = optional(record, "ses", dict) or {}
    ses_id = optional(ses, "messageId")
    id_kind = "message-sha256" if optional(record, "generatedId", bool) else "Message-ID"
    document = interaction(
        type_name="EmailInteraction",
        kind="email",
        reason=part.reason,
        direction=direction,
        status=part.status or "inProgress",
        description=subject or NO_SUBJECT,
        start=date,
        end=date,
        parties=[],
        notes=[{k: v for k, v in note.items() if v is not None}] if part.text else None,
        attachment=[_attachment(record, i) for i in range(len(optional(record, "attachments", list, [])))] or None,
        externalIdentifier=[
            external_id(message_id, event, id_kind),
            *([external_id(ses_id, event, "ses-message-id")] if ses_id else []),
        ],
        customerIdentifier=[
            identifier("email", address) for address in dict.fromkeys(part.customers) if not _is_own(address, own)
        ]
        or None,
        email={
            "threadId": part.key,
            "messages": [
                {
                    "messageId": message_id,
                    "date": date,
                    "direction": direction,
                    "from": sender,
                    "to": _addresses_at(record, "to") or None,
                    "cc": _addresses_at(record, "cc") or None,
                    "subject": subject,
                    "inReplyTo": optional(record, "inReplyTo"),
                    "deliveryReport": True if report is not None else None,
                    "sesVerdicts": optional(ses, "verdicts", dict) or None,
                }
            ],
        },
    )
    if part.status is None:
        del document["status"]
    return contribute(event, part.key, document)


def _message(record: dict[str, Any], sender: str | None, own: list[str]) -> _Part:
    """A message of the thread: from the customer (inbound), or our answer (outbound)."""
    outbound = sender is not None and _is_own(sender, own)
    if outbound:
        customers = _addresses_at(record, "to") + _addresses_at(record, "cc")
    else:
        customers = [sender] if sender else []
    return _Part(
        key=_thread_root(record) or required(record, "messageId"),
        outbound=outbound,
        status="completed" if outbound else "inProgress",
        customers=customers,
        reason=_without_reply_prefixes(optional(record, "subject")),
        text=optional(record, "text"),
    )


def _delivery_report(record: dict[str, Any], report: dict[str, Any], own: list[str]) -> _Part:
    """A bounce (or a delay or success report): it belongs to the thread of the message it returns."""
    key = _thread_root(optional(report, "of", dict) or {})
    if key is None:
        raise AdapterError("report.of: a delivery report that returns no message with a Message-ID")
    returned_from = next(iter(_addresses_at(report, "of.from")), None)
    recipients = [_report_recipient(report, i) for i in range(len(optional(report, "recipients", list, [])))]
    lines = [f"Delivery report: {r['action']} for {r['address']} ({r['status']})" for r in recipients]
    text = optional(record, "text")
    return _Part(
        key=key,
        outbound=returned_from is not None and _is_own(returned_from, own),
        # an answer that never arrived is no answer; a delay or a success leaves the thread as it is
        status="inProgress" if any(r["action"] == "failed" for r in recipients) else None,
        customers=[r["address"] for r in recipients],
        reason=_without_reply_prefixes(optional(report, "of.subject") or optional(record, "subject")),
        text="\n\n".join(piece for piece in ("\n".join(lines), text) if piece) or None,
    )


def _own_addresses(settings: dict[str, Any]) -> list[str]:
    try:
        return EmailOptions.model_validate({"own_addresses": settings.get("own_addresses") or []}).own_addresses
    except ValidationError as error:
        raise AdapterError(f"source.own_addresses: {describe(error.errors(include_url=False))}") from None


def _is_own(address: str, own: list[str]) -> bool:
    address = address.lower()
    domain = address.rpartition("@")[2]
    return any(address == entry if "@" in entry else domain == entry or domain.endswith("." + entry) for entry in own)


def _addresses_at(data: dict[str, Any], path: str) -> list[str]:
    return [required(data, f"{path}.{i}.address") for i in range(len(optional(data, path, list, [])))]


def _thread_root(message: dict[str, Any]) -> str | None:
    """The id a thread is known by: the first of References, else In-Reply-To, else Message-ID."""
    references = strings(message, "references")
    return references[0] if references else optional(message, "inReplyTo") or optional(message, "messageId")


def _without_reply_prefixes(subject: str | None) -> str:
    return _REPLY_PREFIXES.sub("", (subject or "").strip()).strip() or NO_SUBJECT


def _report_recipient(report: dict[str, Any], index: int) -> dict[str, str]:
    here = f"recipients.{index}"
    return {
        "address": required(report, f"{here}.address"),
        "action": optional(report, f"{here}.action", str, "unknown"),
        "status": optional(report, f"{here}.status", str, "-"),
    }


def _attachment(record: dict[str, Any], index: int) -> dict[str, Any]:
    here = f"attachments.{index}"
    size = optional(record, f"{here}.size", int)
    return {
        "name": optional(record, f"{here}.filename") or "(unnamed)",
        "attachmentType": "emailAttachment",
        "mimeType": optional(record, f"{here}.mediaType"),
        "size": {"amount": size, "units": "bytes"} if size is not None else None,
    }


FORMAT = Format(
    id=FORMAT_ID,
    split=split,
    adapt=adapt,
    media_types=MEDIA_TYPES,
    options=EmailOptions,
)
