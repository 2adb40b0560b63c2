"""Social media: `ihub.social.message`, published by the social care tool for each public post,
comment or private (direct) message that mentions or is addressed to the operator, and for the
operator's replies.

Native `data`:
    network (x|facebook|instagram|linkedin|tiktok), messageId (unique per network), kind
    (mention|comment|dm|reply), visibility (public|private), direction, author {handle, displayName,
    followers}, postedAt, text, url, inReplyTo (message id on the same network), topic, language,
    sentiment {label, score}, state (new|assigned|replied|closed), assignedAgent {id, name},
    customer {segment}
"""

from __future__ import annotations

from ingest.adapters.common import (
    DIRECTIONS,
    agent,
    customer,
    humanize,
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

NETWORKS = {"x": "X", "facebook": "Facebook", "instagram": "Instagram", "linkedin": "LinkedIn", "tiktok": "TikTok"}
KINDS = {"mention": "mention", "comment": "comment", "dm": "direct message", "reply": "reply"}
VISIBILITY = {"public": "public", "private": "private"}
SENTIMENTS = {"positive": "positive", "neutral": "neutral", "negative": "negative"}
STATES = {"new": "open", "assigned": "inProgress", "replied": "completed", "closed": "completed"}


def message(event: ChannelEvent) -> Change:
    data = event.data
    network = required(data, "network")
    network_name = one_of(data, "network", NETWORKS)
    message_id = required(data, "messageId")
    kind = one_of(data, "kind", KINDS)
    visibility = one_of(data, "visibility", VISIBILITY)
    handle = required(data, "author.handle")
    posted = timestamp(data, "postedAt")
    reply_to = optional(data, "inReplyTo")
    topic = optional(data, "topic")
    document = interaction(
        type_name="SocialMessageInteraction",
        kind="social",
        reason=humanize(topic) if topic else f"Social {kind}",
        direction=one_of(data, "direction", DIRECTIONS),
        status=one_of(data, "state", STATES),
        description=f"{visibility.capitalize()} {kind} on {network_name} by {handle}",
        start=posted,
        end=posted,
        parties=customer(event, optional(data, "customer.segment"), optional(data, "author.displayName"))
        + agent(data, "assignedAgent"),
        notes=note(required(data, "text"), handle, posted),
        interactionRelationship=[
            {"id": interaction_id(event.source, f"{network}:{reply_to}"), "relationshipType": "replyTo"}
        ]
        if reply_to
        else None,
        social={
            "network": network,
            "messageId": message_id,
            "kind": required(data, "kind"),
            "visibility": visibility,
            "handle": handle,
            "followers": optional(data, "author.followers", int),
            "url": optional(data, "url"),
            "language": optional(data, "language"),
            "sentiment": {
                "label": one_of(data, "sentiment.label", SENTIMENTS),
                "score": optional(data, "sentiment.score", float),
            }
            if optional(data, "sentiment", dict)
            else None,
        },
    )
    return upsert(event, f"{network}:{message_id}", document)
