"""What handlers depend on: one object per running app, reached through `AppState`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from interaction_hub.settings import Settings
from query_api.access import Audit
from query_api.auth import Authenticator
from query_api.hub import Hub
from storage.base import InteractionStore


@dataclass
class State:
    settings: Settings
    store: InteractionStore
    hub: Hub
    authenticator: Authenticator | None  # None: auth is off
    audit: Audit


async def _state(request: Request) -> State:  # async: no thread-pool hop per request
    state: State = request.app.state.ihub  # set by the lifespan in query_api/app.py
    return state


AppState = Annotated[State, Depends(_state)]
