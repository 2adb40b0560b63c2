"""Connections are bounded in time: one that sends no complete request head is closed."""

from __future__ import annotations

import http.client
import socket
import time

HEADER_TIMEOUT_S = 2.0  # IHUB_HEADER_TIMEOUT_S of the conformance servers (conftest.py)


def closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> float:
    """Seconds until the server closed `sock`, sending `trickle` a byte at a time meanwhile."""
    started = time.monotonic()
    sock.settimeout(0.25)
    sent = 0
    while time.monotonic() - started < seconds:
        try:
            if sock.recv(1) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except ConnectionResetError:
            return time.monotonic() - started
        if sent < len(trickle):
            try:
                sock.sendall(trickle[sent : sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
            sent += 1
    raise AssertionError(f"still open after {seconds} s")


def test_silent_and_trickling_connections_are_closed_at_the_header_deadline(server, api):
    silent = socket.create_connection(("127.0.0.1", server.port))
    trickling = socket.create_connection(("127.0.0.1", server.port))
    head = b"GET /tmf-api/partyInteraction/v4/partyInteraction HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    with silent, trickling:
        assert HEADER_TIMEOUT_S - 0.5 < closed_within(silent, 10) < HEADER_TIMEOUT_S + 3
        assert closed_within(trickling, 10, head) < HEADER_TIMEOUT_S + 3
    assert api.get("partyInteraction", params={"limit": 1}).status_code == 200


def test_a_kept_alive_connection_serves_requests_past_the_header_deadline(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        sockets = []
        for _ in range(3):  # 3 requests 1 s apart on one connection: 3 s, past the 2 s deadline
            connection.request("GET", "/tmf-api/partyInteraction/v4/partyInteraction?limit=1")
            response = connection.getresponse()
            assert response.status == 200
            response.read()
            sockets.append(connection.sock)
            time.sleep(HEADER_TIMEOUT_S / 2)
        assert sockets[0] is not None and sockets == [sockets[0]] * 3  # http.client reconnects after a close
    finally:
        connection.close()
