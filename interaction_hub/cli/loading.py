"""Bulk loading for the CLI: demo data and JSON Lines imports, with progress bars."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

from rich.console import Console
from rich.progress import Progress

from ingest.demo import stories
from interaction_hub.kafka_client import kafka_options
from interaction_hub.settings import Settings
from schemas.channel_event import ChannelEvent
from schemas.party_interaction import PartyInteractionCreate
from storage.changes import Change

console = Console(stderr=True)
DEMO_SOURCE = "urn:ihub:demo"


async def demo(settings: Settings, count: int, seed: int, parties: int, if_empty: bool = False) -> None:
    if settings.store == "embedded":
        await _demo_embedded(settings, count, seed, parties, if_empty)
    else:
        await _demo_kafka(settings, count, seed, parties)


async def _demo_embedded(settings: Settings, count: int, seed: int, parties: int, if_empty: bool) -> None:
    from interaction_hub.cli.embedded import open_store
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
            return
        with Progress(console=console) as progress:
            task = progress.add_task(f"storing {count} interactions in {settings.data_dir}", total=count)
            batch = []
            for body in stories(count, seed, parties):
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
                if len(batch) == 500:
                    await store.write_many(batch, lambda old, new: [])
                    progress.advance(task, len(batch))
                    batch = []
            await store.write_many(batch, lambda old, new: [])
            progress.advance(task, len(batch))
    finally:
        await store.close()


def demo_events(count: int, seed: int, parties: int) -> Iterator[ChannelEvent]:
    """Demo interactions as the TMF683 events a channel system already speaking TMF683 publishes."""
    for body in stories(count, seed, parties):
        yield ChannelEvent(
            id=uuid4().hex,
            source=DEMO_SOURCE,
            type="tmf683.partyInteraction.create",
            time=body["interactionDate"]["endDateTime"],
            subject=body["relatedParty"][0]["id"],
            data={**body, "id": uuid4().hex},
        )


async def _demo_kafka(settings: Settings, count: int, seed: int, parties: int) -> None:
    from ingest.publisher import Publisher

    async with Publisher(**kafka_options(settings)) as publisher:
        with Progress(console=console) as progress:
            task = progress.add_task(f"publishing {count} interactions to Kafka", total=count)
            batch: list[ChannelEvent] = []
            for event in demo_events(count, seed, parties):
                batch.append(event)
                if len(batch) == 500:
                    progress.advance(task, await publisher.publish_many(batch))
                    batch = []
            progress.advance(task, await publisher.publish_many(batch))


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
