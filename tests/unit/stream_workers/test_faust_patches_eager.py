"""The worker's faster message delivery (stream_workers/faust_patches.py `eager`): the same outcomes as mode's
`Service.wait_first`, which faust's consumer calls with a delivery and the wait for a suspended
flow, whether the delivery finishes at once, waits, fails or is overtaken by a suspension."""

import asyncio
import gc

import pytest
from mode import Service

from stream_workers.faust_patches import eager

# a coroutine never awaited (its RuntimeWarning comes from its finaliser) fails the test
pytestmark = pytest.mark.filterwarnings("error")

wait_first = eager(Service.wait_first)


def run(body):
    async def main():
        service = Service()
        return await body(service)

    result = asyncio.run(main())
    gc.collect()  # the finalisers run within the test
    return result


def test_a_delivery_that_never_waits_returns_as_wait_first_does_and_closes_the_other_wait():
    async def deliver():
        return "delivered"

    async def body(service):
        flow = asyncio.Event()
        delivery = deliver()
        results = await wait_first(service, delivery, flow.wait())
        return results, delivery

    results, delivery = run(body)
    assert results.done == [delivery]
    assert results.results == ["delivered"]
    assert results.stopped is False


def test_a_delivery_that_waits_goes_on_until_it_is_done():
    async def body(service):
        buffer: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        buffer.put_nowait("first")  # full: the delivery has to wait for room
        flow = asyncio.Event()

        async def deliver():
            await buffer.put("second")
            return "delivered"

        async def consume():
            await asyncio.sleep(0.01)
            return buffer.get_nowait()

        taken = asyncio.create_task(consume())
        results = await wait_first(service, deliver(), flow.wait())
        return results.results, await taken, buffer.get_nowait()

    assert run(body) == (["delivered"], "first", "second")


def test_a_delivery_that_waits_gives_way_to_a_suspended_flow():
    steps = []

    async def body(service):
        never = asyncio.Event()
        flow = asyncio.Event()

        async def deliver():
            steps.append("started")
            try:
                await never.wait()
            except asyncio.CancelledError:
                steps.append("cancelled")
                raise

        async def suspend():
            await asyncio.sleep(0.01)
            flow.set()

        suspender = asyncio.create_task(suspend())
        suspended = flow.wait()
        results = await wait_first(service, deliver(), suspended)
        await suspender
        await asyncio.sleep(0)  # the cancellation reaches the delivery
        return results, suspended

    results, suspended = run(body)
    assert results.done == [suspended]
    assert results.results == [True]
    assert steps == ["started", "cancelled"]


@pytest.mark.parametrize("waits_first", [False, True])
def test_a_failing_delivery_raises_its_error(waits_first):
    async def body(service):
        async def deliver():
            if waits_first:
                await asyncio.sleep(0)
            raise ValueError("not delivered")

        await wait_first(service, deliver(), asyncio.Event().wait())

    with pytest.raises(ValueError, match="not delivered"):
        run(body)


def test_a_cancelled_caller_cancels_the_waiting_delivery():
    steps = []

    async def body(service):
        async def deliver():
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                steps.append("cancelled")
                raise

        caller = asyncio.create_task(wait_first(service, deliver(), asyncio.Event().wait()))
        await asyncio.sleep(0.01)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller

    run(body)
    assert steps == ["cancelled"]


def test_other_calls_go_to_wait_first_unchanged():
    async def body(service):
        ready = asyncio.Event()
        ready.set()
        one = await wait_first(service, ready)  # an event, not a delivery
        timed = await wait_first(service, asyncio.Event().wait(), asyncio.Event().wait(), timeout=0.01)
        return one, timed

    one, timed = run(body)
    assert one.results == [True] and not one.stopped
    assert timed.done == [] and timed.stopped  # nothing finished within the timeout
