"""What handlers depend on: one object per running app, reached through `AppState`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from ingest.sources import Source
from interaction_hub.references import ReferenceLinks
from interaction_hub.settings import Settings
from query_api.access import Audit
from query_api.auth import Authenticator
from query_api.hub import Hub
from schemas.channel_event import ChannelEvent
from storage.base import InteractionStore, PartyDirectory
from storage.changes import Change

Intake = Callable[[Sequence[tuple[ChannelEvent, Change]]], Awaitable[None]]
"""Makes adapted records durable (query_api/intake.py): the embedded store's commit, or Kafka's."""


@dataclass
class State:
    settings: Settings
    store: InteractionStore
    hub: Hub
    authenticator: Authenticator | None  # None: auth is off
    audit: Audit
    intake: Intake
    directory: PartyDirectory
    sources: dict[str, Source] = field(default_factory=dict)  # the sources file's
    links: ReferenceLinks = field(init=False)  # of every interaction the API shows

    def __post_init__(self) -> None:
        self.links = ReferenceLinks.from_settings(self.settings)


async def _state(request: Request) -> State:  # async: no thread-pool hop per request
    state: State = request.app.state.ihub  # set by the lifespan in query_api/app.py
    return state


AppState = Annotated[State, Depends(_state)]
