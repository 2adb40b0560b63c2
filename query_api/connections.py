"""The HTTP connection protocol `ihub serve` runs: uvicorn's, with a deadline for each request's
headers.

uvicorn closes a keep-alive connection that stays idle after a response, but not one that never
sends a request, nor one that sends its headers a byte at a time: 20,000 such sockets exhausted
the server's file descriptors. Here every connection must deliver a complete request head within
`header_timeout_s` of being opened or of its previous response; otherwise it is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def deadline_protocol(header_timeout_s: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with a deadline of `header_timeout_s` for each request head."""

    class HeaderDeadlineProtocol(HttpToolsProtocol):
        _head_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn narrows the transport type
            super().connection_made(transport)
            self._await_head()

        def on_headers_complete(self) -> None:
            self._stop_waiting()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._await_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_waiting()
            super().connection_lost(exc)

        def _await_head(self) -> None:
            self._stop_waiting()
            self._head_deadline = self.loop.call_later(header_timeout_s, self._too_slow)

        def _stop_waiting(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

        def _too_slow(self) -> None:
            self._head_deadline = None
            if self.cycle is not None and not self.cycle.response_complete:
                return  # a request is being answered: only a request head has a deadline
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderDeadlineProtocol


def uvicorn_options(header_timeout_s: float, max_connections: int) -> dict[str, Any]:
    """What `ihub serve` passes to uvicorn to bound connections in number and in time."""
    return {
        "http": deadline_protocol(header_timeout_s),
        "timeout_keep_alive": min(5.0, header_timeout_s),
        "limit_concurrency": max_connections,  # past it: 503 at once, not a queue that grows
    }
