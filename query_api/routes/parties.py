"""Privacy operations on a party (outside the TMF API): erase everything about it, export it.

`DELETE /ihub/v1/parties/{partyId}` (permission party:erase) removes every interaction whose
relatedParty names the party, for good (docs/privacy.md), and answers how many went; a second
erasure answers 0. `GET /ihub/v1/parties/{partyId}/export` (party:export) streams every such
interaction as NDJSON, one page of the store in memory at a time. A caller acting for one party
(a party-scoped token) may only erase or export that party: any other is, to it, not there (404).
The access middleware (query_api/access.py) checks the permissions and audits both.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from query_api import interactions
from query_api.access import CurrentCaller, only_own_party
from query_api.deps import AppState
from query_api.errors import TmfError
from schemas import Error
from storage.base import PrivacyStore

router = APIRouter(prefix="/ihub/v1", tags=["privacy"])

NDJSON = "application/x-ndjson"


def _privacy(state: Any) -> PrivacyStore:
    store = state.store
    if not hasattr(store, "erase_party"):
        raise TmfError(501, "this store has no privacy operations")
    privacy: PrivacyStore = store
    return privacy


@router.delete(
    "/parties/{partyId}",
    summary="Erase a party: every interaction whose relatedParty names it, for good",
    responses={
        200: {
            "description": "What was erased: {partyId, erased (how many interactions)}",
            "content": {"application/json": {"example": {"partyId": "cust-42", "erased": 12}}},
        },
        404: {"model": Error, "description": "A party-scoped caller asked for another party"},
        504: {"model": Error, "description": "Full mode: the erasure is in the log but not yet applied everywhere"},
    },
)
async def erase_party(partyId: str, state: AppState, caller: CurrentCaller) -> Response:
    only_own_party(caller, partyId)
    erased = await _privacy(state).erase_party(partyId, state.hub.notify)
    state.hub.wake()  # the DeleteEvents are queued (embedded mode)
    return Response(orjson.dumps({"partyId": partyId, "erased": len(erased)}), media_type="application/json")


@router.get(
    "/parties/{partyId}/export",
    summary="Export a party: every interaction naming it, one JSON document per line",
    response_class=StreamingResponse,
    responses={
        200: {"description": "NDJSON, one PartyInteraction per line", "content": {NDJSON: {}}},
        404: {"model": Error, "description": "A party-scoped caller asked for another party"},
    },
)
async def export_party(partyId: str, request: Request, state: AppState, caller: CurrentCaller) -> StreamingResponse:
    only_own_party(caller, partyId)
    documents = _privacy(state).export_party(partyId)
    links, at = state.links, interactions.hrefs(state, request.scope)

    async def lines() -> AsyncIterator[bytes]:
        async for document in documents:
            yield links.body(document, at) + b"\n"  # as the API shows it

    name = re.sub(r"[^A-Za-z0-9._-]", "_", partyId)[:100] or "party"
    return StreamingResponse(
        lines(), media_type=NDJSON, headers={"Content-Disposition": f'attachment; filename="party-{name}.ndjson"'}
    )
