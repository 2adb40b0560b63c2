"""email-mime: raw RFC 5322 messages (one, or an mbox) and Amazon SES inbound notifications, from
the delivery to the stored TMF683 interaction of the thread.

The published samples (shared/vendor-samples/SOURCES.md, email/) are a Gmail reply with threading
headers, a small multipart/mixed, a bounce (DSN) and two SES notifications, one of them invalid
JSON as published. The other messages are built here, from RFC 5322/2045/2047/3464 and the SES
notification reference."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from ingest import adapters
from ingest.adapters.common import AdapterError
from ingest.formats import FORMATS, FormatError, email_mime, wrap
from ingest.formats.email_mime import FORMAT, EmailOptions
from schemas.channel_event import ChannelEvent, interaction_id
from schemas.party_interaction import validated_resource
from storage import changes
from tests.vendor_samples import sample

SOURCE = "test-source"
URN = f"urn:ihub:source:{SOURCE}"
RECEIVED = "2026-11-20T10:00:00Z"
RFC822 = "message/rfc822"
JSON = "application/json"
OWN = {"own_addresses": ["acme.example"]}

GMAIL_REPLY = "email/flanker-multi-received-headers.eml"
MULTIPART = "email/cpython-test_email-msg_44.txt"
BOUNCE = "email/cpython-test_email-msg_16.txt"
SES_SNS_ACTION = "email/ses-inbound-sns-action-notification.json"
SES_S3_ACTION = "email/ses-inbound-alert-notification.json"


# -- the real path ------------------------------------------------------------------------------


def events(body: bytes, media_type: str = RFC822, options: dict[str, Any] | None = None) -> list[ChannelEvent]:
    settings = {"name": SOURCE, **(options or {})}
    return [wrap(record, FORMAT.id, SOURCE, settings, received=RECEIVED) for record in FORMAT.split(body, media_type)]


def stored(
    *bodies: bytes, media_type: str = RFC822, options: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Every delivery's records applied in order; the interactions by id (each a valid TMF683 one)."""
    states: dict[str, changes.State] = {}
    for body in bodies:
        for event in events(body, media_type, options):
            change = adapters.adapt(event)
            outcome = changes.apply(states.get(change.interaction_id, changes.ABSENT), change, href="http://h/x/")
            states[change.interaction_id] = outcome.new
    docs = {key: state.doc for key, state in states.items() if state.doc is not None}
    for doc in docs.values():
        validated_resource(doc)  # raises if the stored interaction is not valid TMF683
    return docs


def only(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    assert len(docs) == 1, f"expected one interaction, got {len(docs)}"
    return next(iter(docs.values()))


def mail(
    *,
    message_id: str | None = "<q1@customer.example>",
    sender: str = "Ana Silva <ana@customer.example>",
    to: str = "Acme Support <support@acme.example>",
    subject: str = "Router keeps dropping",
    date: str | None = "Mon, 16 Nov 2026 09:00:00 +0000",
    headers: tuple[str, ...] = (),
    content_type: str = "text/plain; charset=utf-8",
    body: str = "My router drops the line every evening.",
    raw_body: bytes | None = None,
) -> bytes:
    """A message as an MTA hands it over."""
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", "MIME-Version: 1.0"]
    lines += [f"Message-ID: {message_id}"] if message_id else []
    lines += [f"Date: {date}"] if date else []
    lines += [*headers, f"Content-Type: {content_type}"]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + (raw_body if raw_body is not None else body.encode())


def reply(number: int, *, ours: bool, references: list[str], date: str, body: str = "") -> bytes:
    """Message `number` of the thread about the router: ours (support's) or the customer's."""
    people = ("Acme Support <support@acme.example>", "Ana Silva <ana@customer.example>")
    sender, to = people if ours else people[::-1]
    return mail(
        message_id=f"<q{number}@{'acme' if ours else 'customer'}.example>",
        sender=sender,
        to=to,
        subject="Re: Router keeps dropping",
        date=date,
        headers=(f"In-Reply-To: {references[-1]}", f"References: {' '.join(references)}"),
        body=body or f"message {number}",
    )


def ses_notification(raw: bytes, *, base64_content: bool = False, **receipt: Any) -> dict[str, Any]:
    """An SES `Received` notification of an SNS action carrying `raw` (the reference's shape)."""
    action: dict[str, Any] = {"type": "SNS", "topicArn": "arn:aws:sns:eu-west-1:012345678912:mail"}
    if base64_content:
        action["encoding"] = "BASE64"
    return {
        "notificationType": "Received",
        "mail": {
            "timestamp": "2026-11-16T09:00:02.500Z",
            "source": "ana@customer.example",
            "messageId": "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1",
            "destination": ["support@acme.example"],
        },
        "receipt": {
            "timestamp": "2026-11-16T09:00:02.500Z",
            "recipients": ["support@acme.example"],
            "spamVerdict": {"status": "PASS"},
            "virusVerdict": {"status": "PASS"},
            "action": action,
            **receipt,
        },
        "content": base64.b64encode(raw).decode() if base64_content else raw.decode(),
    }


def sns_envelope(message: str) -> bytes:
    return orjson.dumps(
        {
            "Type": "Notification",
            "MessageId": "b1e6a0a4-3c6f-5f5f-8c49-1f2e3d4c5b6a",
            "TopicArn": "arn:aws:sns:eu-west-1:012345678912:mail",
            "Subject": "Amazon SES Email Receipt Notification",
            "Message": message,
            "Timestamp": "2026-11-16T09:00:03.000Z",
        }
    )


# -- the published samples ----------------------------------------------------------------------


def test_the_format_is_registered_with_the_media_types_mail_arrives_in() -> None:
    assert FORMATS["email-mime"] is FORMAT
    assert set(FORMAT.media_types) == {"message/rfc822", "application/mbox", "text/plain", "application/json"}
    assert not FORMAT.signs and FORMAT.handshake is None and FORMAT.options is EmailOptions


def test_a_gmail_reply_joins_the_thread_of_the_first_id_in_its_references() -> None:
    [record] = FORMAT.split(sample(GMAIL_REPLY), RFC822)
    assert record.native_id == "AANLkTikbSvKnE9RjZLNrpupmNMKChv2Kz8qB3HAagmSw@mail.gmail.com"
    assert record.time == "2011-02-09T11:55:37+03:00"
    assert record.data["inReplyTo"] == "AANLkTinUdYK2NpEiYCKGnCEp_OXKqst_bWNdBVHsfDVh@mail.gmail.com"
    assert len(record.data["references"]) == 2  # folded over two lines
    root = "AANLkTi=1ANR2FzeeQ-vK3-_ty0gUrOsAxMRYkob6CL-c@mail.gmail.com"

    docs = stored(sample(GMAIL_REPLY))

    doc = docs[interaction_id(URN, root)]
    assert doc["@type"] == "EmailInteraction"
    assert doc["channel"][0]["id"] == "email"
    assert doc["direction"] == "inbound"  # no own addresses configured: everyone is a customer
    assert doc["status"] == "inProgress"
    assert doc["reason"] == "Please forward this email to me"  # "Fwd: " stripped
    assert doc["description"] == "Fwd: Please forward this email to me"
    assert doc["interactionDate"] == {
        "startDateTime": "2011-02-09T11:55:37+03:00",
        "endDateTime": "2011-02-09T11:55:37+03:00",
    }
    assert doc["externalIdentifier"] == [
        {"id": record.native_id, "owner": SOURCE, "externalIdentifierType": "Message-ID"}
    ]
    assert doc["customerIdentifier"] == [
        {"kind": "email", "value": "hello@example.com", "id": "email:hello@example.com"}
    ]
    assert doc["relatedParty"] == []
    [note] = doc["note"]
    assert note["author"] == "hello@example.com" and note["id"] == record.native_id
    assert "Forward please" in note["text"]  # text/plain preferred over the HTML alternative
    assert "gmail_quote" not in note["text"]  # not the HTML
    assert doc["email"]["threadId"] == root


def test_a_reply_from_an_own_address_is_an_outbound_answer() -> None:
    doc = only(stored(sample(GMAIL_REPLY), options={"own_addresses": ["hello@example.com"]}))

    assert doc["direction"] == "outbound"
    assert doc["status"] == "completed"
    assert doc["customerIdentifier"] == [
        {"kind": "email", "value": "example@example.com", "id": "email:example@example.com"}
    ]  # its To


def test_a_multipart_message_keeps_its_first_text_as_the_note_and_lists_the_other_part() -> None:
    [record] = FORMAT.split(sample(MULTIPART), RFC822)
    assert record.native_id == "15261.36209.358846.118674@anthem.python.org"
    assert record.data["from"] == [{"address": "barry@python.org", "name": "Barry A. Warsaw"}]

    doc = only(stored(sample(MULTIPART)))

    assert doc["email"]["threadId"] == record.native_id  # no References, no In-Reply-To: its own thread
    assert doc["note"][0]["text"] == "a simple kind of mirror\nto reflect upon our own"
    assert doc["attachment"] == [
        {
            "name": "msg.txt",
            "attachmentType": "emailAttachment",
            "mimeType": "text/plain",
            "size": {"amount": 48, "units": "bytes"},
        }
    ]
    assert doc["interactionDate"]["startDateTime"] == "2001-09-11T00:05:05-04:00"


def test_a_bounce_joins_the_thread_of_the_message_it_returns_and_reopens_it() -> None:
    [record] = FORMAT.split(sample(BOUNCE), RFC822)
    returned = record.data["report"]["of"]["messageId"]
    assert returned == "002001c144a6$8752e060$56104586@oxy.edu"
    assert record.data["report"]["recipients"] == [
        {"address": "jangel1@cougar.noc.ucla.edu", "action": "failed", "status": "5.0.0 (recipient reached disk quota)"}
    ]
    # the message it returns, as its sender's list server had it (built here: that message's headers)
    original = mail(
        message_id=f"<{returned}>",
        sender='"Ian T. Henry" <henryi@oxy.edu>',
        to="SoCal Raves <scr@socal-raves.org>",
        subject="[scr] yeah for Ians!!",
        date="Sun, 23 Sep 2001 20:10:55 -0700",
    )

    docs = stored(original, sample(BOUNCE), options={"own_addresses": ["oxy.edu"]})

    doc = docs[interaction_id(URN, returned)]
    assert len(docs) == 1
    assert doc["direction"] == "outbound"
    assert doc["status"] == "inProgress"  # the answer did not arrive
    assert doc["reason"] == "[scr] yeah for Ians!!"  # the thread's subject, not the bounce's
    assert [n["author"] for n in doc["note"]] == ["henryi@oxy.edu", "postmaster@ucla.edu"]
    assert doc["note"][1]["text"].startswith(
        "Delivery report: failed for jangel1@cougar.noc.ucla.edu (5.0.0 (recipient reached disk quota))"
    )
    assert {e["id"] for e in doc["externalIdentifier"]} == {returned, record.native_id}
    assert {
        "kind": "email",
        "value": "jangel1@cougar.noc.ucla.edu",
        "id": "email:jangel1@cougar.noc.ucla.edu",
    } in doc["customerIdentifier"]
    assert "attachment" not in doc  # the returned message is ours, not an attachment
    assert doc["interactionDate"] == {
        "startDateTime": "2001-09-23T20:10:55-07:00",
        "endDateTime": "2001-09-23T20:14:35-07:00",
    }


def test_an_ses_notification_of_an_sns_action_carries_the_message() -> None:
    [record] = FORMAT.split(sample(SES_SNS_ACTION), JSON)
    assert record.native_id == "61967230-7A45-4A9D-BEC9-87CBCF2211C9@example.com"
    assert record.time == "2015-09-11T20:32:32+00:00"  # the Date header, not SES's receipt time
    assert record.data["ses"]["messageId"] == "d6iitobk75ur44p8kdnnp7g2n800"

    doc = only(stored(sample(SES_SNS_ACTION), media_type=JSON))

    assert doc["direction"] == "inbound"
    assert doc["status"] == "inProgress"
    assert doc["note"][0]["text"] == "Example content"
    assert doc["customerIdentifier"] == [
        {"kind": "email", "value": "sender@example.com", "id": "email:sender@example.com"}
    ]
    assert {"id": "d6iitobk75ur44p8kdnnp7g2n800", "owner": SOURCE, "externalIdentifierType": "ses-message-id"} in doc[
        "externalIdentifier"
    ]
    assert doc["email"]["messages"][0]["sesVerdicts"] == {
        "spam": "PASS",
        "virus": "PASS",
        "spf": "PASS",
        "dkim": "PASS",
    }


def test_the_sns_envelope_and_base64_content_give_the_same_record() -> None:
    [plain] = FORMAT.split(sample(SES_SNS_ACTION), JSON)
    notification = orjson.loads(sample(SES_SNS_ACTION))
    # SNS posts its envelope as text/plain
    [enveloped] = FORMAT.split(sns_envelope(sample(SES_SNS_ACTION).decode()), "text/plain")
    notification["receipt"]["action"]["encoding"] = "BASE64"
    notification["content"] = base64.b64encode(notification["content"].encode()).decode()
    [encoded] = FORMAT.split(orjson.dumps(notification), JSON)

    assert plain == enveloped == encoded


def test_the_s3_action_notification_is_invalid_json_as_published_and_carries_no_message() -> None:
    with pytest.raises(FormatError, match="not JSON"):
        FORMAT.split(sample(SES_S3_ACTION), JSON)
    # repaired by one character: `"\email"` (an invalid escape) without its backslash
    repaired = sample(SES_S3_ACTION).replace(b'"\\email"', b'"email"')
    assert len(repaired) == len(sample(SES_S3_ACTION)) - 1

    with pytest.raises(FormatError, match=r"content: missing.*receipt action 'S3'"):
        FORMAT.split(repaired, JSON)


# -- threads ----------------------------------------------------------------------------------


THREAD = [
    mail(date="Mon, 16 Nov 2026 09:00:00 +0000"),
    reply(2, ours=True, references=["<q1@customer.example>"], date="Mon, 16 Nov 2026 10:30:00 +0000"),
    reply(
        3, ours=False, references=["<q1@customer.example>", "<q2@acme.example>"], date="Tue, 17 Nov 2026 08:15:00 +0000"
    ),
]


def test_a_thread_is_one_interaction_open_while_the_customer_has_the_last_word() -> None:
    first = only(stored(THREAD[0], options=OWN))
    answered = only(stored(*THREAD[:2], options=OWN))
    reopened = only(stored(*THREAD, options=OWN))

    assert [first["status"], answered["status"], reopened["status"]] == ["inProgress", "completed", "inProgress"]
    assert reopened["id"] == interaction_id(URN, "q1@customer.example")
    assert reopened["direction"] == "inbound"
    assert reopened["reason"] == "Router keeps dropping"
    assert reopened["interactionDate"] == {
        "startDateTime": "2026-11-16T09:00:00+00:00",
        "endDateTime": "2026-11-17T08:15:00+00:00",
    }
    assert [e["id"] for e in reopened["externalIdentifier"]] == [
        "q1@customer.example",
        "q2@acme.example",
        "q3@customer.example",
    ]
    assert reopened["customerIdentifier"] == [
        {"kind": "email", "value": "ana@customer.example", "id": "email:ana@customer.example"}
    ]
    assert [n["author"] for n in reopened["note"]] == [
        "ana@customer.example",
        "support@acme.example",
        "ana@customer.example",
    ]
    assert [m["direction"] for m in reopened["email"]["messages"]] == ["inbound", "outbound", "inbound"]


def test_a_thread_ends_the_same_whatever_order_its_messages_arrive_in() -> None:
    in_order = only(stored(*THREAD, options=OWN))
    late_first = only(stored(THREAD[2], THREAD[0], THREAD[1], options=OWN))

    for key in ("status", "reason", "description", "interactionDate", "direction"):
        assert late_first[key] == in_order[key], key
    for key in ("note", "externalIdentifier", "customerIdentifier"):
        assert sorted(map(orjson.dumps, late_first[key])) == sorted(map(orjson.dumps, in_order[key])), key


def test_an_older_message_arriving_late_does_not_undo_the_answer() -> None:
    doc = only(stored(THREAD[1], THREAD[0], options=OWN))

    assert doc["status"] == "completed"  # the answer is the newer message
    assert doc["description"] == "Re: Router keeps dropping"
    assert len(doc["note"]) == 2


def test_a_redelivered_message_is_the_same_event_and_changes_nothing() -> None:
    [first] = events(THREAD[0], options=OWN)
    [again] = events(THREAD[0], options=OWN)
    assert first.id == again.id == "email-mime:q1@customer.example"
    change = adapters.adapt(first)
    assert change == adapters.adapt(again)

    created = changes.apply(changes.ABSENT, change, href="http://h/x/")
    repeated = changes.apply(created.new, adapters.adapt(again), href="http://h/x/")

    assert created.kind == "create"
    assert repeated.kind == "unchanged"


def test_an_answer_to_several_people_names_each_customer_but_not_our_own() -> None:
    answer = mail(
        message_id="<a1@acme.example>",
        sender="Support <support@acme.example>",
        to="Ana <ana@customer.example>, Rui <rui@customer.example>",
        headers=("Cc: Team <billing@eu.acme.example>, Joana <joana@other.example>",),
    )

    doc = only(stored(answer, options=OWN))

    assert doc["direction"] == "outbound" and doc["status"] == "completed"
    assert [i["value"] for i in doc["customerIdentifier"]] == [
        "ana@customer.example",
        "rui@customer.example",
        "joana@other.example",
    ]  # billing@eu.acme.example is ours: a subdomain of an own domain


def test_an_ses_receipt_recipient_counts_as_an_own_address() -> None:
    ours = mail(message_id="<a9@acme.example>", sender="support@acme.example", to="ana@customer.example")

    doc = only(stored(orjson.dumps(ses_notification(ours)), media_type=JSON))

    assert doc["direction"] == "outbound"
    assert doc["customerIdentifier"] == [
        {"kind": "email", "value": "ana@customer.example", "id": "email:ana@customer.example"}
    ]


def test_a_broken_reference_chain_falls_back_to_in_reply_to() -> None:
    answer = mail(message_id="<a2@acme.example>", headers=("In-Reply-To: <q1@customer.example> (Ana's message)",))

    [record] = FORMAT.split(answer, RFC822)
    doc = only(stored(answer))

    assert record.data["inReplyTo"] == "q1@customer.example"
    assert doc["id"] == interaction_id(URN, "q1@customer.example")


# -- missing and odd fields ---------------------------------------------------------------------


def test_a_message_without_message_id_gets_a_digest_of_its_bytes() -> None:
    body = mail(message_id=None)
    [record] = FORMAT.split(body, RFC822)
    [again] = FORMAT.split(body, RFC822)

    doc = only(stored(body))

    assert record.native_id == again.native_id
    assert record.native_id.startswith("sha256:") and len(record.native_id) == 7 + 64
    assert doc["externalIdentifier"][0] == {
        "id": record.native_id,
        "owner": SOURCE,
        "externalIdentifierType": "message-sha256",
    }


def test_without_a_usable_date_the_ses_receipt_time_is_used() -> None:
    undated = mail(date="sometime last week")

    [record] = FORMAT.split(orjson.dumps(ses_notification(undated)), JSON)
    doc = only(stored(orjson.dumps(ses_notification(undated)), media_type=JSON))

    assert record.time == "2026-11-16T09:00:02.500Z"
    assert doc["interactionDate"]["startDateTime"] == "2026-11-16T09:00:02.500Z"


@pytest.mark.parametrize("date", [None, "sometime last week", "Mon, 16 Nov 99999 09:00:00 +0000"])
def test_without_a_usable_date_a_raw_message_is_refused_naming_date(date: str | None) -> None:
    [event] = events(mail(date=date))

    assert event.time == RECEIVED  # what wrap does for a record without a time
    with pytest.raises(AdapterError, match=r"^Date: "):
        adapters.adapt(event)


def test_a_date_in_utc_of_unknown_zone_and_missing_optional_headers_are_fine() -> None:
    bare = b"From: ana@customer.example\r\nDate: Mon, 16 Nov 2026 09:00:00 -0000\r\n\r\n"

    doc = only(stored(bare))

    assert doc["interactionDate"]["startDateTime"] == "2026-11-16T09:00:00+00:00"
    assert doc["reason"] == doc["description"] == "(no subject)"
    assert "note" not in doc and "attachment" not in doc
    assert doc["customerIdentifier"] == [
        {"kind": "email", "value": "ana@customer.example", "id": "email:ana@customer.example"}
    ]


def test_a_message_without_from_has_no_customer_identifier() -> None:
    doc = only(stored(b"Subject: hello\r\nDate: Mon, 16 Nov 2026 09:00:00 +0000\r\n\r\nhi"))

    assert doc["direction"] == "inbound"
    assert "customerIdentifier" not in doc
    assert doc["note"] == [
        {"id": doc["externalIdentifier"][0]["id"], "date": "2026-11-16T09:00:00+00:00", "text": "hi"}
    ]


@pytest.mark.parametrize(
    ("subject", "reason"),
    [
        ("Re: Fwd: AW: Re[2]: Invoice 42", "Invoice 42"),
        ("RE:  re: invoice", "invoice"),
        ("Fw: WG: SV: Antw: Invoice", "Invoice"),
        ("Reminder: invoice", "Reminder: invoice"),
        ("Re:", "(no subject)"),
    ],
)
def test_reply_and_forward_prefixes_are_stripped_from_the_reason(subject: str, reason: str) -> None:
    doc = only(stored(mail(subject=subject)))

    assert doc["reason"] == reason
    assert doc["description"] == " ".join(subject.split())


# -- charsets and bodies ------------------------------------------------------------------------


def test_encoded_words_and_latin_1_are_decoded() -> None:
    body = mail(
        sender="=?iso-8859-1?q?Jos=E9_Ant=F3nio?= <jose@customer.example>",
        subject="=?utf-8?b?RmF0dXJhIGVtIGR1cGxpY2Fkbw==?= =?iso-8859-1?q?n=E3o?=",
        content_type="text/plain; charset=iso-8859-1",
        raw_body="Olá, a fatura não está correta.".encode("latin-1"),
    )

    [record] = FORMAT.split(body, RFC822)
    doc = only(stored(body))

    assert record.data["from"] == [{"address": "jose@customer.example", "name": "José António"}]
    assert doc["description"] == "Fatura em duplicadonão"  # adjacent encoded words join (RFC 2047)
    assert doc["note"][0]["text"] == "Olá, a fatura não está correta."


def test_quoted_printable_and_base64_utf_8_bodies_are_decoded() -> None:
    quoted = mail(
        headers=("Content-Transfer-Encoding: quoted-printable",),
        body="Gr=C3=BC=C3=9Fe aus M=C3=BCnchen, die Leitung ist tot =E2=80=94 bitte=\r\n helfen.",
    )
    encoded = mail(
        message_id="<q9@customer.example>",
        headers=("Content-Transfer-Encoding: base64",),
        body=base64.encodebytes("Ligação caída desde ontem ✓".encode()).decode(),
    )

    docs = stored(quoted, encoded)

    texts = sorted(doc["note"][0]["text"] for doc in docs.values())
    assert texts == ["Grüße aus München, die Leitung ist tot — bitte helfen.", "Ligação caída desde ontem ✓"]


def test_an_unknown_charset_gives_replaced_characters_never_a_failure() -> None:
    body = mail(
        sender="=?x-klingon?q?Q=E9pla?= <q@customer.example>",
        subject="=?x-klingon?q?caf=E9?= raw LATIN-1",
        content_type="text/plain; charset=x-klingon",
        raw_body=b"caf\xe9 \xff",
    ).replace(b"LATIN-1", b"caf\xe9")

    [record] = FORMAT.split(body, RFC822)
    doc = only(stored(body))

    assert record.data["from"][0]["address"] == "q@customer.example"
    assert "\ufffd" in record.data["from"][0]["name"]
    assert doc["note"][0]["text"] == "caf\ufffd \ufffd"
    assert "\ufffd" in doc["description"]
    orjson.dumps(record.data)  # valid Unicode all through


def test_raw_utf_8_in_headers_is_read_as_utf_8() -> None:
    body = mail(sender="José <jose@customer.example>", subject="Não funciona")  # UTF-8, no encoded words

    doc = only(stored(body))

    assert doc["description"] == "Não funciona"
    assert doc["email"]["messages"][0]["from"] == "jose@customer.example"


def test_a_charset_whose_codec_is_slow_on_hostile_input_is_read_as_utf_8() -> None:
    doc = only(stored(mail(content_type="text/plain; charset=punycode", body="plain words")))

    assert doc["note"][0]["text"] == "plain words"


def test_an_html_only_message_is_read_as_text() -> None:
    html = (
        "<html><head><title>t</title><style>p {color: red}</style></head><body>"
        "<p>Hello&nbsp;there,</p><p>the <b>router</b> &amp; modem<br>are off.</p>"
        "<script>alert('x')</script><div>Ana</div></body></html>"
    )

    doc = only(stored(mail(content_type="text/html; charset=utf-8", body=html)))

    assert doc["note"][0]["text"] == "Hello there,\n\nthe router & modem\nare off.\n\nAna"


def test_a_long_body_is_cut_and_marked() -> None:
    doc = only(stored(mail(body="word " * 5000)))

    text = doc["note"][0]["text"]
    assert len(text) <= email_mime.MAX_NOTE_CHARS + 2
    assert text.endswith(" …")


def test_attachments_are_listed_by_name_type_and_size_never_their_bytes() -> None:
    pdf = base64.encodebytes(b"%PDF-1.4 " + bytes(range(256)) * 4).decode()
    body = mail(
        content_type='multipart/mixed; boundary="outer"',
        body=(
            "--outer\r\nContent-Type: multipart/related; boundary=inner\r\n\r\n"
            "--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>See the invoice.</p>\r\n"
            "--inner\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            "iVBORw0KGgo=\r\n--inner--\r\n"
            "--outer\r\nContent-Type: application/pdf; name=ignored.pdf\r\n"
            'Content-Disposition: attachment; filename="fatura 42.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            f"{pdf}\r\n"
            "--outer\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y.example\r\nSubject: earlier\r\n\r\nold text\r\n"
            "--outer--\r\n"
        ),
    )

    [record] = FORMAT.split(body, RFC822)
    doc = only(stored(body))

    assert doc["note"][0]["text"] == "See the invoice."
    assert doc["attachment"] == [
        {
            "name": "fatura 42.pdf",
            "attachmentType": "emailAttachment",
            "mimeType": "application/pdf",
            "size": {"amount": 9 + 1024, "units": "bytes"},
        },
        {"name": "(unnamed)", "attachmentType": "emailAttachment", "mimeType": "message/rfc822"},
    ]
    assert "PDF" not in orjson.dumps(record.data).decode()


def test_at_most_fifty_attachments_of_a_message_are_listed() -> None:
    parts = "".join(
        f'--b\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename="f{i}.csv"\r\n\r\n{i}\r\n'
        for i in range(60)
    )

    doc = only(stored(mail(content_type="multipart/mixed; boundary=b", body=f"{parts}--b--\r\n")))

    assert len(doc["attachment"]) == email_mime.MAX_ATTACHMENTS


# -- a delivery report ----------------------------------------------------------------------------


def dsn(returned: str) -> bytes:
    """A bounce of the given returned part (RFC 3464), as an MTA writes one."""
    return mail(
        message_id="<bounce-7@mx.acme.example>",
        sender="Mail Delivery System <MAILER-DAEMON@mx.acme.example>",
        to="support@acme.example",
        subject="Undelivered Mail Returned to Sender",
        date="Mon, 16 Nov 2026 10:31:00 +0000",
        content_type="multipart/report; report-type=delivery-status; boundary=r",
        body=(
            "--r\r\nContent-Type: text/plain\r\n\r\n"
            "I'm sorry to have to inform you that your message could not be delivered.\r\n"
            "--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.example\r\n\r\n"
            "Final-Recipient: rfc822; ana@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\r\n"
            f"--r\r\n{returned}\r\n--r--\r\n"
        ),
    )


def test_a_bounce_of_our_answer_reopens_the_thread() -> None:
    returned = "Content-Type: text/rfc822-headers\r\n\r\n" + THREAD[1].split(b"\r\n\r\n")[0].decode() + "\r\n"

    doc = only(stored(*THREAD[:2], dsn(returned), options=OWN))

    assert doc["id"] == interaction_id(URN, "q1@customer.example")
    assert doc["status"] == "inProgress"
    assert doc["reason"] == "Router keeps dropping"
    assert doc["note"][-1]["text"].startswith("Delivery report: failed for ana@customer.example (5.1.1)\n\nI'm sorry")
    assert doc["customerIdentifier"] == [
        {"kind": "email", "value": "ana@customer.example", "id": "email:ana@customer.example"}
    ]
    assert doc["email"]["messages"][-1]["deliveryReport"] is True


def test_a_delay_report_leaves_the_thread_status_as_it_is() -> None:
    returned = "Content-Type: text/rfc822-headers\r\n\r\n" + THREAD[1].split(b"\r\n\r\n")[0].decode() + "\r\n"
    delayed = dsn(returned).replace(b"Action: failed", b"Action: delayed")

    doc = only(stored(*THREAD[:2], delayed, options=OWN))

    assert doc["status"] == "completed"
    assert doc["note"][-1]["text"].startswith("Delivery report: delayed for ana@customer.example")


def test_a_bounce_that_returns_no_message_id_cannot_be_placed() -> None:
    [event] = events(dsn("Content-Type: text/rfc822-headers\r\n\r\nSubject: something\r\n"))

    with pytest.raises(AdapterError, match=r"^report\.of: "):
        adapters.adapt(event)


# -- mbox and media types -----------------------------------------------------------------------


def test_an_mbox_is_split_on_from_lines_and_quoted_from_lines_are_restored() -> None:
    first = mail(body="Line one\r\n>From the start it failed.\r\n>>From here too.")
    mbox = (
        b"From ana@customer.example Mon Nov 16 09:00:00 2026\n"
        + first.replace(b"\r\n", b"\n")
        + b"\n\nFrom support@acme.example Mon Nov 16 10:30:00 2026\n"
        + THREAD[1].replace(b"\r\n", b"\n")
        + b"\n"
    )

    records = FORMAT.split(mbox, "application/mbox")
    doc = only(stored(mbox, media_type="application/mbox", options=OWN))

    assert [r.native_id for r in records] == ["q1@customer.example", "q2@acme.example"]
    assert records[0].data["text"] == "Line one\nFrom the start it failed.\n>From here too."
    assert doc["status"] == "completed" and len(doc["note"]) == 2


def test_a_message_with_an_mbox_from_line_as_an_mta_pipe_writes_it() -> None:
    piped = b"From ana@customer.example  Mon Nov 16 09:00:00 2026\n" + THREAD[0]

    [record] = FORMAT.split(piped, RFC822)

    assert record == FORMAT.split(THREAD[0], RFC822)[0]


def test_a_raw_message_posted_as_text_plain_is_read_as_one() -> None:
    assert FORMAT.split(THREAD[0], "text/plain") == FORMAT.split(THREAD[0], RFC822)


# -- options ------------------------------------------------------------------------------------


def test_own_addresses_are_normalised_and_checked() -> None:
    options = EmailOptions.model_validate({"own_addresses": [" Support@Acme.Example ", "@eu.acme.example", "acme.pt"]})

    assert options.own_addresses == ["support@acme.example", "eu.acme.example", "acme.pt"]
    for wrong in (["two words"], [""], ["a@b@c"], ["support@"]):
        with pytest.raises(ValidationError):
            EmailOptions.model_validate({"own_addresses": wrong})
    with pytest.raises(ValidationError):
        EmailOptions.model_validate({"own_adresses": ["acme.example"]})  # a misspelt key is refused


def test_a_domain_does_not_match_a_lookalike() -> None:
    doc = only(stored(mail(sender="x@notacme.example"), options=OWN))

    assert doc["direction"] == "inbound"


def test_unusable_own_addresses_in_an_event_are_an_adapter_error() -> None:
    [event] = events(THREAD[0], options={"own_addresses": ["not an address"]})

    with pytest.raises(AdapterError, match="own_addresses"):
        adapters.adapt(event)


# -- hostile and broken deliveries --------------------------------------------------------------


def nested(depth: int) -> bytes:
    opening = "".join(f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n" for i in range(depth))
    closing = "".join(f"\r\n--b{i}--\r\n" for i in reversed(range(depth)))
    return mail(
        content_type="multipart/mixed; boundary=top",
        body=f"--top\r\n{opening}Content-Type: text/plain\r\n\r\nhi{closing}--top--",
    )


@pytest.mark.parametrize(
    ("body", "media_type", "problem"),
    [
        (b"", RFC822, "empty"),
        (b"  \r\n", RFC822, "empty"),
        (b"x" * (email_mime.MAX_DELIVERY_BYTES + 1), RFC822, "larger than 26214400 bytes"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", RFC822, "no header fields"),
        (b"From: a@b.example\r\n\r\n", "image/png", "media type 'image/png'"),
        (b"Subject: no separator line", "application/mbox", "does not start with a 'From '"),
        (nested(email_mime.MAX_DEPTH + 1), RFC822, "nest deeper than 10 levels"),
        (nested(1000), RFC822, "more than 200 MIME parts"),
        (
            mail(content_type="multipart/mixed; boundary=x", body="--x\r\n\r\na\r\n" * 100_000),
            RFC822,
            "more than 200 MIME parts",
        ),
        (b"".join(b"X-H%d: v\r\n" % i for i in range(2000)) + b"\r\n", RFC822, "more than 1000 header fields"),
        (b"Subject: " + b"a" * 20_000 + b"\r\n\r\n", RFC822, "'Subject' is longer than 16384 bytes"),
        (mail(content_type="text/plain" + ";" * 3000), RFC822, "'Content-Type' is longer than 2048 bytes"),
        (
            mail(
                content_type="multipart/mixed; boundary=b",
                body=f"--b\r\nContent-Type: text/plain{';' * 1900}\r\n\r\nx\r\n" * 20,
            ),
            RFC822,
            "Content-\\* header fields are longer than 32768 bytes in all",
        ),
        (mail(content_type="text/plain; x=" + "(" * 1500), RFC822, "nests too deep"),
        (b"{not json", JSON, "not JSON"),
        (b"[1, 2]", JSON, "not a JSON object"),
        (b"[" * 100_000, JSON, "not JSON"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, JSON, "nests more than 32 levels"),
        (b'{"notificationType": "Bounce", "bounce": {}}', JSON, "expected 'Received'"),
        (b'{"notificationType": "Received", "mail": [], "content": "x"}', JSON, "mail: expected an object"),
        (
            b'{"notificationType": "Received", "receipt": {"action": {"type": "SNS", "encoding": "BASE64"}},'
            b' "content": "%%%"}',
            JSON,
            "content: not base64",
        ),
        (b'{"Type": "Notification", "Message": {"notificationType": "Received"}}', "text/plain", "JSON string"),
        (b'{"Type": "Notification", "Message": "{truncated"}', "text/plain", "the SNS Message is not JSON"),
        (b'{"Type": "Whatever"}', JSON, "expected an SNS 'Notification'"),
        (
            b'{"Type": "SubscriptionConfirmation", "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=t"}',
            "text/plain",
            r"SubscriptionConfirmation.*https://sns\.eu-west-1\.amazonaws\.com/\?Action=ConfirmSubscription",
        ),
    ],
)
def test_hostile_or_broken_deliveries_are_format_errors_naming_the_problem(
    body: bytes, media_type: str, problem: str
) -> None:
    with pytest.raises(FormatError, match=problem):
        FORMAT.split(body, media_type)


def test_an_mbox_names_the_message_that_cannot_be_read() -> None:
    mbox = b"From a Mon Nov 16 09:00:00 2026\n" + THREAD[0] + b"\nFrom b Mon Nov 16 09:00:00 2026\n" + nested(20)

    with pytest.raises(FormatError, match=r"^message 2 of 2 of the mbox: MIME parts nest deeper"):
        FORMAT.split(mbox, "application/mbox")


def test_an_mbox_holds_at_most_max_records_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(email_mime, "MAX_RECORDS", 3)
    mbox = b"".join(b"From a Mon Nov 16 09:00:00 2026\n" + THREAD[0] + b"\n" for _ in range(4))

    with pytest.raises(FormatError, match="more than 3 messages"):
        FORMAT.split(mbox, "application/mbox")


@pytest.mark.parametrize(
    "body",
    [
        THREAD[0][: len(THREAD[0]) // 2],  # cut in the headers
        nested(3)[:-40],  # a multipart cut before its closing boundaries
        mail(sender="(" * 5000 + "a@b.example"),  # comments nested past the parser's recursion
        mail(sender="<<<@@@>>>, ,,, @, a@, @b"),
        mail(headers=("Content-Type: multipart/mixed; boundary*0=a; boundary*1=b",), body="--ab\r\n\r\nx\r\n--ab--"),
        mail(headers=("Content-Transfer-Encoding: base64",), body="%%% not base64 %%%"),
        mail(content_type="text/html", body="<!--" + "<!--" * 10_000 + "<script>" * 1000),
        mail(content_type="text/plain; charset*=''", body="x"),
        mail(message_id="<>"),
    ],
)
def test_damaged_messages_give_a_record_or_a_format_error_never_another_failure(body: bytes) -> None:
    try:
        records = FORMAT.split(body, RFC822)
    except FormatError as error:
        assert str(error)
        return
    for record in records:
        orjson.dumps(record.data)
        event = wrap(record, FORMAT.id, SOURCE, {"name": SOURCE}, received=RECEIVED)
        try:
            change = adapters.adapt(event)
        except AdapterError as error:
            assert error.reason
            continue
        validated_resource(changes.apply(changes.ABSENT, change, href="http://h/x/").new.doc or {})
