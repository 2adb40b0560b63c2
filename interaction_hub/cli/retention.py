"""`ihub retention`: what the retention purge removes, listed (--dry-run) or removed now."""

from __future__ import annotations

from collections import Counter
from contextlib import closing
from datetime import datetime
from typing import Any

import typer

from interaction_hub.cli.embedded import subscribers_notify
from interaction_hub.kafka_client import kafka_options
from interaction_hub.settings import Settings
from storage.base import Document
from storage.erasure_rules import month_of, retention_cutoff


async def retention(settings: Settings, days: int, *, dry_run: bool, show_ids: bool) -> int:
    """List or purge; the number of interactions concerned."""
    cutoff = retention_cutoff(days)
    when = cutoff.isoformat().replace("+00:00", "Z")
    if dry_run:
        found = await _expired(settings, cutoff)
        typer.echo(f"{len(found)} interactions ended before {when} (kept {days} days); nothing purged (dry run)")
        for month, count in sorted(Counter(month_of(doc) for doc in found).items()):
            typer.echo(f"  {month}  {count}")
        ids = sorted(doc["id"] for doc in found)
    else:
        store, close = await _open(settings)
        try:
            ids = await store.purge_expired(cutoff, await _notify(settings, store))
        finally:
            await close()
        typer.echo(f"purged {len(ids)} interactions that ended before {when} (kept {days} days)")
    if show_ids:
        for interaction_id in ids:
            typer.echo(interaction_id)
    return len(ids)


async def _expired(settings: Settings, cutoff: datetime) -> list[Document]:
    """What the purge would remove. The embedded store is read read-only, beside a server using it."""
    if settings.store == "embedded":
        from interaction_hub.cli.embedded import read_only
        from storage.sqlite.erasure import expired_rows

        with closing(read_only(settings.data_dir)) as conn:
            return [doc for _, doc in expired_rows(conn, cutoff)]
    store, close = await _open(settings)
    try:
        found: list[Document] = await store.expired(cutoff)
        return found
    finally:
        await close()


async def _open(settings: Settings) -> tuple[Any, Any]:
    if settings.store == "embedded":
        from interaction_hub.cli.embedded import open_store

        sqlite = open_store(
            settings,
            create=False,  # nothing to purge where there is no store
            advice="a server purges on its own schedule (IHUB_RETENTION_DAYS); stop it to purge now",
        )
        return sqlite, sqlite.close
    from interaction_hub.search_client import search_store
    from query_api.full_mode import LogBackedStore

    search = search_store(settings)
    full = LogBackedStore(
        search, kafka_options(settings), timeout_s=settings.write_timeout_s, erase_timeout_s=settings.erase_timeout_s
    )
    await full.start()
    return full, full.close


async def _notify(settings: Settings, store: Any) -> Any:
    """The embedded store's subscribers hear of each purged interaction (full mode: the workers)."""
    if settings.store != "embedded":
        return lambda old, new: []
    return await subscribers_notify(settings, store)
