"""IVR sessions: `ihub.ivr.session`, published by the voice portal when the caller leaves the IVR.

Native `data`:
    sessionId, callId (telephony call id), direction (default inbound), ani, dnis, language,
    startedAt, endedAt, authenticated, menuPath [node ids], selfService {task, outcome},
    transfer {target, reason} (when the outcome is `transferred`), customer {segment}
"""

from __future__ import annotations

from ingest.adapters.common import (
    DIRECTIONS,
    customer,
    humanize,
    interaction,
    one_of,
    optional,
    required,
    seconds_between,
    strings,
    timestamp,
    upsert,
)
from schemas.channel_event import ChannelEvent
from storage.changes import Change

# Self-service outcome -> status. `transferred`: the IVR part is done, an agent takes over.
OUTCOMES = {"contained": "completed", "transferred": "completed", "abandoned": "cancelled", "error": "cancelled"}


def session(event: ChannelEvent) -> Change:
    data = event.data
    session_id = required(data, "sessionId")
    start, end = timestamp(data, "startedAt"), timestamp(data, "endedAt")
    menu_path = strings(data, "menuPath")
    outcome = required(data, "selfService.outcome")
    status = one_of(data, "selfService.outcome", OUTCOMES)
    target = required(data, "transfer.target") if outcome == "transferred" else None
    task = optional(data, "selfService.task")
    description = f"IVR {' > '.join(menu_path) or 'main menu'}: {outcome}" + (f" to {target}" if target else "")
    document = interaction(
        type_name="IvrSessionInteraction",
        kind="ivr",
        reason=humanize(task or (menu_path[-1] if menu_path else "IVR call")),
        direction=one_of(data, "direction", DIRECTIONS, default="inbound"),
        status=status,
        description=description,
        start=start,
        end=end,
        parties=customer(event, optional(data, "customer.segment")),
        ivr={
            "sessionId": session_id,
            "callId": optional(data, "callId"),
            "ani": optional(data, "ani"),
            "dnis": optional(data, "dnis"),
            "language": optional(data, "language"),
            "authenticated": optional(data, "authenticated", bool, False),
            "menuPath": menu_path,
            "selfServiceTask": task,
            "outcome": outcome,
            "transferTarget": target,
            "transferReason": optional(data, "transfer.reason"),
            "durationSeconds": seconds_between(start, end),
        },
    )
    return upsert(event, session_id, document)
