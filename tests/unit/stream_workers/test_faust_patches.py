"""The worker's patches of faust-streaming (stream_workers/faust_patches.py) still fit what they patch.

The patches replace private code that any release may change, so pyproject.toml pins the versions
below. An upgrade is a deliberate change: bump the pin, run these tests, re-check each patch
against the new code as a failure here says, record the new hashes, and run
tests/unit/stream_workers/test_faust_patches_eager.py and the integration tests."""

from __future__ import annotations

import ast
import asyncio
import hashlib
import importlib
import importlib.metadata
import inspect
import re
import tomllib
from pathlib import Path

import faust
import mode
import pytest
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from mode.services import WaitResults

from stream_workers import faust_patches

ROOT = Path(__file__).resolve().parents[3]

# the versions the hashes below were recorded with
RECORDED_WITH = {"faust-streaming": "0.15.3", "mode-streaming": "0.7.1", "aiokafka": "0.14.0"}

# (module, function): SHA-256 of its source, and what to re-check in faust_patches.py when it changed
REPLACED = {
    ("faust.transport.drivers.aiokafka", "AIOKafkaConsumerThread._create_worker_consumer"): (
        "684c167041ff0044ecec19b723d708ecbc0963344be1bcde7c6352c4ff92265d",
        "`_short_fetch_wait` wraps it, called as (self, transport), and sets the aiokafka consumer's "
        "fetch wait after faust's fetch_max_wait_ms=1500. If faust now takes the wait from a setting, "
        "set that in create_worker and drop the patch.",
    ),
    ("mode.services", "Service.wait_first"): (
        "79f98bfdf43f8ea8be1a75696f69a65a6473792a453cc62234dd5257f4273d36",
        "`eager` returns WaitResults(done, results, stopped) itself for a delivery done at once, and "
        "hands the rest to this function as a `_Continued` awaitable: both must still match what it "
        "does (tests/unit/stream_workers/test_faust_patches_eager.py).",
    ),
}

# the worker's own uses of private names, which an upgrade may remove: class -> names
PRIVATE_METHODS = {
    faust.Stream: ["_enable_passive"],  # stream_workers/batching.py
    mode.Worker: ["_schedule_shutdown"],  # stream_workers/app.py run_worker
}
PRIVATE_ATTRIBUTES = {
    faust.Stream: ["_processors"],  # stream_workers/batching.py
    Consumer: ["_committed_offset"],  # stream_workers/app.py measure_lag
}


def definition(module_name: str, qualname: str) -> ast.AST:
    """The node of a class or function as written in its module's file (not as patched)."""
    node: ast.AST = ast.parse(inspect.getsource(importlib.import_module(module_name)))
    for name in qualname.split("."):
        node = next(
            n
            for n in node.body  # type: ignore[attr-defined]
            if isinstance(n, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
        )
    return node


def source(module_name: str, qualname: str) -> str:
    text = inspect.getsource(importlib.import_module(module_name))
    segment = ast.get_source_segment(text, definition(module_name, qualname))
    assert segment is not None
    return segment


@pytest.fixture
def restored():
    """faust and mode as they were before the test, whatever it patched."""
    targets = [(AIOKafkaConsumerThread, "_create_worker_consumer"), (Consumer, "wait_first")]
    saved = [(cls, name, vars(cls).get(name)) for cls, name in targets]
    yield
    for cls, name, value in saved:
        if value is None:
            if name in vars(cls):
                delattr(cls, name)
        else:
            setattr(cls, name, value)


def test_the_pins_are_the_versions_the_patches_were_checked_against() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for package, version in RECORDED_WITH.items():
        assert f"{package}=={version}" in dependencies, (
            f"the patches were checked against {package}=={version}, which pyproject.toml no longer pins: "
            "after the other tests here pass with the new version, record it in RECORDED_WITH"
        )
        assert importlib.metadata.version(package) == version, f"{package} installed is not the pinned {version}"


@pytest.mark.parametrize(("module_name", "qualname"), list(REPLACED))
def test_what_a_patch_replaces_is_unchanged(module_name: str, qualname: str) -> None:
    recorded, recheck = REPLACED[module_name, qualname]
    found = hashlib.sha256(source(module_name, qualname).encode()).hexdigest()
    assert found == recorded, (
        f"{module_name} {qualname} changed since {RECORDED_WITH}; re-check stream_workers/faust_patches.py: "
        f"{recheck} Then record its new SHA-256 here: {found}"
    )


def wait_first_calls(node: ast.AST) -> list[str]:
    return [
        ast.unparse(call)
        for call in ast.walk(node)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "wait_first"
    ]


def test_faust_delivers_every_message_through_the_one_call_eager_is_for() -> None:
    """`eager` takes over a Consumer's wait_first called with a coroutine and one other wait, no timeout:
    faust's consumer does that for each message it drains, and nowhere else."""
    delivery = "self.wait_first(callback(message), self.suspend_flow.wait())"
    modules = ("faust.transport.consumer", "faust.transport.drivers.aiokafka")
    anywhere = [
        call
        for name in modules
        for call in wait_first_calls(ast.parse(inspect.getsource(importlib.import_module(name))))
    ]
    drained = wait_first_calls(definition("faust.transport.consumer", "Consumer._drain_messages"))
    assert anywhere == drained == [delivery], (
        f"faust's consumer no longer calls {delivery} once per message in Consumer._drain_messages, and "
        "nothing else of wait_first: re-check `_eager_delivery` and `eager` in stream_workers/faust_patches.py"
    )
    # the patched Consumer.wait_first stands in for mode's, which no class in between overrides
    assert next(c for c in Consumer.__mro__[1:] if "wait_first" in vars(c)) is mode.Service
    assert WaitResults._fields == ("done", "results", "stopped")


def test_aiokafka_reads_the_fetch_wait_the_patch_sets_when_the_consumer_starts() -> None:
    start = definition("aiokafka.consumer.consumer", "AIOKafkaConsumer.start")
    passed = [
        ast.unparse(keyword.value)
        for node in ast.walk(start)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "Fetcher"
        for keyword in node.keywords
        if keyword.arg == "fetch_max_wait_ms"
    ]
    assert passed == ["self._fetch_max_wait_ms"], (
        "aiokafka's consumer no longer hands its _fetch_max_wait_ms to its Fetcher when it starts: "
        "re-check `_short_fetch_wait` in stream_workers/faust_patches.py"
    )


def test_a_worker_consumer_waits_at_most_the_short_fetch_wait(restored) -> None:
    async def fetch_wait() -> int:
        app = faust.App("ihub-patch-test", broker="kafka://127.0.0.1:9", web_enabled=False)
        thread = app.consumer._thread  # the thread that builds faust's aiokafka consumer
        consumer = thread._create_consumer(asyncio.get_running_loop())  # as it does when it starts
        await consumer.stop()  # never started: nothing to close but its client
        thread.thread_loop.close()  # made for the thread, which never ran
        return consumer._fetch_max_wait_ms

    assert asyncio.run(fetch_wait()) == 1500, "faust's own fetch wait changed: is the patch still needed?"
    faust_patches.apply()
    assert asyncio.run(fetch_wait()) == faust_patches.FETCH_MAX_WAIT_MS


def test_apply_patches_once_and_marks_what_it_patched(restored) -> None:
    faust_patches.apply()
    patched = (AIOKafkaConsumerThread._create_worker_consumer, Consumer.wait_first)
    faust_patches.apply()
    assert (AIOKafkaConsumerThread._create_worker_consumer, Consumer.wait_first) == patched
    assert all(getattr(function, "ihub_patched", False) for function in patched)
    assert not getattr(mode.Service.wait_first, "ihub_patched", False)  # only faust's consumer delivers eagerly


def test_the_private_names_the_worker_uses_still_exist() -> None:
    for cls, names in PRIVATE_METHODS.items():
        for name in names:
            assert callable(getattr(cls, name, None)), f"{cls.__qualname__}.{name} is gone"
    for cls, names in PRIVATE_ATTRIBUTES.items():
        # set in __init__: read from the class's source, as no instance is made here
        for name in names:
            assert re.search(rf"self\.{name}\b", inspect.getsource(cls)), f"{cls.__qualname__} no longer sets {name}"
