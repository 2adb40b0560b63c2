"""Identity resolution: which party an interaction's customer is, from the identifiers the channel
named them by (schemas/identifiers.py) and who held each identifier when the interaction began.

Pure, like the change model, and called by it (storage.changes.apply, `resolve`): both stores make
the same decisions, and since resolution always reads the directory as it is now, any replay or
re-resolution of an interaction converges on the same answer.

The rule, for an interaction whose channel named no customer itself (a related party with role
`customer` written by the channel wins, and is never touched):
- each identifier key is held, at the interaction's start, by no party, one party, or several
  (a family phone: `shared`);
- the identifiers held by one party each name a candidate. One candidate: the interaction is
  `linked` to it (it becomes the `customer` related party). Several: `conflict`, none linked.
  None: `shared` if some identifier is shared, else `unresolved`.
A shared or conflicting identifier links nobody automatically: guessing would show one person's
contacts to another (README, "Identity resolution").

The decision is written on the interaction as `customerResolution`: {status, partyId and the key
that linked it when linked}. A later resolution first takes back the party an earlier one added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.common import epoch_seconds
from schemas.party import Party, medium_key, valid_for
from schemas.party_interaction import MAX_ITEMS

Document = dict[str, Any]
RESOLUTION = "customerResolution"
IDENTIFIERS = "customerIdentifier"
CUSTOMER = "customer"

# A directory read: the holdings of each key asked for (a key nobody holds: absent or empty).
Holdings = Mapping[str, list["Holding"]]
Resolver = Callable[[Document], Document]


@dataclass(frozen=True, slots=True)
class Holding:
    """A party's holding of one identifier key, from `start` until `end` (epoch seconds; None: open)."""

    party_id: str
    key: str
    start: float | None = None
    end: float | None = None
    name: str | None = None
    referred_type: str = "Individual"

    def valid_at(self, at: float | None) -> bool:
        if at is None:
            return self.start is None and self.end is None
        return (self.start is None or self.start <= at) and (self.end is None or at < self.end)


def holdings_of(party_id: str, media: Iterable[Document], name: str | None, referred_type: str) -> list[Holding]:
    """The holdings a party's contact media, as `schemas.party.contact_media` stored them, give."""
    found = []
    for medium in media:
        key = medium_key(medium, normalised=True)
        if key is not None:
            start, end = valid_for(medium)
            found.append(Holding(party_id, key, start, end, name, referred_type))
    return found


def sharing(holdings: Iterable[Holding]) -> list[str]:
    """The parties whose holdings of one key overlap another party's in time (a shared identifier)."""
    spans = list(holdings)
    return sorted({a.party_id for a in spans for b in spans if a.party_id != b.party_id and _overlap(a, b)})


def _overlap(one: Holding, other: Holding) -> bool:
    start = max((s for s in (one.start, other.start) if s is not None), default=None)
    end = min((e for e in (one.end, other.end) if e is not None), default=None)
    return start is None or end is None or start < end


def keys_of(doc: Document | None) -> list[str]:
    """The identifier keys an interaction carries (each `customerIdentifier` entry's `id`)."""
    entries = (doc or {}).get(IDENTIFIERS)
    if not isinstance(entries, list):
        return []
    return [e["id"] for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)]


def started(doc: Document) -> float | None:
    """When the interaction began (its start, else its creation): the instant holdings are read at."""
    for text in ((doc.get("interactionDate") or {}).get("startDateTime"), doc.get("creationDate")):
        if isinstance(text, str):
            at = epoch_seconds(text)
            if at is not None:
                return at
    return None


@dataclass(frozen=True, slots=True)
class Resolution:
    status: str  # linked | unresolved | shared | conflict
    holding: Holding | None = None

    def to_json(self) -> Document:
        if self.holding is None:
            return {"status": self.status}
        return {"status": self.status, "partyId": self.holding.party_id, "identifier": self.holding.key}


def decide(keys: list[str], at: float | None, holdings: Holdings) -> Resolution:
    """Who the customer is (the module's rule)."""
    candidates: dict[str, Holding] = {}
    shared = False
    for key in keys:
        holders = {h.party_id: h for h in holdings.get(key, ()) if h.valid_at(at)}
        if len(holders) > 1:
            shared = True
        elif holders:
            holding = next(iter(holders.values()))
            candidates.setdefault(holding.party_id, holding)
    if len(candidates) == 1:
        return Resolution("linked", next(iter(candidates.values())))
    if candidates:
        return Resolution("conflict")
    return Resolution("shared" if shared else "unresolved")


def resolved(doc: Document, holdings: Holdings) -> Document:
    """`doc` with its customer resolved from the directory's `holdings` (the module's rule): a new
    document when that changes anything, `doc` itself otherwise."""
    keys = keys_of(doc)
    previous = doc.get(RESOLUTION)
    linked_before = previous.get("partyId") if isinstance(previous, dict) else None
    parties = [p for p in doc.get("relatedParty") or [] if isinstance(p, dict)]
    own = [p for p in parties if p.get("role") == CUSTOMER and p.get("id") != linked_before]
    if not keys or own:
        # no identifiers left, or the channel names the customer itself: nothing of ours stays
        return doc if previous is None else _without_link(doc, linked_before)
    resolution = decide(keys, started(doc), holdings)
    ref = _reference(resolution.holding) if len(parties) < MAX_ITEMS["relatedParty"] else None
    if resolution.to_json() == previous and (ref is None or ref in parties):
        return doc
    result = _without_link(doc, linked_before)
    result[RESOLUTION] = resolution.to_json()
    if ref is not None:
        result["relatedParty"] = [*(result.get("relatedParty") or []), ref]
    return result


def _reference(holding: Holding | None) -> Document | None:
    """The related party a linked interaction gets."""
    if holding is None:
        return None
    ref = {"id": holding.party_id, "role": CUSTOMER, "@referredType": holding.referred_type}
    if holding.name:
        ref["name"] = holding.name
    return ref


def _without_link(doc: Document, party_id: str | None) -> Document:
    result = dict(doc)
    result.pop(RESOLUTION, None)
    if party_id is not None and isinstance(doc.get("relatedParty"), list):
        kept = [p for p in doc["relatedParty"] if not (p.get("id") == party_id and p.get("role") == CUSTOMER)]
        if kept:
            result["relatedParty"] = kept
        else:
            result.pop("relatedParty", None)
    return result


def renamed(doc: Document, renames: Mapping[str, str]) -> Document:
    """`doc` with each related party `renames` names (a merged duplicate) replaced by its survivor."""
    parties = doc.get("relatedParty")
    if not renames or not isinstance(parties, list):
        return doc
    result, seen, changed = [], set(), False
    for party in parties:
        if isinstance(party, dict) and party.get("id") in renames:
            party = {k: v for k, v in party.items() if k not in ("href", "name")} | {"id": renames[party["id"]]}
            changed = True
        marker = (party.get("id"), party.get("role")) if isinstance(party, dict) else None
        if marker is not None and marker in seen:
            continue
        seen.add(marker)
        result.append(party)
    if not changed:
        return doc
    out = {**doc, "relatedParty": result}
    resolution = doc.get(RESOLUTION)
    if isinstance(resolution, dict) and resolution.get("partyId") in renames:
        out[RESOLUTION] = {**resolution, "partyId": renames[resolution["partyId"]]}
    return out


def merged(survivor_id: str, survivor: Party | None, duplicate_id: str, duplicate: Party | None) -> list[Party]:
    """What the directory holds after merging the duplicate into the survivor: the survivor with
    the duplicate's contact media too, the duplicate as a pointer to it. ValueError for a merge
    that cannot be (a party into itself, into a party merged away, a duplicate merged elsewhere);
    merging again changes nothing."""
    if survivor_id == duplicate_id:
        raise ValueError("a party cannot be merged into itself")
    if survivor is not None and survivor.mergedInto:
        raise ValueError(f"party '{survivor_id}' was itself merged into '{survivor.mergedInto}'")
    if duplicate is not None and duplicate.mergedInto not in (None, survivor_id):
        raise ValueError(f"party '{duplicate_id}' was already merged into '{duplicate.mergedInto}'")
    name = duplicate.name if duplicate else None
    kind = duplicate.referredType if duplicate else "Individual"
    base = survivor or Party.model_validate({"id": survivor_id, "name": name, "@referredType": kind})
    moved = [m for m in (duplicate.contactMedium if duplicate else []) if m not in base.contactMedium]
    return [
        base.model_copy(update={"contactMedium": base.contactMedium + moved}),
        Party(id=duplicate_id, name=name, mergedInto=survivor_id),
    ]


def resolver(holdings: Holdings) -> Resolver:
    """The `resolve` a store hands the change model: its directory's holdings, read for the keys
    of the interactions it is about to write."""
    return lambda doc: resolved(doc, holdings)
