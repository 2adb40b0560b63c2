"""The log format (IHUB_LOG_FORMAT) and request ids."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest

from interaction_hub import logs


def _record(message: str, *args: object, name: str = "ihub.test", exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            exc_info = sys.exc_info()
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, args, exc_info)


def test_json_lines_hold_time_level_logger_and_message() -> None:
    line = logs.JsonFormatter().format(_record("indexed %d events", 3))
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["level"] == "WARNING" and entry["logger"] == "ihub.test" and entry["message"] == "indexed 3 events"
    assert entry["time"].endswith("Z") and "T" in entry["time"]
    assert "requestId" not in entry


def test_json_lines_carry_the_request_id_inside_a_request() -> None:
    token = logs.request_id.set("req-1")
    try:
        entry = json.loads(logs.JsonFormatter().format(_record("hello")))
        text = logs.TextFormatter().format(_record("hello"))
    finally:
        logs.request_id.reset(token)
    assert entry["requestId"] == "req-1"
    assert text.endswith("hello [request req-1]")


def test_an_exception_stays_on_one_line() -> None:
    line = logs.JsonFormatter().format(_record("failed", exc=True))
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["exception"]


@pytest.mark.parametrize("given", ["abc", "a.b-c_d:1", "x" * 64])
def test_a_safe_request_id_is_kept(given: str) -> None:
    assert logs.request_id_from(given) == given


@pytest.mark.parametrize("given", [None, "", "x" * 65, "a b", "a\nb", "<script>", "é"])
def test_any_other_request_id_is_replaced(given: str | None) -> None:
    made = logs.request_id_from(given)
    assert made != given and len(made) == 32 and made.isalnum()


def test_made_request_ids_differ_within_a_process_and_between_processes() -> None:
    made = {logs.request_id_from(None) for _ in range(10_000)}
    assert len(made) == 10_000
    other = subprocess.run(
        [sys.executable, "-c", "from interaction_hub.logs import request_id_from; print(request_id_from(None))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert len(other) == 32 and other[:16] != next(iter(made))[:16]


def test_the_access_log_loses_query_strings() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4", "GET", "/p?name=Ana", "1.1", 200),
        None,
    )
    logs.NoQueryStrings().filter(record)
    assert "Ana" not in record.getMessage() and "/p " in record.getMessage()


def test_configure_json_leaves_the_audit_logger_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    audit = logging.getLogger("ihub.audit")
    audit_handlers = list(audit.handlers)
    try:
        logs.configure("json")
        logging.getLogger("ihub.somewhere").info("started")
        assert json.loads(stream.getvalue().splitlines()[-1])["message"] == "started"
        assert audit.handlers == audit_handlers
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
