"""Mobile app: `ihub.app.session`, published by the app's analytics backend when a session ends.
A session opened from a push notification counts as outbound (the operator started it).

Native `data`:
    sessionId, appId, appVersion, platform (ios|android), osVersion, deviceModel, startedAt,
    endedAt, screens [screen names], intent, outcome, goalReached, launchSource (icon|push|deeplink),
    pushCampaignId, account {type, displayName}
"""

from __future__ import annotations

from ingest.adapters.common import (
    customer,
    humanize,
    interaction,
    one_of,
    optional,
    required,
    strings,
    timestamp,
    upsert,
)
from schemas.channel_event import ChannelEvent
from storage.changes import Change

PLATFORMS = {"ios": "iOS", "android": "Android"}
LAUNCH_DIRECTIONS = {"icon": "inbound", "deeplink": "inbound", "push": "outbound"}


def session(event: ChannelEvent) -> Change:
    data = event.data
    session_id = required(data, "sessionId")
    screens = strings(data, "screens")
    intent, outcome = optional(data, "intent"), optional(data, "outcome")
    goal_reached = optional(data, "goalReached", bool)
    platform = one_of(data, "platform", PLATFORMS)
    app_version = required(data, "appVersion")
    document = interaction(
        type_name="AppSessionInteraction",
        kind="app",
        reason=humanize(intent) if intent else "Mobile app session",
        direction=one_of(data, "launchSource", LAUNCH_DIRECTIONS, default="icon"),
        status="completed",  # the session is over; whether its goal was reached is in session.goalReached
        description=f"{platform} app {app_version} session, {len(screens)} screens"
        + (f", {humanize(outcome).lower()}" if outcome else ""),
        start=timestamp(data, "startedAt"),
        end=timestamp(data, "endedAt"),
        parties=customer(event, optional(data, "account.type"), optional(data, "account.displayName")),
        session={
            "sessionId": session_id,
            "appId": optional(data, "appId"),
            "appVersion": app_version,
            "platform": required(data, "platform"),
            "osVersion": optional(data, "osVersion"),
            "deviceModel": optional(data, "deviceModel"),
            "screens": screens,
            "screenCount": len(screens),
            "intent": intent,
            "outcome": outcome,
            "goalReached": goal_reached,
            "launchSource": optional(data, "launchSource", str, "icon"),
            "pushCampaignId": optional(data, "pushCampaignId"),
        },
    )
    return upsert(event, session_id, document)
