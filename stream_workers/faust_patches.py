"""Every change the worker makes to faust-streaming's and mode's internals, applied by `apply()`.

They replace private parts that may change in any release, so pyproject.toml pins faust-streaming,
mode-streaming and aiokafka to the versions these were written and tested against.
tests/unit/stream_workers/test_faust_patches.py records the source of each function patched or relied on and
fails when an upgrade changes it; its message says what to re-check here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from aiokafka import AIOKafkaConsumer

FETCH_MAX_WAIT_MS = 50


def apply() -> None:
    """Patch faust for the worker, before its app builds a consumer. Applying twice changes nothing."""
    _short_fetch_wait()
    _eager_delivery()


def _short_fetch_wait() -> None:
    """faust-streaming builds its consumers with fetch_max_wait_ms=1500 and no setting to change
    it; at low rates a worker then sees new events in bursts up to 1.5 s apart. Cap it at 50 ms."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Transport

    original = AIOKafkaConsumerThread._create_worker_consumer
    if getattr(original, "ihub_patched", False):
        return

    def create(self: AIOKafkaConsumerThread, transport: Transport) -> AIOKafkaConsumer:
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts its fetcher
        return consumer

    create.ihub_patched = True  # type: ignore[attr-defined]  # a marker on the patch; functions declare no attributes
    AIOKafkaConsumerThread._create_worker_consumer = create  # type: ignore[method-assign]  # the patch itself


class _Continued:
    """Awaiting this goes on with a coroutine that already ran up to its first wait (`pending`, what
    it yielded there), as the task awaiting it would have gone on: what it yields is passed up,
    what is sent or thrown in goes down."""

    def __init__(self, coroutine: Coroutine[Any, Any, Any], pending: Any) -> None:
        self.coroutine, self.pending = coroutine, pending

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, pending = self.coroutine, self.pending
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as error:  # a cancellation above, thrown into the coroutine
                try:
                    pending = coroutine.throw(error)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    pending = coroutine.send(sent)
                except StopIteration as done:
                    return done.value


def _eager_delivery() -> None:
    """faust-streaming's consumer hands every message to its streams with
    `wait_first(deliver(message), suspend_flow.wait())`, so that a delivery blocked on a full
    stream buffer gives way when the flow is suspended (a rebalance). That is four tasks and an
    asyncio.wait per message, a large part of faust's own cost per event (bench/README.md,
    `faust_floor.py`), for a delivery that almost never blocks. So `eager` runs it in place first."""
    from faust.transport.consumer import Consumer

    if not getattr(Consumer.wait_first, "ihub_patched", False):
        Consumer.wait_first = eager(Consumer.wait_first)  # type: ignore[method-assign,assignment]  # the patch itself


def eager(wait_first: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """mode's `Service.wait_first`, for a delivery and the wait for a suspended flow: the delivery
    runs in place up to its first wait. Done by then, it returns as `wait_first` would have;
    otherwise it goes on inside the original `wait_first`, which behaves as before (the delivery
    gives way if the flow is suspended first). Other calls go to the original unchanged."""
    from mode.services import WaitResults

    async def patched(self: Any, *waits: Any, timeout: Any = None) -> Any:
        if len(waits) != 2 or not asyncio.iscoroutine(waits[0]) or timeout is not None:
            return await wait_first(self, *waits, timeout=timeout)
        delivery, suspended = waits
        try:
            pending = delivery.send(None)
        except BaseException as ended:  # done (StopIteration) or failed, without waiting
            if asyncio.iscoroutine(suspended):
                suspended.close()  # never started
            if isinstance(ended, StopIteration):
                return WaitResults([delivery], [ended.value], False)
            raise
        return await wait_first(self, _Continued(delivery, pending), suspended)

    patched.ihub_patched = True  # type: ignore[attr-defined]  # a marker on the patch; functions declare no attributes
    return patched
