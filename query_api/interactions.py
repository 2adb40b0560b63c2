"""What TMF683 v4 and v5 do alike with interactions, whatever shape their bodies have: create,
read, list (TMF630), patch and delete in the one stored form, each write one `Change`
(storage/changes.py) that the store applies, and ETags (the interaction's version, RFC 9110) with
If-Match and If-None-Match. The route modules (query_api/routes/party_interaction.py and
party_interaction_v5.py) read their version's request, call these and render their version's view.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode
from uuid import uuid4

import orjson
from fastapi import Request

from interaction_hub.settings import Settings
from query_api.auth import Caller
from query_api.deps import State
from query_api.errors import TmfError
from schemas import PartyInteractionCreate
from schemas.common import utc_now
from schemas.party_interaction import is_interaction_id
from storage.base import StoredDocument
from storage.changes import Change, Kind, NotFound, Outcome, PreconditionFailed, check, merge_diff, names_party
from storage.query import Condition, Op, Operand, Page, Query
from storage.tmf630 import QueryError, parse_query

Document = dict[str, Any]

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
# plain application/json is taken as a merge patch (the TMF convention)
PATCH_KINDS: dict[str, Kind] = {MERGE_PATCH: "merge", JSON: "merge", JSON_PATCH: "json-patch"}
SERVER_OWNED = ("id", "href")
# how often a rewriting patch reads and applies again when other writes keep changing the
# interaction (each round one of the concurrent writers gets through, so this many writers at once all do)
PATCH_ATTEMPTS = 32
_STRONG_TAG = re.compile(r'"([0-9]{1,19})"')


# -- ETags ------------------------------------------------------------------------------------


def etag(version: int) -> str:
    return f'"{version}"'


def if_match(request: Request) -> tuple[int, ...] | None:
    """The versions an If-Match header accepts (None: any). Strong comparison (RFC 9110 13.1.1):
    a weak or foreign tag matches nothing, so a header of only those refuses every version."""
    header = request.headers.get("if-match")
    if header is None:
        return None
    tags = [tag.strip() for tag in header.split(",")]
    if "*" in tags:
        return None
    return tuple(int(m.group(1)) for tag in tags if (m := _STRONG_TAG.fullmatch(tag)))


def not_modified(if_none_match: str | None, version: int) -> bool:
    """Whether If-None-Match names the current version (weak comparison, RFC 9110 13.1.2)."""
    if if_none_match is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag(version) in tags


# -- where hrefs point -------------------------------------------------------------------------

# a Host header's value as RFC 9110 has it (a name or IP literal, a port); `_` too, as container names have
_HOST = re.compile(r"(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def answer_root(settings: Settings, scope: Mapping[str, Any]) -> str:
    """scheme://host[:port] of this answer's hrefs: IHUB_PUBLIC_URL, else this server as the request
    reached it: the scheme and Host header as uvicorn gives them (its scheme follows
    X-Forwarded-Proto only from a proxy on this machine; no setting trusts other proxies); without a
    usable Host header, the socket's address, else the resource root. A forged Host reaches only
    its own answer: nothing shown is stored."""
    if settings.public_url:
        return settings.public_url
    scheme = scope.get("scheme") if scope.get("scheme") in ("http", "https") else "http"
    host = next((value for key, value in scope["headers"] if key == b"host"), b"").decode("latin-1")
    if _HOST.fullmatch(host):
        return f"{scheme}://{host}"
    server = scope.get("server")
    if server and server[1]:
        name = f"[{server[0]}]" if ":" in server[0] else server[0]
        return f"{scheme}://{name}:{server[1]}"
    return settings.resource_root()


def hrefs(state: State, scope: Mapping[str, Any], *, v5: bool = False) -> str:
    """Where the hrefs of this answer's interactions start (`{hrefs}{id}`), in v4 or v5."""
    path = state.settings.base_path_v5 if v5 else state.settings.base_path
    return f"{answer_root(state.settings, scope)}{path}/partyInteraction/"


def href_as_id(query: Query, at: str) -> Query:
    """A v4 query whose filters and sort on `href` are made on `id`: the href shown is `{at}{id}`
    whatever is stored. A value not under `at` is left as it is (no id has its ':' or '/'), so it
    finds nothing. Only = and != compare hrefs."""
    conditions = []
    for condition in query.conditions:
        if condition.path == "href":
            if condition.op not in (Op.EQ, Op.NE):
                raise TmfError(400, "'href' is filtered only with = and != (an href is this server's address and id)")
            values = tuple(Operand.of(v.text.removeprefix(at), condition.op) for v in condition.values)
            condition = replace(condition, path="id", values=values)
        conditions.append(condition)
    sort = tuple(replace(key, path="id") if key.path == "href" else key for key in query.sort)
    return replace(query, conditions=tuple(conditions), sort=sort)


# -- reading ----------------------------------------------------------------------------------


def not_found(interaction_id: str) -> str:
    return f"no PartyInteraction with id '{interaction_id}'"


def require_interaction_id(interaction_id: str) -> None:
    """404 at once for an id no interaction can have: a write for it goes nowhere (in full mode,
    the workers would not take it from the log)."""
    if not is_interaction_id(interaction_id):
        raise TmfError(404, not_found(interaction_id))


async def read(state: State, caller: Caller, interaction_id: str) -> StoredDocument:
    """The stored interaction, or 404 (also for one a party-scoped caller may not see)."""
    stored = await state.store.get(interaction_id)
    if stored is None or (caller.party_id is not None and not names_party(orjson.loads(stored.body), caller.party_id)):
        raise TmfError(404, not_found(interaction_id))
    return stored


def parse_retrieve_query(request: Request) -> Query | None:
    query = _parse(request.url.query, allow=("fields",)) if request.url.query else None
    if query is not None and query.conditions:
        raise TmfError(400, "only 'fields' is accepted when retrieving one PartyInteraction")
    return query


def parse_list_query(request: Request) -> Query:
    return _parse(request.url.query, allow=("fields", "sort", "offset", "limit"))


def _parse(raw: str, allow: tuple[str, ...]) -> Query:
    try:
        return parse_query(raw, allow=allow)
    except QueryError as exc:
        raise TmfError(400, str(exc)) from None


async def list_page(state: State, caller: Caller, query: Query) -> tuple[Query, Page]:
    """A page of the interactions matching a query on the stored form, with the query as run
    (only the caller's party's interactions, within the page size)."""
    query = paged(state, scoped(query, caller.party_id))
    return query, await state.store.list(query)


def paged(state: State, query: Query) -> Query:
    """Without `limit`, the default page; never more than the maximum (a larger `limit` is lowered
    to it: the answer's Link header leads on)."""
    limit = state.settings.default_page_size if query.limit is None else query.limit
    return replace(query, limit=min(limit, state.settings.max_page_size))


def scoped(query: Query, party_id: str | None) -> Query:
    """The query a party-scoped caller runs: only interactions whose relatedParty names the party.
    Part of the query the store compiles, so totals, paging and `fields` stay right."""
    if party_id is None:
        return query
    only_party = Condition("relatedParty.id", Op.EQ, (Operand(party_id),))  # text equality, nothing parsed
    return replace(query, conditions=(*query.conditions, only_party))


def page_answer(state: State, request: Request, query: Query, total: int, count: int) -> tuple[int, dict[str, str]]:
    """A list page's status and paging headers (`count` of the `total` matches): 200, or with
    IHUB_PARTIAL_CONTENT_206 a 206 for a page that holds only part of them (TMF630). TMF683's
    OpenAPI declares only 200 for a list: clients generated from it get nothing from a 206, and
    read what remains from the headers."""
    headers = {"X-Total-Count": str(total), "X-Result-Count": str(count)}
    partial = query.offset > 0 or count < total
    if total:
        headers["Link"] = _links(request, query, total)
    return 206 if partial and state.settings.partial_content_206 else 200, headers


def _links(request: Request, query: Query, total: int) -> str:
    limit = query.limit or 1
    params = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k not in ("offset", "limit")]

    def url(offset: int) -> str:
        return str(request.url.replace(query=urlencode([*params, ("offset", offset), ("limit", query.limit)])))

    last = max(0, (total - 1) // limit * limit)
    links = [f'<{url(0)}>; rel="first"']
    if query.offset > 0:
        links.append(f'<{url(max(0, query.offset - limit))}>; rel="prev"')
    if query.offset + limit < total:
        links.append(f'<{url(query.offset + limit)}>; rel="next"')
    links.append(f'<{url(last)}>; rel="last"')
    return ", ".join(links)


# -- writing ----------------------------------------------------------------------------------


async def _write(state: State, change: Change) -> Outcome:
    outcome = await state.store.write(change, state.hub.notify)
    state.hub.wake()
    return outcome


def _href(state: State, interaction_id: str) -> str:
    # what is stored is never shown (answers set their own, `hrefs`); the resource root, not the
    # request's address: the stored form is the same whoever wrote it
    return f"{state.settings.resource_root()}{state.settings.base_path}/partyInteraction/{interaction_id}"


async def create(state: State, caller: Caller, body: Document) -> Outcome:
    """Create an interaction from a create body in the stored form."""
    created = PartyInteractionCreate.model_validate(body).to_json_dict()
    created.pop("creationDate", None)  # the server's clock, whatever a client sent
    if caller.party_id is not None and not names_party(created, caller.party_id):
        raise TmfError(403, f"this token creates only interactions whose relatedParty names '{caller.party_id}'")
    interaction_id = uuid4().hex
    change = Change.at(
        "create", interaction_id, utc_now(), created, href=_href(state, interaction_id), party_id=caller.party_id
    )
    return await _write(state, change)


def patch_change(
    state: State, caller: Caller, interaction_id: str, media_type: str, body: Any, request: Request
) -> Change:
    """The patch a request asks for (`media_type` one of PATCH_KINDS), refused at once when it is
    malformed or touches what no patch may (id, href, direction) or names no possible interaction."""
    change = Change.at(
        PATCH_KINDS[media_type],
        interaction_id,
        utc_now(),
        body,
        expected_versions=if_match(request),
        max_bytes=state.settings.max_body_bytes,  # a patch makes nothing larger than a body may be
        party_id=caller.party_id,
    )
    check(change)
    require_interaction_id(interaction_id)
    return change


async def patch(state: State, change: Change) -> Outcome:
    """Apply a patch of the stored form (the store applies it to the current version)."""
    return await _write(state, change)


async def rewrite(
    state: State, caller: Caller, change: Change, rewritten: Callable[[Document, int], Document]
) -> Outcome:
    """Apply a patch written in another shape than the stored form: `rewritten(stored, version)`
    gives the new stored form, which is written as the merge patch that turns the stored form into
    it, on condition that the version is still the one read. If another write came first, read and
    apply again; a client's own If-Match (the change's expected versions) answers 412 instead."""
    wanted = change.expected_versions
    for _ in range(PATCH_ATTEMPTS):
        stored = await read(state, caller, change.interaction_id)
        if wanted is not None and stored.version not in wanted:
            raise PreconditionFailed(
                f"PartyInteraction '{change.interaction_id}' has changed (its ETag is now \"{stored.version}\")"
            )
        doc = orjson.loads(stored.body)
        merge = Change.at(
            "merge",
            change.interaction_id,
            utc_now(),
            merge_diff({k: v for k, v in doc.items() if k not in SERVER_OWNED}, rewritten(doc, stored.version)),
            expected_versions=(stored.version,),
            max_bytes=change.max_bytes,
            party_id=change.party_id,
        )
        try:
            return await _write(state, merge)
        except PreconditionFailed:
            if wanted is not None:
                raise
    raise TmfError(
        409, f"PartyInteraction '{change.interaction_id}' kept changing while this patch was applied; send it again"
    )


async def delete(state: State, caller: Caller, interaction_id: str, request: Request) -> None:
    require_interaction_id(interaction_id)
    change = Change.at(
        "delete", interaction_id, utc_now(), expected_versions=if_match(request), party_id=caller.party_id
    )
    outcome = await state.store.write(change, state.hub.notify)
    if outcome.old.doc is None:
        raise NotFound(not_found(interaction_id))
    state.hub.wake()
