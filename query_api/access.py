"""The door every request passes: authenticate (query_api/auth.py), check the endpoint's permission,
then hand the caller to the routes; and the audit trail of who wrote, erased, exported or was refused.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from query_api.auth import ANONYMOUS, EXPORT, PUBLIC, AccessRules, Authenticator, Caller, InvalidToken
from query_api.errors import TmfError, error_response
from schemas.audit import AuditRecord

audit_log = logging.getLogger("ihub.audit")

NOBODY = Caller(None, None, frozenset())
_AUDITED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_MAX_AUDITED_PATH = 300


class Audit:
    """One structured record per write, erasure, export and refusal: who (`sub`, client), what
    (method and path), when, and the answer's status. The records name interactions and parties by
    id only; bodies never go in. `sink` also receives each record (full mode: the audit topic)."""

    def __init__(self, sink: Callable[[bytes], Awaitable[None]] | None = None) -> None:
        self.sink = sink

    async def record(
        self,
        caller: Caller | None,
        method: str,
        path: str,
        status: int,
        *,
        reason: str | None = None,
        needed: str | None = None,
        location: str | None = None,
    ) -> None:
        entry = AuditRecord(
            at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            sub=caller.subject if caller else None,
            client=caller.client if caller else None,
            method=method,
            path=path[:_MAX_AUDITED_PATH],
            status=status,
            acting_for=caller.party_id if caller else None,
            reason=reason,
            needed=needed,
            location=location,
        )
        line = entry.to_bytes()
        audit_log.info("%s", line.decode())
        if self.sink is not None:
            try:
                await self.sink(line)
            except Exception as exc:  # the log line above stands; the request is not failed for it
                audit_log.error("audit record not sent to the audit topic: %s", type(exc).__name__)


def audit_to_stderr() -> None:
    """Audit records as one JSON object a line on stderr (the server's own log stays separate)."""
    if not audit_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        audit_log.addHandler(handler)
        audit_log.setLevel(logging.INFO)
        audit_log.propagate = False


async def identify(authenticator: Authenticator | None, needed: str | None, authorization: str | None) -> Caller:
    """Who makes a request that needs `needed` (AccessRules.needed): with auth off ANONYMOUS, who may
    do everything; with auth on, the bearer token's caller (InvalidToken without a valid one), or
    NOBODY on a public path (pages, docs), so that it can reach no data by accident."""
    if authenticator is None:
        return ANONYMOUS
    if needed == PUBLIC:
        return NOBODY
    return await authenticator.caller(authorization)


class AccessControl:
    """Pure ASGI middleware: no request reaches a route without a caller that may make it (the GET
    fast path, outside it, checks the same: query_api/routes/party_interaction.py). With auth off
    every caller is ANONYMOUS, who may do everything."""

    def __init__(self, app: Any, *, rules: AccessRules) -> None:
        self.app = app
        self.rules = rules

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope["app"].state.ihub
        method, path = scope["method"], scope["path"]
        needed = self.rules.needed(method, path)
        try:
            caller = await identify(state.authenticator, needed, _header(scope, b"authorization"))
        except InvalidToken as exc:
            await state.audit.record(None, method, path, 401, reason=str(exc))
            response = error_response(
                401, "a valid bearer token is needed", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
            await response(scope, receive, send)
            return
        if needed and not caller.may(needed):  # PUBLIC is "": nothing to grant
            await state.audit.record(caller, method, path, 403, needed=needed)
            response = error_response(
                403,
                f"this token does not grant {needed}",
                {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'},
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        if method not in _AUDITED_METHODS and needed != EXPORT:
            await self.app(scope, receive, send)
            return
        answer: dict[str, Any] = {"status": 500}

        async def send_noting_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                location = _header(message, b"location")
                if location:
                    answer["location"] = location
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            await state.audit.record(caller, method, path, answer["status"], location=answer.get("location"))


def _header(scope_or_message: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope_or_message.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _caller(request: Request) -> Caller:
    # set by AccessControl for every request; a request that did not pass it may do nothing
    caller: Caller = request.scope.get("state", {}).get("caller", NOBODY)
    return caller


CurrentCaller = Annotated[Caller, Depends(_caller)]


def only_own_party(caller: Caller, party_id: str) -> None:
    """A caller acting for one party (a party-scoped token) reaches only that party: any other is,
    to it, not there (404)."""
    if caller.party_id is not None and caller.party_id != party_id:
        raise TmfError(404, f"no party '{party_id}'")
