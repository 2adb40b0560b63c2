"""`ihub sources check` and `ihub ingest --source NAME FILE...` on the embedded store: files of a
source's records (a Firehose export of contact records, an mbox) take the webhook's path, a replay
of the same files changes nothing, and a bad file stores nothing and says why in one line."""

from __future__ import annotations

import asyncio
import email.utils
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from storage.query import Query
from storage.sqlite.store import SqliteStore
from tests.vendor_samples import sample

IHUB = str(Path(sys.executable).with_name("ihub"))
SOURCES = """
[sources.connect]
format = "amazon-connect-ctr"

[sources.mail]
format = "email-mime"
"""


def ihub(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IHUB_")}
    env |= {"IHUB_SOURCES_FILE": str(cwd / "sources.toml"), "IHUB_STORE": "embedded"}
    return subprocess.run([IHUB, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def stored(data: Path) -> list[dict]:
    async def read() -> list[dict]:
        store = SqliteStore(data, synchronous="NORMAL")
        try:
            return [orjson.loads(item) for item in (await store.list(Query(limit=100))).items]
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "sources.toml").write_text(SOURCES)
    # an existing, empty store: ingest makes none
    asyncio.run(SqliteStore(tmp_path / "data", synchronous="NORMAL").close())
    return tmp_path


def mbox(*messages: tuple[str, str, str | None]) -> bytes:
    """An mbox of (Message-ID, subject, In-Reply-To) messages, one thread when they reply."""
    parts = []
    for number, (message_id, subject, reply_to) in enumerate(messages):
        date = email.utils.format_datetime(email.utils.parsedate_to_datetime(f"Mon, 16 Nov 2026 09:0{number}:00 +0000"))
        headers = [
            "From: ana@example.com",
            "To: care@operator.example",
            f"Subject: {subject}",
            f"Date: {date}",
            f"Message-ID: <{message_id}>",
        ]
        if reply_to:
            headers += [f"In-Reply-To: <{reply_to}>", f"References: <{reply_to}>"]
        parts.append(f"From ana@example.com Mon Nov 16 09:0{number}:00 2026\n" + "\n".join(headers) + "\n\nHello\n")
    return "\n".join(parts).encode()


def test_sources_check_names_the_sources_and_their_webhooks(workdir: Path) -> None:
    done = ihub("sources", "check", "sources.toml", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "connect: amazon-connect-ctr, POST /ingest/v1/sources/connect" in done.stdout
    (workdir / "bad.toml").write_text('[sources.x]\nformat = "fax"\n')
    bad = ihub("sources", "check", "bad.toml", cwd=workdir)
    assert bad.returncode == 1 and "sources.x: unknown format 'fax'" in bad.stderr


def test_a_firehose_export_and_an_mbox_are_replayed_once_however_often(workdir: Path) -> None:
    ctr = orjson.loads(sample("amazon-connect/ctr-voice-inbound-case1.json"))
    other = {**ctr, "ContactId": ctr["ContactId"][:-4] + "beef"}
    (workdir / "firehose.json").write_bytes(orjson.dumps(ctr) + b"\n" + orjson.dumps(other) + b"\n")
    (workdir / "inbox.mbox").write_bytes(
        mbox(("a1@example.com", "Bill", None), ("a2@example.com", "Re: Bill", "a1@example.com"))
    )
    for _ in range(2):  # a replay of the same files changes nothing
        done = ihub("ingest", "--source", "connect", "--data-dir", "data", "firehose.json", cwd=workdir)
        assert done.returncode == 0, done.stderr
        assert "2 records of connect stored" in done.stdout
        mail = ihub(
            "ingest",
            "--source",
            "mail",
            "--media-type",
            "application/mbox",
            "--data-dir",
            "data",
            "inbox.mbox",
            cwd=workdir,
        )
        assert mail.returncode == 0, mail.stderr
    docs = stored(workdir / "data")
    contacts = sorted(d["externalIdentifier"][0]["id"] for d in docs if d["channel"][0]["id"] == "voice")
    assert contacts == sorted([ctr["ContactId"], other["ContactId"]])
    [thread] = [d for d in docs if d["channel"][0]["id"] == "email"]
    assert {e["id"] for e in thread["externalIdentifier"]} >= {"a1@example.com", "a2@example.com"}


def test_a_file_with_a_bad_record_stores_nothing_and_says_why(workdir: Path) -> None:
    (workdir / "bad.json").write_bytes(orjson.dumps({"ContactId": 7}))
    done = ihub("ingest", "--source", "connect", "--data-dir", "data", "bad.json", cwd=workdir)
    assert done.returncode == 2 and "bad.json" in done.stderr
    assert stored(workdir / "data") == []
    missing = ihub("ingest", "--source", "nobody", "--data-dir", "data", "bad.json", cwd=workdir)
    assert missing.returncode == 2 and "no source 'nobody'" in missing.stderr
