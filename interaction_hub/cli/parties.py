"""`ihub parties import FILE`: TMF632 Individual and Organization resources, one JSON object a line
(a CRM's export), into the party directory, in either mode. Every interaction carrying a contact
the import changes is resolved again (late binding): at once in the embedded store, by the workers
on the relink events the directory publishes in full mode (interaction_hub/directory.py)."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
from collections import deque
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from interaction_hub.cli import ExistingDataDir, Store, _settings
from schemas.party import Party, party_from_tmf632
from storage.changes import Invalid

if TYPE_CHECKING:
    from interaction_hub.settings import Settings
    from storage.base import PartyDirectory

console = Console(stderr=True)
CHUNK = {"embedded": 5000, "search": 1000}
"""Parties per directory change: one transaction in the embedded store (it also re-resolves the
interactions carrying what the chunk touched); one bulk request, then its relink events, in full mode."""
PARSERS = 2  # processes parsing lines, at most one per core: parsing costs three times what writing does
MAX_REASON = 160  # a bad line's reason is one short line
_INDIVIDUAL = ("givenName", "familyName", "fullName")
_ORGANIZATION = ("name", "tradingName")
Chunk = dict[str, tuple[int, Party]]  # party id -> (line number, party)

parties_app = typer.Typer(
    help="The party directory: which party holds which phone number, address or platform id.",
    no_args_is_help=True,
)


@parties_app.command("import")
def import_parties(
    file: Annotated[Path, typer.Argument(help="TMF632 Individual and Organization resources, one JSON per line")],
    store: Store = None,
    data_dir: ExistingDataDir = None,
) -> None:
    """Put parties into the directory (each replaces what it held of that party) and link the
    interactions carrying their contact media. A bad line is reported with its number and not
    imported (exit 1); the others are."""
    settings = _settings(store=store, data_dir=data_dir)
    if not file.is_file():
        typer.echo(f"ihub: {file}: no such file", err=True)
        raise typer.Exit(2)
    if settings.store == "embedded":
        from interaction_hub.cli.embedded import existing

        try:
            existing(settings.data_dir)
        except typer.Exit:
            raise typer.Exit(2) from None  # exit 1 says that lines were bad
    imported, bad, linked = asyncio.run(_import(settings, file))
    typer.echo(f"ihub: {imported} parties imported, {bad} bad lines, {linked} interactions linked again")
    if bad:
        raise typer.Exit(1)


def referred_type(resource: dict[str, Any]) -> str:
    """Individual or Organization: the resource's @type, else what its name fields say."""
    kind = resource.get("@type")
    if kind is None:
        if any(k in resource for k in _INDIVIDUAL):
            return "Individual"
        if any(k in resource for k in _ORGANIZATION):
            return "Organization"
        raise ValueError("no @type, and no givenName, familyName or fullName (Individual) or name (Organization)")
    if kind not in ("Individual", "Organization"):
        raise ValueError(f"@type {str(kind)[:40]!r}: Individual or Organization expected")
    return str(kind)


def parse(line: bytes, region: str | None) -> Party:
    """The directory entry on one line (ValueError naming the problem)."""
    try:
        resource = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(resource, dict):
        raise ValueError("not a JSON object")
    return party_from_tmf632(resource, referred_type(resource), region)


def parse_block(first: int, lines: list[bytes], region: str | None) -> tuple[Chunk, list[tuple[int, str]]]:
    """The parties on consecutive lines, the first numbered `first`: ({party id: (line number,
    party)}, [(line number, why it is bad)]). A party twice: its last line wins, as it would in
    two chunks."""
    chunk: Chunk = {}
    bad = []
    for number, line in enumerate(lines, first):
        if not line.strip():
            continue
        try:
            party = parse(line, region)
        except ValueError as exc:
            bad.append((number, str(exc)))
            continue
        chunk.pop(party.id, None)
        chunk[party.id] = (number, party)
    return chunk, bad


def _blocks(path: Path, size: int) -> Iterator[tuple[int, list[bytes], int]]:
    """(first line's number, `size` lines, bytes read so far) through the file."""
    lines: list[bytes] = []
    read = 0
    first = 1
    with path.open("rb") as file:
        for number, line in enumerate(file, 1):
            read += len(line)
            lines.append(line)
            if len(lines) == size:
                yield first, lines, read
                first, lines = number + 1, []
    yield first, lines, read


async def _import(settings: Settings, path: Path) -> tuple[int, int, int]:
    """(parties imported, bad lines, interactions linked again). Other processes parse (what an
    import costs most: phone numbers) while this one writes."""
    imported = linked = bad = 0

    def report(number: int, reason: str) -> None:
        nonlocal bad
        bad += 1
        reason = escape(reason.replace("\n", " ")[:MAX_REASON])
        console.print(f"[red]line {number}:[/red] {reason}", highlight=False, markup=True, soft_wrap=True)

    loop = asyncio.get_running_loop()
    parsers = max(1, min(PARSERS, os.cpu_count() or 2))
    async with _directory(settings) as (directory, notify):
        with (
            # a parser's objects hold no reference cycles: the cyclic collector would only cost time
            ProcessPoolExecutor(parsers, multiprocessing.get_context("spawn"), gc.disable) as pool,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[parties]} parties"),
                console=console,
            ) as progress,
        ):
            task = progress.add_task(f"importing {path.name}", total=path.stat().st_size, parties=0)
            parsing: deque[tuple[int, asyncio.Future[tuple[Chunk, list[tuple[int, str]]]]]] = deque()

            async def store_next() -> None:
                nonlocal imported, linked
                read, parsed = parsing.popleft()
                chunk, wrong = await parsed
                for number, reason in wrong:
                    report(number, reason)
                done, relinked = await _put(directory, chunk, notify, report)
                imported, linked = imported + done, linked + relinked
                progress.update(task, completed=read, parties=imported)

            for first, lines, read in _blocks(path, CHUNK[settings.store]):
                parsing.append((read, loop.run_in_executor(pool, parse_block, first, lines, settings.phone_region)))
                if len(parsing) > parsers:  # the parsers go on with the next chunks while this one is written
                    await store_next()
            while parsing:
                await store_next()
    return imported, bad, linked


async def _put(directory: PartyDirectory, chunk: Chunk, notify: Any, report: Any) -> tuple[int, int]:
    """Put one chunk's parties; (how many, interactions linked again). A party merged into another
    is a bad line; the others go in."""
    parties = [party for _, party in chunk.values()]
    try:
        return len(parties), await directory.put_parties(parties, notify)
    except Invalid:
        pass
    kept = []
    for number, party in chunk.values():
        found = await directory.party(party.id)
        if found is not None and found.mergedInto:
            report(number, f"party {party.id!r} was merged into {found.mergedInto!r}")
        else:
            kept.append(party)
    return len(kept), await directory.put_parties(kept, notify)


@asynccontextmanager
async def _directory(settings: Settings) -> AsyncIterator[tuple[PartyDirectory, Any]]:
    """The directory and the Notify its changes take: the embedded store (one writer: the server
    must not run), or the engine's directory index with a producer for the relink events."""
    if settings.store == "embedded":
        from interaction_hub.cli.embedded import open_store, subscribers_notify

        store = open_store(settings, create=False, advice="stop the server first, or PUT the parties' contact media")
        try:
            # the interactions it relinks are changes the store's subscribers hear of
            yield store, await subscribers_notify(settings, store)
        finally:
            await store.close()
        return
    from aiokafka import AIOKafkaProducer

    from interaction_hub.directory import SearchDirectory
    from interaction_hub.health import engine_ready
    from interaction_hub.kafka_client import kafka_options
    from interaction_hub.search_client import search_store
    from stream_workers.app import send_raw

    search = search_store(settings)
    try:
        reason = await engine_ready(search.client, settings.index_alias)
        if reason:
            typer.echo(f"ihub: {settings.search_url}: {reason} (`ihub init` makes the index)", err=True)
            raise typer.Exit(2)
        producer = AIOKafkaProducer(**kafka_options(settings), acks="all", enable_idempotence=True)
        await producer.start()
        try:
            yield SearchDirectory(search, partial(send_raw, producer)), lambda old, new: []
        finally:
            await producer.stop()
    finally:
        await search.close()
