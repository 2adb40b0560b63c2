"""An audit record: who (`sub`, client, the party a token acts for) did what (method and path) when,
and the answer's status. The API writes one per write, erasure, export and refusal
(query_api/access.py) to its audit log and, in full mode, to `AUDIT_TOPIC` (no key); a privacy
officer's tools read them. Interactions and parties are named by id only; bodies never go in.
The JSON is the topics' contract (docs/asyncapi.yaml): `to_bytes` writes its keys in that order,
leaving out the optional ones that are not set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from pydantic import Field, TypeAdapter


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: str  # ISO 8601, UTC, to the second
    sub: str | None
    client: str | None
    method: str
    path: str
    status: int
    acting_for: Annotated[str | None, Field(alias="actingFor")] = None
    reason: str | None = None  # why a token was refused (401)
    needed: str | None = None  # the permission the token lacked (403)
    location: str | None = None  # what a create made
    log: Literal["audit"] = "audit"  # tells audit lines from the server's own in a shared log

    def to_bytes(self) -> bytes:
        found: dict[str, Any] = {
            "log": self.log,
            "at": self.at,
            "sub": self.sub,
            "client": self.client,
            "method": self.method,
            "path": self.path,
            "status": self.status,
        }
        optional = {
            "actingFor": self.acting_for,
            "reason": self.reason,
            "needed": self.needed,
            "location": self.location,
        }
        found.update((name, value) for name, value in optional.items() if value is not None)
        return orjson.dumps(found)

    @classmethod
    def from_bytes(cls, raw: bytes) -> AuditRecord:
        """An audit record read back; ValueError if it is not JSON or not one."""
        return _ADAPTER.validate_json(raw)


_ADAPTER = TypeAdapter(AuditRecord)
