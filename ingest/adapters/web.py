"""Web self-care: `ihub.web.session`, published by the self-care portal's analytics collector when a
signed-in (or anonymous) visit ends.

Native `data`:
    sessionId, startedAt, endedAt, pages [paths], intent, outcome, goalReached, referrer,
    device {type, os, browser}, login {accountType, displayName}
"""

from __future__ import annotations

from ingest.adapters.common import customer, humanize, interaction, optional, required, strings, timestamp, upsert
from schemas.channel_event import ChannelEvent
from storage.changes import Change


def session(event: ChannelEvent) -> Change:
    data = event.data
    session_id = required(data, "sessionId")
    pages = strings(data, "pages")
    intent, outcome = optional(data, "intent"), optional(data, "outcome")
    goal_reached = optional(data, "goalReached", bool)
    document = interaction(
        type_name="WebSessionInteraction",
        kind="web",
        reason=humanize(intent) if intent else "Web self-care visit",
        direction="inbound",
        status="completed",  # the session is over; whether its goal was reached is in session.goalReached
        description=f"Web self-care session, {len(pages)} pages"
        + (f", {humanize(outcome).lower()}" if outcome else ""),
        start=timestamp(data, "startedAt"),
        end=timestamp(data, "endedAt"),
        parties=customer(event, optional(data, "login.accountType"), optional(data, "login.displayName")),
        session={
            "sessionId": session_id,
            "pages": pages,
            "pageCount": len(pages),
            "intent": intent,
            "outcome": outcome,
            "goalReached": goal_reached,
            "referrer": optional(data, "referrer"),
            "deviceType": optional(data, "device.type"),
            "os": optional(data, "device.os"),
            "browser": optional(data, "device.browser"),
        },
    )
    return upsert(event, session_id, document)
