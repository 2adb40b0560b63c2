"""Chat and messaging: `ihub.chat.conversation`, published by the messaging platform (web chat,
WhatsApp, Messenger, RCS...) when a conversation changes state (opened, escalated, closed).

Native `data`:
    conversationId, platform, state (open|closed|abandoned), startedAt, endedAt, intent,
    bot {id, name}, agent {id, name}, escalated, escalation {reason, at}, messageCount, csat,
    transcriptExcerpt [{from (customer|bot|agent), at, text}], customer {name, segment}
"""

from __future__ import annotations

from ingest.adapters.common import (
    agent,
    customer,
    first_id,
    humanize,
    interaction,
    one_of,
    optional,
    required,
    timestamp,
    upsert,
)
from schemas.channel_event import ChannelEvent
from storage.changes import Change

STATES = {"open": "inProgress", "closed": "completed", "abandoned": "cancelled"}
PLATFORMS = {
    "webchat": "Web chat",
    "whatsapp": "WhatsApp",
    "messenger": "Messenger",
    "rcs": "RCS",
    "apple-messages": "Apple Messages for Business",
}


def conversation(event: ChannelEvent) -> Change:
    data = event.data
    conversation_id = required(data, "conversationId")
    platform = one_of(data, "platform", PLATFORMS)
    messages = required(data, "messageCount", int)
    escalated = optional(data, "escalated", bool, False)
    intent = optional(data, "intent")
    agent_party = agent(data, "agent")
    authors = {"customer": event.subject, "bot": optional(data, "bot.id"), "agent": first_id(agent_party)}
    notes = []
    for i in range(len(optional(data, "transcriptExcerpt", list, []))):
        speaker = one_of(data, f"transcriptExcerpt.{i}.from", {k: k for k in authors})
        notes.append(
            {
                "author": authors[speaker] or speaker,
                "date": timestamp(data, f"transcriptExcerpt.{i}.at"),
                "text": required(data, f"transcriptExcerpt.{i}.text"),
            }
        )
    document = interaction(
        type_name="ChatInteraction",
        kind="chat",
        reason=humanize(intent) if intent else "Chat conversation",
        direction="inbound",
        status=one_of(data, "state", STATES),
        description=f"{platform} conversation, {messages} messages"
        + (", escalated from bot to agent" if escalated else ""),
        start=timestamp(data, "startedAt"),
        end=timestamp(data, "endedAt", needed=False),
        parties=customer(event, optional(data, "customer.segment"), optional(data, "customer.name")) + agent_party,
        notes=notes,
        chat={
            "conversationId": conversation_id,
            "platform": required(data, "platform"),
            "botId": optional(data, "bot.id"),
            "botName": optional(data, "bot.name"),
            "messageCount": messages,
            "escalated": escalated,
            "escalationReason": optional(data, "escalation.reason") if escalated else None,
            "csat": optional(data, "csat", int),
        },
    )
    return upsert(event, conversation_id, document)
