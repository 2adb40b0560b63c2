"""Bulk loading for the CLI: demo data and JSON Lines imports, with progress bars."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import uuid4

from rich.console import Console
from rich.progress import Progress, TaskID

from ingest.demo import stories
from interaction_hub.kafka_client import kafka_options
from interaction_hub.settings import Settings
from schemas.channel_event import ChannelEvent
from schemas.party_interaction import PartyInteractionCreate
from storage.changes import Change

if TYPE_CHECKING:
    from query_api.deps import Intake

console = Console(stderr=True)
DEMO_SOURCE = "urn:ihub:demo"
BATCH = 500

VENDOR_SHARE = 0.3
"""The share of demo interactions made of vendor records (ingest/vendor_demo.py), each delivery
taking the webhook's path. The others are TMF683 bodies naming the customer's party id: most vendor
records name customers by phone number, address or platform id, which nothing resolves to a party
yet, so it is the bodies that fill customers' histories."""


async def demo(settings: Settings, count: int, seed: int, parties: int, if_empty: bool = False) -> int | None:
    """About `count` interactions over the last 90 days; VENDOR_SHARE of them from vendor records.
    Returns how many interactions it made exactly (vendor stories make one or a few each); None
    when `if_empty` found the store holding some (it says so)."""
    anchor = datetime.now(UTC).replace(microsecond=0)
    vendor = round(count * VENDOR_SHARE)
    if settings.store == "embedded":
        return await _demo_embedded(settings, count, vendor, seed, parties, anchor, if_empty)
    return await _demo_kafka(settings, count, vendor, seed, parties, anchor)


async def _demo_embedded(
    settings: Settings, count: int, vendor: int, seed: int, parties: int, anchor: datetime, if_empty: bool
) -> int | None:
    from interaction_hub.cli.embedded import open_store
    from query_api.intake import embedded_intake
    from storage.query import Query

    store = open_store(
        settings,
        create=True,
        advice="stop it first (the demo writes into the store itself), or give another --data-dir",
    )
    base = f"{settings.resource_root()}{settings.base_path}/partyInteraction/"
    try:
        existing = (await store.list(Query(limit=0))).total
        if if_empty and existing:
            console.print(f"{settings.data_dir} already holds {existing} interactions; no demo data added")
            return None
        with Progress(console=console) as progress:
            task = progress.add_task(
                f"storing {count} interactions ({vendor} from vendor records) in {settings.data_dir}", total=count
            )
            batch = []
            for body in stories(count - vendor, seed, parties, anchor):
                interaction_id = uuid4().hex
                created = PartyInteractionCreate.model_validate(body).to_json_dict()
                batch.append(
                    Change.at(
                        "create",
                        interaction_id,
                        body["interactionDate"]["endDateTime"],
                        created,
                        href=base + interaction_id,
                    )
                )
                if len(batch) == BATCH:
                    await store.write_many(batch, lambda old, new: [])
                    progress.advance(task, len(batch))
                    batch = []
            await store.write_many(batch, lambda old, new: [])
            progress.advance(task, len(batch))
            # stored as the ingress stores a webhook's records (no hub notifications: demo data)
            intake = embedded_intake(store, lambda old, new: [], base.removesuffix("/"))
            made = await _vendor_records(intake, vendor, seed, parties, anchor, progress, task)
            return count - vendor + made
    finally:
        await store.close()


def demo_events(count: int, seed: int, parties: int, anchor: datetime | None = None) -> Iterator[ChannelEvent]:
    """Demo interactions as the TMF683 events a channel system already speaking TMF683 publishes."""
    for body in stories(count, seed, parties, anchor):
        yield ChannelEvent(
            id=uuid4().hex,
            source=DEMO_SOURCE,
            type="tmf683.partyInteraction.create",
            time=body["interactionDate"]["endDateTime"],
            subject=body["relatedParty"][0]["id"],
            data={**body, "id": uuid4().hex},
        )


async def _demo_kafka(settings: Settings, count: int, vendor: int, seed: int, parties: int, anchor: datetime) -> int:
    from ingest.publisher import Publisher

    async with Publisher(**kafka_options(settings)) as publisher:
        with Progress(console=console) as progress:
            task = progress.add_task(
                f"publishing {count} interactions ({vendor} from vendor records) to Kafka", total=count
            )
            batch: list[ChannelEvent] = []
            for event in demo_events(count - vendor, seed, parties, anchor):
                batch.append(event)
                if len(batch) == BATCH:
                    progress.advance(task, await publisher.publish_many(batch))
                    batch = []
            progress.advance(task, await publisher.publish_many(batch))

            # onto the raw topic as the ingress of a server in this mode puts a webhook's records
            async def publish(items: Sequence[tuple[ChannelEvent, Change]]) -> None:
                await publisher.publish_many(event for event, _ in items)

            return count - vendor + await _vendor_records(publish, vendor, seed, parties, anchor, progress, task)


async def _vendor_records(
    intake: Intake, count: int, seed: int, parties: int, anchor: datetime, progress: Progress, task: TaskID
) -> int:
    """About `count` interactions made of the demo sources' vendor deliveries, each split and adapted
    as the webhook does it (query_api.routes.ingest.adapted), then made durable by `intake`."""
    from ingest.vendor_demo import sources
    from ingest.vendor_demo import stories as vendor_stories
    from query_api.routes.ingest import adapted

    demo_sources = sources()
    batch: list[tuple[ChannelEvent, Change]] = []
    made: set[str] = set()  # the interactions, by id: a story's records may make one or a few
    for story in vendor_stories(count, seed, parties, anchor):
        for delivery in story.deliveries:
            batch += adapted(demo_sources[delivery.source], delivery.body, delivery.media_type, delivery.received)
        if len(batch) >= BATCH:
            made.update(change.interaction_id for _, change in batch)
            await intake(batch)
            batch = []
        progress.advance(task, story.interactions)
    made.update(change.interaction_id for _, change in batch)
    await intake(batch)
    return len(made)


async def import_file(settings: Settings, path: Path) -> int:
    """Publish every valid line; report each invalid one (line number and reason). Returns how many were rejected."""
    from pydantic import ValidationError

    from ingest.adapters import AdapterError, adapt
    from ingest.publisher import Publisher

    lines = path.read_bytes().splitlines()
    rejected = published = 0
    async with Publisher(**kafka_options(settings)) as publisher:
        with Progress(console=console) as progress:
            task = progress.add_task(f"importing {path.name}", total=len(lines))
            batch: list[ChannelEvent] = []
            for number, line in enumerate(lines, 1):
                progress.advance(task)
                if not line.strip():
                    continue
                try:
                    event = ChannelEvent.from_bytes(line)
                    adapt(event)
                except (ValidationError, ValueError, AdapterError) as exc:
                    rejected += 1
                    progress.console.print(f"[red]line {number} rejected:[/red] {exc}")
                    continue
                batch.append(event)
                if len(batch) == 500:
                    published += await publisher.publish_many(batch)
                    batch = []
            published += await publisher.publish_many(batch)
    console.print(f"published {published} events, rejected {rejected}")
    return rejected
