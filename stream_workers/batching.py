"""Batches of records from a faust stream, cut early when somebody waits for one of them.

faust's own `take_events` waits out its whole window unless the batch fills, so a record that an
API client waits for (a POST with read-your-writes) would sit in the worker for up to the window
meant for bulk ingest. Here a batch goes as soon as it holds an awaited record (`AWAITED_HEADER`), as
soon as it is full, or when the window ends. Records keep arriving into the next batch while one
is processed, so at high rates batches fill without waiting.

Acknowledging is the caller's: each batch comes with its `ack`, which the agent calls once all it
does for the batch is done, possibly after it took the next batch (so slow follow-up work of one
batch overlaps the next). A batch never acked (its processing raised, or the worker stopped first)
has its offsets never committed, and its records come again to the partition's next owner.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from functools import partial
from typing import Any

import faust

from schemas.channel_event import AWAITED_HEADER


def awaited(headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None) -> bool:
    """Whether a record's headers say that a writer waits for its outcome."""
    if not headers:
        return False
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return any(key == AWAITED_HEADER for key, _ in pairs)


Ack = Callable[[], Awaitable[None]]


async def _ack(stream: faust.StreamT[Any], events: list[Any]) -> None:
    for event in events:
        await stream.ack(event)


async def batches(stream: faust.StreamT[Any], max_size: int, within: float) -> AsyncIterator[tuple[list[Any], Ack]]:
    """(events, ack): lists of faust events of at most `max_size`, each yielded at most `within`
    seconds after the wait for it began, or at once when it is full or holds an awaited record;
    `ack()` acknowledges that list's events."""
    buffer: list[Any] = []
    ready = asyncio.Event()  # a batch should go now
    room = asyncio.Event()  # the buffer may take more
    room.set()

    async def collect(value: Any) -> Any:
        while len(buffer) >= max_size:
            room.clear()
            await stream.wait(room)  # type: ignore[attr-defined]  # mode's Service.wait; returns on stop too
            if stream.should_stop:
                return value
        event = stream.current_event
        assert event is not None  # a processor runs for the event being delivered
        buffer.append(event)
        if len(buffer) >= max_size or awaited(event.message.headers):
            ready.set()
        return value

    enable_acks = stream.enable_acks
    stream.enable_acks = False  # acked below, after the batch is done
    stream.add_processor(collect)
    # the stream is drained in the background into `collect`, as faust's own take_* do
    stream._enable_passive(aiter(stream.channel))  # type: ignore[attr-defined]  # faust has no public way
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(ready, timeout=within)  # type: ignore[attr-defined]  # mode's Service
            if not buffer:
                continue
            batch = buffer[:]
            buffer.clear()
            ready.clear()
            room.set()
            yield batch, partial(_ack, stream, batch)
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(collect)  # type: ignore[attr-defined]  # faust's own take_* do the same
