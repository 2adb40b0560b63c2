"""`ihub parties import` in full mode, on real Kafka, the real engine and an `ihub worker`: the
parties go into the directory index and the worker links an interaction indexed before them (the
relink events the import publishes), within the time identity resolution allows."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conformance.test_identity import API_KEY, LINK_WITHIN_S, SOURCES, call, customers, e164, phone, settles
from tests.support.server import Server

pytestmark = pytest.mark.integration
IHUB = str(Path(sys.executable).with_name("ihub"))


def test_an_import_links_the_interactions_indexed_before_it(isolated, tmp_path: Path) -> None:
    env, start_worker = isolated
    (tmp_path / "sources.toml").write_text(SOURCES)
    env.update({"IHUB_SOURCES_FILE": str(tmp_path / "sources.toml"), "IHUB_TEST_OWN_KEY": API_KEY})
    start_worker()
    server = Server(tmp_path / "unused", env).start()
    try:
        with httpx.Client(base_url=server.root, timeout=30) as hub:
            number = phone()
            interaction_id = call(hub, number, "2026-11-16T10:00:00Z")
            assert customers(hub.get(f"/tmf-api/partyInteraction/v4/partyInteraction/{interaction_id}").json()) == []
            parties = [
                {
                    "@type": "Individual",
                    "id": f"C-{e164(number)[-8:]}",
                    "fullName": "Ana Silva",
                    "contactMedium": [{"mediumType": "mobile", "characteristic": {"phoneNumber": e164(number)}}],
                },
                {"id": "O-1", "tradingName": "Acme Lda", "contactMedium": []},
                {"@type": "Individual", "id": "C-2", "givenName": "Rui"},
            ]
            (tmp_path / "crm.ndjson").write_bytes(b"\n".join(orjson.dumps(p) for p in parties))
            done = subprocess.run(
                [IHUB, "parties", "import", str(tmp_path / "crm.ndjson")],
                env={k: v for k, v in env.items() if k != "IHUB_DATA_DIR"},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            assert "3 parties imported, 0 bad lines, 1 interactions linked again" in done.stdout
            started = time.monotonic()
            doc = settles(hub, interaction_id, [parties[0]["id"]], timeout=LINK_WITHIN_S)
            assert time.monotonic() - started <= LINK_WITHIN_S
            assert doc["customerResolution"]["status"] == "linked"
    finally:
        server.stop()


def test_a_missing_index_is_one_line_and_exit_2(search_url: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    (tmp_path / "crm.ndjson").write_bytes(b'{"id": "C-1", "fullName": "Ana"}\n')
    env = {
        **os.environ,
        "IHUB_STORE": "search",
        "IHUB_SEARCH_URL": search_url,
        "IHUB_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "IHUB_INDEX_ALIAS": "never-made",
    }
    done = subprocess.run(
        [IHUB, "parties", "import", str(tmp_path / "crm.ndjson")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "index alias missing" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
