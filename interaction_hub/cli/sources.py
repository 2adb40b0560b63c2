"""`ihub sources check FILE` and `ihub ingest --source NAME FILE...`: the sources file, and files
of a source's records replayed through the same path as its webhook (both modes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress

if TYPE_CHECKING:
    from ingest.sources import Source
    from interaction_hub.settings import Settings
    from query_api.deps import Intake
    from schemas.channel_event import ChannelEvent
    from storage.changes import Change

console = Console(stderr=True)
MAX_FILE_BYTES = 512 * 1024 * 1024
BATCH = 500

sources_app = typer.Typer(
    help="The sources file: the channel systems that send their own formats.", no_args_is_help=True
)


@sources_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="The sources file (TOML)")],
    env: Annotated[
        bool, typer.Option("--env/--no-env", help="Also check that the variables it names are set here")
    ] = True,
) -> None:
    """Validate a sources file and name every problem; exit 1 if there is any."""
    from ingest.sources import SourcesError, load

    try:
        sources = load(file, check_env=env)
    except SourcesError as exc:
        for problem in exc.problems:
            typer.echo(f"{file}: {problem}", err=True)
        raise typer.Exit(1) from None
    for name, source in sources.items():
        where = f"topic {source.table.topic} and " if source.table.topic else ""
        typer.echo(f"{name}: {source.format_id}, {where}POST /ingest/v1/sources/{name}")
    typer.echo(f"{file}: {len(sources)} sources, no problem")


def load_source(settings: Settings, name: str) -> Source:
    from ingest.sources import SourcesError, load

    if settings.sources_file is None:
        raise typer.BadParameter("no sources file: set IHUB_SOURCES_FILE or --sources-file")
    try:
        sources = load(settings.sources_file)
    except SourcesError as exc:
        raise typer.BadParameter("; ".join(exc.problems)) from None
    if name not in sources:
        raise typer.BadParameter(f"no source {name!r} in {settings.sources_file} (it has {', '.join(sources)})")
    return sources[name]


def ingest_files(settings: Settings, source: Source, files: list[Path], media_type: str | None) -> int:
    """Replay the files; returns how many records were stored (embedded) or published (full)."""
    kind = media_type or (source.format.media_types[0] if source.format else "application/json")
    for path in files:
        if not path.is_file():
            raise typer.BadParameter(f"{path}: no such file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise typer.BadParameter(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    return asyncio.run(_replay(settings, source, files, kind))


async def _replay(settings: Settings, source: Source, files: list[Path], kind: str) -> int:
    from ingest.formats import FormatError
    from query_api.routes.ingest import adapted
    from schemas.common import utc_now

    total = 0
    async with _intake(settings) as intake:
        with Progress(console=console) as progress:
            task = progress.add_task(f"{source.name}: {len(files)} files", total=len(files))
            for path in files:
                try:
                    items = adapted(source, path.read_bytes(), kind, utc_now())
                except (FormatError, ValueError) as exc:
                    raise typer.BadParameter(f"{path}: {exc}") from None
                for start in range(0, len(items), BATCH):
                    await intake(items[start : start + BATCH])
                total += len(items)
                progress.advance(task)
    return total


@asynccontextmanager
async def _intake(settings: Settings) -> AsyncIterator[Intake]:
    """Where replayed records go: the embedded store (one writer: the server must not run), or
    the raw topic, as the ingress of a server in that mode puts them."""
    if settings.store == "embedded":
        from interaction_hub.cli.embedded import open_store
        from query_api.intake import embedded_intake

        store = open_store(settings, create=False, advice="stop the server first, or POST the records to its ingress")
        try:
            # no hub notifications, as for demo data: a served store notifies for what it stores
            yield embedded_intake(
                store, lambda old, new: [], f"{settings.resource_root()}{settings.base_path}/partyInteraction"
            )
        finally:
            await store.close()
        return
    from ingest.publisher import Publisher
    from interaction_hub.kafka_client import kafka_options

    async with Publisher(**kafka_options(settings)) as publisher:

        async def publish(items: Sequence[tuple[ChannelEvent, Change]]) -> None:
            await publisher.publish_many(event for event, _ in items)

        yield publish
