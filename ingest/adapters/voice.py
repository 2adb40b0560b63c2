"""Contact-centre calls: `ihub.voice.call.started` and `ihub.voice.call.ended`.

The platform (e.g. Genesys Cloud, source `urn:ihub:voice:genesys-eu1`) publishes its call record
when the call is answered and again, complete, when it ends. Both become the same interaction (its
id comes from the call id): `inProgress` first, then the full record with status `completed`.

Native `data` (the record grows as the call progresses; `*` only on call.ended):
    callId, direction (inbound|outbound), ani, dnis, queue, intent (IVR routing intent),
    offeredAt, answeredAt, endedAt*, agent {id, name}, customer {name, segment},
    talkSeconds*, holdSeconds*, afterCallWorkSeconds*, transfers*, wrapUp {code, name}*,
    disposition*, agentNotes*
"""

from __future__ import annotations

from typing import Any

from ingest.adapters.common import (
    DIRECTIONS,
    agent,
    customer,
    first_id,
    humanize,
    interaction,
    note,
    one_of,
    optional,
    required,
    seconds_between,
    timestamp,
    upsert,
)
from schemas.channel_event import ChannelEvent
from storage.changes import Change


def call_started(event: ChannelEvent) -> Change:
    return _call(event, ended=False)


def call_ended(event: ChannelEvent) -> Change:
    return _call(event, ended=True)


def _call(event: ChannelEvent, *, ended: bool) -> Change:
    data = event.data
    call_id = required(data, "callId")
    queue = required(data, "queue")
    offered = timestamp(data, "offeredAt")
    answered = timestamp(data, "answeredAt", needed=False)
    call: dict[str, Any] = {
        "callId": call_id,
        "ani": optional(data, "ani"),
        "dnis": optional(data, "dnis"),
        "queue": queue,
        "offeredAt": offered,
        "answeredAt": answered,
        "waitSeconds": seconds_between(offered, answered) if answered else None,
    }
    end = None
    description = f"Call in queue {queue}"
    if ended:
        end = timestamp(data, "endedAt")
        talk = required(data, "talkSeconds", int)
        hold = required(data, "holdSeconds", int)
        after_call_work = required(data, "afterCallWorkSeconds", int)
        call |= {
            "endedAt": end,
            "talkSeconds": talk,
            "holdSeconds": hold,
            "afterCallWorkSeconds": after_call_work,
            "handlingSeconds": talk + hold + after_call_work,
            "transfers": optional(data, "transfers", int, 0),
            "wrapUpCode": optional(data, "wrapUp.code"),
            "disposition": required(data, "disposition"),
        }
        description += f", handled in {call['handlingSeconds']} s, {call['disposition']}"
    intent = optional(data, "intent")
    reason = optional(data, "wrapUp.name") or (humanize(intent) if intent else f"Call to {queue}")
    agent_party = agent(data, "agent")
    document = interaction(
        type_name="VoiceCallInteraction",
        kind="voice",
        reason=reason,
        direction=one_of(data, "direction", DIRECTIONS),
        status="completed" if ended else "inProgress",
        description=description,
        start=offered,
        end=end,
        parties=customer(event, optional(data, "customer.segment"), optional(data, "customer.name")) + agent_party,
        notes=note(optional(data, "agentNotes"), first_id(agent_party), end),
        call=call,
    )
    return upsert(event, call_id, document)
