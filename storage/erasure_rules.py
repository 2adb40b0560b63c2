"""The rules of erasure and retention, decided in one place for both stores: which interactions an
erasure or a retention purge removes, and what the DeleteEvent announcing such a removal carries.

- Erasure of a party: every interaction whose relatedParty names it (storage.changes.names_party).
- Retention: every interaction whose retention time (`retention_time`) is before the cut-off.
- The DeleteEvent of a removal made for privacy carries the interaction's identity only
  (`redacted`), never the customer's data: subscribers learn which interaction went (and, for an
  erasure, for which party, so they can erase their own copies), not what it held. An ordinary
  DELETE keeps announcing the whole resource, as before.

docs/privacy.md describes the whole design (the embedded transaction, and full mode's erase markers
in the log of record).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from schemas.common import parse_date_time
from storage.changes import names_party

Document = dict[str, Any]
Reason = Literal["erasure", "retention"]

# where an interaction's time period lives: TMF683 v4 calls it interactionDate; a subclass may
# carry a validFor instead (the TMF name for a validity period elsewhere)
PERIODS = ("interactionDate", "validFor")


# where retention_time looks, first to last (the first date-time found is the one)
RETENTION_PATHS = (
    *(f"{name}.{bound}" for bound in ("endDateTime", "startDateTime") for name in PERIODS),
    "creationDate",
)


def retention_time(doc: Document) -> datetime | None:
    """When an interaction counts as over, for retention: the end of its period, else its start,
    else its creationDate (None: none of them is a date-time; such an interaction is kept)."""
    for bound in ("endDateTime", "startDateTime"):
        for name in PERIODS:
            period = doc.get(name)
            if isinstance(period, dict) and isinstance(period.get(bound), str):
                found = parse_date_time(period[bound])
                if found is not None:
                    return found
    created = doc.get("creationDate")
    return parse_date_time(created) if isinstance(created, str) else None


def expired(doc: Document, cutoff: datetime) -> bool:
    """Whether retention removes the interaction: its retention time is before `cutoff`."""
    at = retention_time(doc)
    return at is not None and at < cutoff


def retention_cutoff(days: int, now: datetime | None = None) -> datetime:
    """The instant before which interactions are purged when they are kept `days` days."""
    return (now or datetime.now(UTC)) - timedelta(days=days)


def erased_by(doc: Document, party_id: str) -> bool:
    """Whether erasing `party_id` removes the interaction."""
    return names_party(doc, party_id)


def redacted(doc: Document, party_id: str | None = None) -> Document:
    """What the DeleteEvent of a privacy removal carries: the interaction's id and href, and for an
    erasure a relatedParty naming the erased party only (its id, as the subscriber already had it),
    so a listener filtering on relatedParty.id still hears of it. Nothing else of the resource."""
    kept: Document = {key: doc[key] for key in ("id", "href") if key in doc}
    if party_id is not None:
        kept["relatedParty"] = [{"id": party_id}]
    return kept


def month_of(doc: Document) -> str:
    """The month (YYYY-MM, UTC) of an interaction's retention time, for `ihub retention --dry-run`."""
    at = retention_time(doc)
    return at.astimezone(UTC).strftime("%Y-%m") if at is not None else "unknown"
