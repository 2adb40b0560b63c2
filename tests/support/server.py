"""A real server over real HTTP: `ihub serve` in a subprocess, on a free port and a fresh store, with
a worker beside it in full mode; and a notification listener for the hub."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from interaction_hub.topics import ensure_topics, start_group_at_end
from tests.support.services import engine_http, run_async

BASE_PATH = "/tmf-api/partyInteraction/v4"
# where a server links an interaction's references by default, under its root (README, "References' links")
CHANNEL_LINK = "/tmf-api/channelManagement/v4/channel/"
INDIVIDUAL_LINK = "/tmf-api/partyManagement/v4/individual/"
PARTY_ROLE_LINK = "/tmf-api/partyRoleManagement/v4/partyRole/"
IHUB = str(Path(sys.executable).with_name("ihub"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `ihub serve` process; restartable on the same data directory."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None):
        self.data_dir = data_dir
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "IHUB_PUBLIC_URL": self.root, **(env or {})}
        self.process: subprocess.Popen | None = None
        self.url = f"{self.root}{BASE_PATH}/"

    @property
    def log_path(self) -> Path:
        """The server's output (a file, not a pipe: a pipe nobody reads would stall the server)."""
        return self.data_dir / "server.log"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [IHUB, "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.output()}")
            try:
                httpx.get(self.url + "partyInteraction?limit=0", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not answer within 20 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@contextmanager
def full_mode_store(request: pytest.FixtureRequest, name: str) -> Iterator[dict[str, str]]:
    """Settings for a full-mode store of its own, on the session's Kafka and search engine: a fresh
    index alias and a consumer group that starts at the log's end (so it sees only what comes next).
    The index is deleted afterwards."""
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    search_url = request.getfixturevalue("search_url")
    tag = f"{name}-{uuid4().hex[:8]}"
    env = {
        "IHUB_STORE": "search",
        "IHUB_KAFKA_BOOTSTRAP": bootstrap,
        "IHUB_SEARCH_URL": search_url,
        "IHUB_INDEX_ALIAS": tag,
        "IHUB_WORKER_GROUP": tag,
    }
    run_async(ensure_topics({"bootstrap_servers": bootstrap}, 6))  # a browser test may have an event loop running
    run_async(start_group_at_end({"bootstrap_servers": bootstrap}, tag))
    try:
        yield env
    finally:
        # only this store's indices, by name (the engine refuses wildcard deletes): the versioned
        # index behind the alias, the subscriptions and the contacts
        behind = httpx.get(f"{search_url}/_alias/{tag}", **engine_http())
        indices = [
            *(behind.json() if behind.status_code == 200 else {}),
            f"{tag}-subscriptions",
            f"{tag}-contacts",
            f"{tag}-parties",
        ]
        httpx.delete(f"{search_url}/{','.join(indices)}", params={"ignore_unavailable": "true"}, **engine_http())


@contextmanager
def running(server: Server, workdir: Path) -> Iterator[Server]:
    """Start `server`, and an `ihub worker` with the same settings when its store is search (full
    mode); stop both afterwards. The worker runs in `workdir` (faust keeps its data there) and logs
    to workdir/worker.log."""
    worker = None
    if server.env.get("IHUB_STORE") == "search":
        log = open(workdir / "worker.log", "w")
        worker = subprocess.Popen([IHUB, "worker"], env=server.env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        log.close()  # the worker has its own copy
    try:
        server.start()
        yield server
    finally:
        server.stop()
        _stop(worker)


@contextmanager
def own_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str]
) -> Iterator[httpx.Client]:
    """A server of a test module's own, with settings `env`, on the store `request.param` (its own
    index and worker in full mode), and a client of it."""
    env = {"IHUB_STORE": request.param, **env}
    with ExitStack() as stack:
        if request.param == "search":
            env.update(stack.enter_context(full_mode_store(request, name)))
        server = Server(tmp_path_factory.mktemp(f"{name}-store"), env)
        stack.enter_context(running(server, tmp_path_factory.mktemp(f"{name}-worker")))
        yield stack.enter_context(httpx.Client(base_url=server.url, timeout=10))


def _stop(worker: subprocess.Popen | None) -> None:
    if worker:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()  # never leave a worker behind for the next run
            worker.wait()


class Listener:
    """A notification receiver; `fail_first` answers 503 to that many requests first."""

    def __init__(self, fail_first: int = 0):
        self.received: list[dict] = []
        self.attempts = 0
        self.fail_first = fail_first
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                listener.attempts += 1
                if listener.attempts <= listener.fail_first:
                    self.send_response(503)
                else:
                    listener.received.append(json.loads(body))
                    self.send_response(201)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/listener"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 15) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received

    def close(self):
        self.httpd.shutdown()


def subscribe(api, callback: str, query: str | None = None) -> dict:
    response = api.post("hub", json={"callback": callback, **({"query": query} if query else {})})
    assert response.status_code == 201, response.text
    subscription = response.json()
    assert subscription["callback"] == callback and subscription["query"] == query and subscription["id"]
    return subscription
