"""A TCP proxy in front of a service (Kafka, the engine) that a test can cut: the processes under
test lose the service, the shared one keeps running for every other test."""

from __future__ import annotations

import asyncio
import threading
from contextlib import suppress


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `target` ("host:port") in a thread of its own until `cut()`:
    then it closes every connection and refuses new ones (the port stays taken, nothing answers)."""

    def __init__(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        self.target = (host, int(port))
        self.loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.AbstractServer | None = None
        self._cut = False
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True).start()
        started.wait(5)
        assert self._server is not None
        self.port: int = self._server.sockets[0].getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self._server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        started.set()
        self.loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with suppress(Exception):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        """Drop every connection and answer no new one (a black hole would hang; this refuses)."""

        def close_all() -> None:
            self._cut = True
            for writer in self._writers:
                writer.close()

        self.loop.call_soon_threadsafe(close_all)

    def resume(self) -> None:
        """Take new connections again (the service "back")."""

        def reopen() -> None:
            self._cut = False
            self._writers.clear()

        self.loop.call_soon_threadsafe(reopen)

    def close(self) -> None:
        self.cut()

        def stop() -> None:
            if self._server is not None:
                self._server.close()
            self.loop.stop()

        self.loop.call_soon_threadsafe(stop)
