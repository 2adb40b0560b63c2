"""What most integrators do: a Python client generated with openapi-generator from TM Forum's own
TMF683 v4.0.0 OpenAPI (the swagger in shared/spec), driving a real `ihub serve` on each store that
holds demo data, a share of it made by channel adapters from vendor records (references without
links). Every operation of the client: create, retrieve, list page after page, patch, delete, an
interaction a channel adapter made, and the hub (a notification read with the client's own model).

The generator's jar comes from Maven Central into .tools/ once (scripts/tools openapi-generator);
the client is generated into a temporary folder and imported from there.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest
from packaging.requirements import Requirement

from ingest.adapters import adapt, sample_events
from schemas.channel_event import ChannelEvent
from tests.support.server import (
    CHANNEL_LINK,
    IHUB,
    INDIVIDUAL_LINK,
    PARTY_ROLE_LINK,
    Listener,
    Server,
    full_mode_store,
    running,
)
from tests.tmf683_v5 import spec_path

ROOT = Path(__file__).resolve().parents[2]
SWAGGER = "TMF683-PartyInteraction-v4.0.0.swagger.json"
PACKAGE = "tmf683_client"
DEMO, PAGE = 320, 50  # a demo's vendor records may make fewer interactions than records: 300 and more
API_KEY = "generated-client-key"
SOURCES = '[sources.own]\nformat = "ihub"\napi_key_env = "IHUB_TEST_OWN_KEY"\n'


@pytest.fixture(scope="module")
def tmf683(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated client package, its requirements met by the test extra (pyproject.toml)."""
    tools = subprocess.run(
        [str(ROOT / "scripts" / "tools"), "openapi-generator"], capture_output=True, text=True, check=False
    )
    assert tools.returncode == 0, tools.stderr
    out = tmp_path_factory.mktemp("generated")
    only_code = "apiTests=false,modelTests=false,apiDocs=false,modelDocs=false"
    command = ["java", "-jar", tools.stdout.strip(), "generate", "-g", "python", "-i", str(spec_path(SWAGGER))]
    command += ["-o", str(out), "--package-name", PACKAGE, "--global-property", only_code]
    generated = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert generated.returncode == 0, generated.stdout[-3000:] + generated.stderr[-3000:]
    for line in (out / "requirements.txt").read_text().splitlines():
        needed = Requirement(line)
        assert needed.specifier.contains(importlib.metadata.version(needed.name)), f"{needed}: not in the test extra"
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def demo(server: Server) -> None:
    """`ihub demo`: into the embedded store itself (before the server holds it), or through Kafka."""
    command = [IHUB, "demo", "--events", str(DEMO), "--seed", "683", "--data-dir", str(server.data_dir)]
    loaded = subprocess.run(command, env=server.env, capture_output=True, text=True, check=False, timeout=120)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr


@pytest.fixture(scope="module", params=["embedded", "search"])
def ihub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server holding DEMO demo interactions, with a source of the project's own envelope."""
    sources = tmp_path_factory.mktemp("sources") / "sources.toml"
    sources.write_text(SOURCES)
    env = {
        "IHUB_STORE": request.param,
        "IHUB_SOURCES_FILE": str(sources),
        "IHUB_TEST_OWN_KEY": API_KEY,
        "IHUB_HUB_ALLOWED_NETWORKS": "127.0.0.0/8",  # the test's listener runs on this machine
    }
    with ExitStack() as stack:
        if request.param == "search":
            env.update(stack.enter_context(full_mode_store(request, "generated")))
        server = Server(tmp_path_factory.mktemp("generated-store"), env)
        if request.param == "embedded":
            demo(server)
        stack.enter_context(running(server, tmp_path_factory.mktemp("generated-worker")))
        if request.param == "search":
            demo(server)
        settled(server)
        yield server


def settled(server: Server) -> None:
    """Wait until the demo data is all there: 300 interactions or more, and no more arriving."""
    deadline, last = time.monotonic() + 60, -1
    while True:
        total = int(httpx.get(server.url + "partyInteraction", params={"limit": 0}).headers["x-total-count"])
        if total >= 300 and total == last:
            return
        assert time.monotonic() < deadline, f"the demo data did not arrive within 60 s ({total} interactions)"
        last = total
        time.sleep(1)


@pytest.fixture(scope="module")
def client(tmf683: ModuleType, ihub: Server) -> Iterator[Any]:
    with tmf683.ApiClient(tmf683.Configuration(host=ihub.url.rstrip("/"))) as api_client:
        yield api_client


def header(response: Any, name: str) -> str:
    """A header of the client's ApiResponse, whose header names are as the server sent them."""
    return next(value for key, value in response.headers.items() if key.lower() == name.lower())


def test_every_page_of_a_large_result_is_a_200_the_client_reads(tmf683, client):
    api = tmf683.PartyInteractionApi(client)
    total = int(header(api.list_party_interaction_with_http_info(limit=0), "X-Total-Count"))
    assert total >= 300
    seen = []
    for offset in range(0, total, PAGE):
        page = api.list_party_interaction_with_http_info(offset=offset, limit=PAGE)
        assert page.status_code == 200 and page.data is not None
        assert int(header(page, "X-Total-Count")) == total
        assert int(header(page, "X-Result-Count")) == len(page.data) == min(PAGE, total - offset)
        assert ('rel="next"' in header(page, "Link")) == (offset + PAGE < total)
        seen.extend(page.data)
    assert len({interaction.id for interaction in seen}) == total
    # references without links (adapters', the demo's) are shown with one
    assert all(channel.href for interaction in seen for channel in interaction.channel)
    assert all(party.href for interaction in seen for party in interaction.related_party or [])


def test_create_retrieve_patch_and_delete(tmf683, client, ihub):
    api = tmf683.PartyInteractionApi(client)
    channel = tmf683.RelatedChannel(id="voice", href="https://catalogue.example/channel/voice", name="Contact centre")
    party = tmf683.RelatedParty(
        id="cust-42", href="https://crm.example/individual/cust-42", referred_type="Individual", role="customer"
    )
    body = tmf683.PartyInteractionCreate(
        reason=f"Bill higher than expected {uuid4().hex}",
        direction="inbound",
        status="open",
        interaction_date=tmf683.TimePeriod(start_date_time=datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        channel=[channel],
        related_party=[party],
    )
    created = api.create_party_interaction(body)
    assert created.href == f"{ihub.url}partyInteraction/{created.id}"
    assert (created.reason, created.channel, created.related_party) == (body.reason, [channel], [party])  # as sent
    assert api.retrieve_party_interaction(created.id) == created

    patched = api.patch_party_interaction(created.id, tmf683.PartyInteractionUpdate(status="completed"))
    assert (patched.id, patched.status, patched.channel) == (created.id, "completed", [channel])
    assert patched.status_change_date >= created.status_change_date

    assert api.delete_party_interaction(created.id) is None
    with pytest.raises(tmf683.ApiException) as gone:
        api.retrieve_party_interaction(created.id)
    assert gone.value.status == 404


def call_record(marker: str) -> tuple[dict[str, Any], str]:
    """A channel system's call record (the project's own envelope), and the id of the interaction
    it makes."""
    sample = next(event for event in sample_events() if event.type == "ihub.voice.call.ended")
    event = orjson.loads(sample.to_bytes())
    event = {**event, "id": f"evt-{marker}", "data": {**event["data"], "callId": f"call-{marker}"}}
    return event, adapt(ChannelEvent.model_validate(event)).interaction_id


def deliver(ihub: Server, event: dict[str, Any]) -> None:
    """To the ingress, as the channel system's webhook does."""
    answer = httpx.post(
        f"{ihub.root}/ingest/v1/sources/own",
        content=orjson.dumps(event),
        headers={"content-type": "application/json", "x-api-key": API_KEY},
    )
    assert answer.status_code == 200, answer.text


def assert_linked(ihub: Server, interaction: Any) -> None:
    """The call record's channel, customer and agent, each with its link."""
    assert [channel.href for channel in interaction.channel] == [f"{ihub.root}{CHANNEL_LINK}voice"]
    assert [party.href for party in interaction.related_party] == [
        f"{ihub.root}{INDIVIDUAL_LINK}cust-42",
        f"{ihub.root}{PARTY_ROLE_LINK}agent-0007",
    ]


def test_an_interaction_a_channel_adapter_made_is_read_with_its_references_linked(tmf683, client, ihub):
    api = tmf683.PartyInteractionApi(client)
    event, interaction_id = call_record(uuid4().hex)
    deliver(ihub, event)
    deadline = time.monotonic() + 30
    while True:  # full mode applies a delivery after answering it
        try:
            interaction = api.retrieve_party_interaction(interaction_id)
            break
        except tmf683.ApiException as exc:
            assert exc.status == 404 and time.monotonic() < deadline
            time.sleep(0.2)
    assert interaction.status == "completed"
    assert_linked(ihub, interaction)


def test_a_listener_registered_and_removed_through_the_hub_reads_its_notification(tmf683, client, ihub):
    hub = tmf683.EventsSubscriptionApi(client)
    event, interaction_id = call_record(uuid4().hex)
    sink = Listener()
    try:
        query = f"eventType=PartyInteractionCreateEvent&event.partyInteraction.id={interaction_id}"
        subscription = hub.register_listener(tmf683.EventSubscriptionInput(callback=sink.url, query=query))
        assert (subscription.callback, subscription.query) == (sink.url, query) and subscription.id
        deliver(ihub, event)
        (notification,) = sink.wait_for(1, timeout=30)
        created = tmf683.PartyInteractionCreateEvent.from_dict(notification)
        assert created.event_type == "PartyInteractionCreateEvent"
        assert created.event.party_interaction.id == interaction_id
        assert_linked(ihub, created.event.party_interaction)
        assert hub.unregister_listener(subscription.id) is None
        assert httpx.get(f"{ihub.url}hub/{subscription.id}").status_code == 404
    finally:
        sink.close()
