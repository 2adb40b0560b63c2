"""Email: `ihub.email.message`, one event per message (in or out) from the support mailbox system.

Each message is one interaction; replies point to the message they answer
(`interactionRelationship` of type `replyTo`) and share the thread id (`email.threadId`).

Native `data`:
    messageId (RFC 5322 Message-ID), threadId, inReplyTo, direction, mailbox,
    from {address, name}, to [{address, name}], cc [{address, name}], subject, sentAt,
    agent {id, name} (who sent an outbound reply), bodyPreview,
    attachments [{fileName, mimeType, sizeBytes}], customer {segment}
"""

from __future__ import annotations

from typing import Any

from ingest.adapters.common import (
    DIRECTIONS,
    agent,
    customer,
    interaction,
    note,
    one_of,
    optional,
    required,
    timestamp,
    upsert,
)
from schemas.channel_event import ChannelEvent, interaction_id
from storage.changes import Change


def message(event: ChannelEvent) -> Change:
    data = event.data
    message_id = required(data, "messageId")
    direction = one_of(data, "direction", DIRECTIONS)
    sender = required(data, "from.address")
    sent = timestamp(data, "sentAt")
    reply_to = optional(data, "inReplyTo")
    recipients = _addresses(data, "to")
    if direction == "inbound":
        description, customer_name = f"Email from {sender} to {', '.join(recipients)}", optional(data, "from.name")
    else:
        description, customer_name = f"Email to {', '.join(recipients)}", optional(data, "to.0.name")
    document = interaction(
        type_name="EmailInteraction",
        kind="email",
        reason=optional(data, "subject") or "(no subject)",
        direction=direction,
        status="completed",
        description=description,
        start=sent,
        end=sent,
        parties=customer(event, optional(data, "customer.segment"), customer_name) + agent(data, "agent"),
        notes=note(optional(data, "bodyPreview"), sender, sent),
        attachment=_attachments(data) or None,
        interactionRelationship=[{"id": interaction_id(event.source, reply_to), "relationshipType": "replyTo"}]
        if reply_to
        else None,
        email={
            "messageId": message_id,
            "threadId": required(data, "threadId"),
            "inReplyTo": reply_to,
            "mailbox": optional(data, "mailbox"),
            "from": sender,
            "to": recipients,
            "cc": _addresses(data, "cc") or None,
        },
    )
    return upsert(event, message_id, document)


def _addresses(data: dict[str, Any], path: str) -> list[str]:
    return [required(data, f"{path}.{i}.address") for i in range(len(optional(data, path, list, [])))]


def _attachments(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": required(data, f"attachments.{i}.fileName"),
            "attachmentType": "emailAttachment",
            "mimeType": optional(data, f"attachments.{i}.mimeType"),
            "size": {"amount": required(data, f"attachments.{i}.sizeBytes", int), "units": "bytes"},
        }
        for i in range(len(optional(data, "attachments", list, [])))
    ]
