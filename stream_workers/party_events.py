"""TMF632 Party Management events (`IHUB_PARTY_EVENTS_TOPIC`) into the party directory.

Create, attribute value change and state change events store the party as the event shows it;
an event without `contactMedium` keeps the media the directory holds. A delete event forgets the
party's holdings. Each directory change re-resolves the interactions it touches through relink
events on the raw topic (interaction_hub/directory.py); a batch's offsets commit only after that,
so a worker killed half-way does it again (every step is idempotent). An event that cannot be read
is a dead letter naming the problem.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import orjson

from interaction_hub.directory import SearchDirectory
from schemas.dead_letter import DeadLetter
from schemas.party import Party, party_event
from stream_workers.pipeline import Message, dead_letter

log = logging.getLogger(__name__)


async def apply_party_events(
    messages: Sequence[Message], directory: SearchDirectory, region: str | None
) -> list[DeadLetter]:
    """Apply a batch of events in order; the dead letters of those that cannot be read."""
    letters: list[DeadLetter] = []
    puts: dict[str, tuple[Party, bool]] = {}

    async def flush() -> None:
        if not puts:
            return
        known = await directory.index.parties(list(puts))
        parties = []
        for party, has_media in puts.values():
            before = known.get(party.id)
            if before is not None and before.mergedInto:
                log.warning(
                    "party %s was merged into %s: its Party Management event is ignored", party.id, before.mergedInto
                )
            elif has_media or before is None:
                parties.append(party)
            else:
                parties.append(party.model_copy(update={"contactMedium": before.contactMedium}))
        puts.clear()
        await directory.put_parties(parties)

    for message in messages:
        try:
            what, party, has_media = party_event(orjson.loads(message.value), region)
        except (ValueError, orjson.JSONDecodeError) as exc:
            letters.append(dead_letter(message, str(exc)))
            continue
        if what == "delete":
            await flush()  # what came before it, first
            await directory.remove_party(party.id)
        else:
            earlier = puts.get(party.id)
            if earlier is not None and not has_media:  # a later event without media keeps the earlier's
                party, has_media = party.model_copy(update={"contactMedium": earlier[0].contactMedium}), earlier[1]
            puts[party.id] = (party, has_media)
    await flush()
    return letters
