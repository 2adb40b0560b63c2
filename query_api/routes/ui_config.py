"""GET /ui/auth.json: how the built-in pages sign users in. Public (under /ui/, like the pages' own
files), so it names only what a browser may know: whether tokens are needed, the identity provider
(issuer) and the public OIDC client the pages use, and which claims carry permissions. Never a secret.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from query_api.deps import AppState

router = APIRouter()

PATH = "/ui/auth.json"


@router.get(PATH, include_in_schema=False)
async def ui_auth_config(state: AppState) -> JSONResponse:
    settings = state.settings
    body: dict[str, Any] = {"enabled": state.authenticator is not None}
    if state.authenticator is not None:
        body.update(
            issuer=settings.auth_issuer,
            clientId=settings.auth_ui_client_id,
            # what the pages read from the access token to decide what to show (the API still decides)
            scopeClaim=settings.auth_scope_claim,
            roleClaims=list(settings.auth_role_claims),
            partyClaim=settings.auth_party_claim,
        )
    # settings may change with a restart: never let a browser or proxy keep an old answer
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
