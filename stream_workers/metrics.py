"""The workers' Prometheus metrics (served on IHUB_WORKER_HTTP_PORT, stream_workers/operations.py).

Every label is bounded: channels are a fixed list, reasons a few words of the code, partitions
those of the topics, subscriptions at most IHUB_HUB_MAX_SUBSCRIPTIONS (and removed with them).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress

from prometheus_client import Counter, Gauge, Histogram

CHANNELS = frozenset({"web", "app", "voice", "ivr", "store", "email", "chat", "social", "messaging", "task"})

EVENTS_CONSUMED = Counter("ihub_worker_events_consumed", "Raw events taken from Kafka", ["channel"])
EVENTS_INDEXED = Counter("ihub_worker_events_indexed", "Raw events applied to the index", ["channel"])
EVENTS_DEAD_LETTERED = Counter(
    "ihub_worker_events_dead_lettered", "Raw events sent to the dead-letter topic", ["channel", "reason"]
)
BATCH_SIZE = Histogram(
    "ihub_worker_batch_size", "Events per batch", buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000)
)
BULK_SECONDS = Histogram(
    "ihub_worker_bulk_seconds",
    "One bulk write to the engine, until it acknowledged (retries included)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RESOLUTION_SECONDS = Histogram(
    "ihub_worker_directory_read_seconds",
    "One read of the party directory for a batch's identifier keys (identity resolution)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
FRESHNESS_SECONDS = Histogram(
    "ihub_worker_freshness_seconds",
    "From an event's Kafka timestamp to its change being in the index",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
CONSUMER_LAG = Gauge("ihub_worker_consumer_lag", "Records not yet committed, per partition", ["topic", "partition"])
NOTIFICATIONS_DELIVERED = Counter(
    "ihub_worker_notifications_delivered", "Notifications a subscriber accepted", ["subscription"]
)
NOTIFICATIONS_FAILED = Counter(
    "ihub_worker_notifications_failed", "Notifications given up after every attempt", ["subscription"]
)


def channel_of(event_type: str | None) -> str:
    """`ihub.voice.call.ended` -> voice, `tmf683.partyInteraction.create` -> api; else other."""
    if not event_type:
        return "unknown"
    if event_type.startswith("tmf683."):
        return "api"
    parts = event_type.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "ihub" and parts[1] in CHANNELS else "other"


def count_by_channel(counter: Counter, event_types: Mapping[str | None, int]) -> None:
    """Add a batch's events, counted by event type, to a per-channel counter: one label lookup per
    type rather than per event."""
    for event_type, count in event_types.items():
        counter.labels(channel_of(event_type)).inc(count)


def forget_subscription(subscription_id: str) -> None:
    for counter in (NOTIFICATIONS_DELIVERED, NOTIFICATIONS_FAILED):
        with suppress(KeyError):  # it never delivered (or never failed)
            counter.remove(subscription_id)
