"""The change records on `CHANGES_TOPIC` (schemas/channel_event.py), one model per kind.

A worker publishes one for each change it applied (`Applied`), for each TMF683 API write it could
not apply (`Rejected`: the API that published it waits for the answer) and for each erase or purge
marker it applied in its partition (`Erased`: the API that asked waits for every partition's).
The notifier, FCR's contacts and the API read them. Their JSON is the topics' contract
(docs/asyncapi.yaml): `to_bytes` writes exactly its keys, in that order; `from_bytes` (or
`change_record` when the kind is not known) validates a record read back, ignoring keys it does not
know. `index` is the index alias the worker applied it to: deployments that share a Kafka cluster
(and so these topics) each read only the records of their own index (`is_ours`).

Frozen dataclasses rather than pydantic models: a worker builds one for every event it applies,
and pydantic validates only what is read back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Self

import orjson
from pydantic import Field, TypeAdapter

AppliedKind = Literal["create", "update", "delete", "unchanged", "superseded"]
NOTIFYING_KINDS = ("create", "update", "delete")
"""The kinds of `Applied` that notify the hub's subscribers."""

Document = dict[str, Any]


class _Record:
    """What every kind of change record can do: be written and read back."""

    __slots__ = ()
    _adapter: ClassVar[TypeAdapter[Any]]

    index: str | None

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.wire())

    def wire(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_bytes(cls, raw: bytes) -> Self:
        """A record of this kind read back; ValueError if it is not JSON or not one."""
        found: Self = cls._adapter.validate_json(raw)
        return found

    def is_ours(self, index_alias: str) -> bool:
        """Whether the record is about the index `index_alias` (a record of a worker from before
        records named their index is taken as everyone's)."""
        return self.index is None or self.index == index_alias


@dataclass(frozen=True, slots=True)
class Applied(_Record):
    """An applied change: `version` is the interaction's after it, `new` its state after it. Of the
    state before, only what readers need: all of it (`old`) when the interaction is gone, else
    None; `changed`, the names of the top-level attributes that differ, when there was a state
    before and is one after. `erasure`: the erasure that deleted it."""

    event_id: Annotated[str, Field(alias="eventId")]
    source: str
    type: str
    time: str
    interaction_id: Annotated[str, Field(alias="interactionId")]
    version: int
    kind: AppliedKind
    old: Document | None
    new: Document | None
    changed: list[str] | None = None
    erasure: str | None = None
    index: str | None = None

    def wire(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "index": self.index,
            "eventId": self.event_id,
            "source": self.source,
            "type": self.type,
            "time": self.time,
            "interactionId": self.interaction_id,
            "version": self.version,
            "kind": self.kind,
        }
        if self.index is None:
            del found["index"]
        if self.erasure is not None:
            found["erasure"] = self.erasure
        found["old"] = self.old
        found["new"] = self.new
        if self.changed is not None:
            found["changed"] = self.changed
        return found


@dataclass(frozen=True, slots=True)
class Rejected(_Record):
    """A TMF683 API write that could not apply: `refused` is its storage.changes.Refused code."""

    event_id: Annotated[str, Field(alias="eventId")]
    interaction_id: Annotated[str, Field(alias="interactionId")]
    refused: str
    error: str
    index: str | None = None
    kind: Literal["rejected"] = "rejected"

    def wire(self) -> dict[str, Any]:
        found = {
            "index": self.index,
            "eventId": self.event_id,
            "interactionId": self.interaction_id,
            "kind": self.kind,
            "refused": self.refused,
            "error": self.error,
        }
        if self.index is None:
            del found["index"]
        return found


@dataclass(frozen=True, slots=True)
class Erased(_Record):
    """An erase or purge marker applied in one raw partition: the ids it deleted there, and when.
    Keyed by the marker's key; `event_id` is the marker's."""

    event_id: Annotated[str, Field(alias="eventId")]
    erasure: str
    partition: int
    erased: list[str]
    at: str
    index: str | None = None
    kind: Literal["erased"] = "erased"

    def wire(self) -> dict[str, Any]:
        found = {
            "index": self.index,
            "eventId": self.event_id,
            "kind": self.kind,
            "erasure": self.erasure,
            "partition": self.partition,
            "erased": self.erased,
            "at": self.at,
        }
        if self.index is None:
            del found["index"]
        return found


ChangeRecord = Applied | Rejected | Erased

for _kind in (Applied, Rejected, Erased):
    _kind._adapter = TypeAdapter(_kind)
_ANY_KIND: TypeAdapter[ChangeRecord] = TypeAdapter(
    Annotated[ChangeRecord, Field(discriminator="kind")]  # type: ignore[arg-type, maybe-unrecognized-str-typeform]  # mypy takes Annotated for no type
)


def change_record(raw: bytes) -> ChangeRecord:
    """A change record of any kind read back; ValueError if it is not JSON or not one."""
    return _ANY_KIND.validate_json(raw)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a change record, as docs/asyncapi.yaml states it."""
    return _ANY_KIND.json_schema(by_alias=True)
