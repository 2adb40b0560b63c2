"""Channel adapters: pure functions from a `ChannelEvent` to an `Change` (storage/changes.py).

One module per channel of the project's own envelope; `ADAPTERS` maps each event `type` to its
adapter, and `adapt` dispatches, to a vendor format's adapter (ingest/formats) for the rest.
Adapters do no I/O and read no clock or random source: the same event always gives the same change,
so a worker may retry or replay freely. Anything that cannot be adapted raises `AdapterError`, whose
`reason` names the problem (the worker sends the event to the dead-letter topic with it).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

from ingest import formats
from ingest.adapters import app, chat, email, ivr, relink, social, store, tmf683, voice, web
from ingest.adapters.common import AdapterError
from schemas.channel_event import ChannelEvent
from schemas.relink import RELINK_TYPE
from storage.changes import Change

__all__ = ["ADAPTERS", "AdapterError", "adapt", "sample_events"]

ADAPTERS: dict[str, Callable[[ChannelEvent], Change]] = {
    "ihub.web.session": web.session,
    "ihub.app.session": app.session,
    "ihub.voice.call.started": voice.call_started,
    "ihub.voice.call.ended": voice.call_ended,
    "ihub.ivr.session": ivr.session,
    "ihub.store.visit": store.visit,
    "ihub.email.message": email.message,
    "ihub.chat.conversation": chat.conversation,
    "ihub.social.message": social.message,
    "tmf683.partyInteraction.create": tmf683.create,
    "tmf683.partyInteraction.patch": tmf683.patch,
    "tmf683.partyInteraction.delete": tmf683.delete,
    "tmf683.v5.partyInteraction.create": tmf683.create_v5,
    "tmf683.v5.partyInteraction.delete": tmf683.delete,
}


def adapt(event: ChannelEvent) -> Change:
    """The change `event` makes; AdapterError for an unknown type or data the adapter cannot use.
    An event made of a vendor record has its format's id as type (ingest/formats)."""
    adapter = ADAPTERS.get(event.type)
    if adapter is not None:
        return adapter(event)
    if event.type == RELINK_TYPE:  # the party directory's, not a channel's (schemas/relink.py)
        return relink.relink(event)
    vendor = formats.FORMATS.get(event.type)
    if vendor is None:
        raise AdapterError(f"unknown event type {event.type!r}")
    return formats.keyed(vendor, event)


def sample_events() -> list[ChannelEvent]:
    """One realistic envelope per event type (`ingest/samples/<type>.json`, package data)."""
    samples = files("ingest").joinpath("samples")
    return [
        ChannelEvent.from_bytes(sample.read_bytes())
        for sample in sorted(samples.iterdir(), key=lambda s: s.name)
        if sample.name.endswith(".json")
    ]
