"""The party directory in full mode, for whoever changes it: the API, `ihub parties import` and the
workers' Party Management events (stream_workers/party_events.py).

A change writes the directory (`<alias>-parties`, refreshed), then finds every interaction that
carries a key whose holders changed (and, for a merge, every one naming the duplicate) and puts a
relink event for each on the raw topic (schemas/relink.py), acknowledged by the brokers before the
change answers. The workers resolve each one again as they apply it, reading the directory then:
the new holdings are in it, so a replay or a crash anywhere after the directory write still ends
with every interaction resolved against the directory as it is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from schemas.party import Party
from schemas.relink import relink_events
from storage.changes import Invalid
from storage.identity import merged
from storage.search import directory, erasure
from storage.search.store import SearchStore

Send = Callable[[Sequence[tuple[bytes, bytes]]], Awaitable[None]]


class SearchDirectory:
    """PartyDirectory (storage/base.py) on the engine; `send` puts (key, value) records on the raw
    topic and returns once the brokers have them all."""

    def __init__(self, search: SearchStore, send: Send):
        self.search = search
        self.index = search.directory
        self._send = send

    async def party(self, party_id: str) -> Party | None:
        return await self.index.party(party_id)

    async def put_parties(self, parties: Sequence[Party], notify: Any = None) -> int:
        found = await self.index.parties([p.id for p in parties])
        gone = [p.id for p in found.values() if p.mergedInto]
        if gone:
            raise Invalid(f"party '{gone[0]}' was merged into another party")
        return await self._relink(await self.index.put(parties))

    async def remove_party(self, party_id: str, notify: Any = None) -> int:
        return await self._relink(await self.index.remove(party_id))

    async def merge_parties(self, survivor_id: str, duplicate_id: str, notify: Any = None) -> int:
        found = await self.index.parties([survivor_id, duplicate_id])
        try:
            parties = merged(survivor_id, found.get(survivor_id), duplicate_id, found.get(duplicate_id))
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        keys = await self.index.put(parties)
        naming = await erasure.ids_naming(self.search, duplicate_id)
        return await self._relink(keys, naming, {duplicate_id: survivor_id})

    async def holders(self, key: str, at: float | None) -> list[tuple[Party, dict[str, Any]]]:
        return await self.index.holders(key, at)

    async def carried(self, key: str) -> int:
        return await directory.carried(self.search.client, self.search.alias, key)

    async def shared_contacts(self, limit: int) -> list[dict[str, Any]]:
        return await self.index.shared(limit)

    async def _relink(self, keys: set[str], also: Sequence[str] = (), renames: dict[str, str] | None = None) -> int:
        """Relink events for every interaction carrying the keys, and `also`, a page at a time (a
        number carried by a million interactions never sits in memory at once); how many."""
        await self.index.bump()  # after the parties are written, before the search (storage/search/directory.py)
        sent: set[str] = set()
        pages = directory.carrying(self.search.client, self.search.alias, keys)
        async for page in _with(pages, list(also)):
            fresh = [i for i in page if i not in sent]
            events = relink_events(fresh, renames)
            await self._send([(event.data["interactionId"].encode(), event.to_bytes()) for event in events])
            sent.update(fresh)
        return len(sent)


async def _with(pages: AsyncIterator[list[str]], first: list[str]) -> AsyncIterator[list[str]]:
    if first:
        yield first
    async for page in pages:
        yield page
