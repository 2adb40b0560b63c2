"""Party-scoped tokens over identity resolution, in both modes: a recycled number's calls are each
linked to whoever held the number then, and a customer's token sees only their own: the other
holder's calls do not exist for it, by id, in lists or in its timeline."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from query_api.auth import READ
from tests.conformance.test_identity import API_KEY, SOURCES, TMF, call, hold, mobile, phone, settles, unique
from tests.conformance.test_party_interaction import assert_tmf_error
from tests.support.server import own_server
from tests.tokens import ALL, Signer, auth_env, bearer

SIGNER = Signer()


@pytest.fixture(scope="module", params=["embedded", "search"])
def hub(request, tmp_path_factory) -> Iterator[httpx.Client]:
    """A client of the server's root whose requests carry a token with every permission."""
    folder = tmp_path_factory.mktemp("identity-access")
    sources = folder / "sources.toml"
    sources.write_text(SOURCES)
    env = {
        **auth_env(SIGNER.write_pem(folder)),
        "IHUB_SOURCES_FILE": str(sources),
        "IHUB_TEST_OWN_KEY": API_KEY,
        "IHUB_PHONE_REGION": "PT",
    }
    with own_server(request, tmp_path_factory, "identity-access", env) as api:
        root = str(api.base_url).split("/tmf-api/")[0]
        with httpx.Client(base_url=root, timeout=30, headers=bearer(SIGNER.token(ALL, lifetime_s=3600))) as client:
            yield client


def scoped(party: str) -> dict[str, str]:
    """A customer's token: reads, for their party only."""
    return bearer(SIGNER.token(READ, party_id=party))


def eventually(read: Callable[[], Any], expected: Any, timeout: float = 10) -> Any:
    """What `read` answers once it is `expected` (a search sees a relink within the index's
    refresh interval), else the last answer."""
    deadline = time.monotonic() + timeout
    while (found := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def listed(hub: httpx.Client, token: dict[str, str], **query: str) -> list[str]:
    answer = hub.get(TMF, params=query, headers=token)
    assert answer.status_code == 200, answer.text
    return sorted(item["id"] for item in answer.json())


def timeline(hub: httpx.Client, party: str, token: dict[str, str]) -> list[str]:
    answer = hub.get(f"/ihub/v1/parties/{party}/timeline", headers=token)
    assert answer.status_code == 200, answer.text
    return sorted(item["id"] for item in answer.json()["items"])


def test_a_recycled_number_shows_each_holder_only_their_own_calls(hub):
    number, old, new = phone(), f"old-{unique()}", f"new-{unique()}"
    before = call(hub, number, "2025-06-01T10:00:00Z")
    after = call(hub, number, "2026-06-01T10:00:00Z")
    assert hold(hub, old, [mobile(number, end="2026-01-01T00:00:00Z")]).status_code == 200
    assert hold(hub, new, [mobile(number, start="2026-01-01T00:00:00Z")]).status_code == 200
    settles(hub, before, [old])
    settles(hub, after, [new])

    for holder, own, other, other_party in ((new, after, before, old), (old, before, after, new)):
        token = scoped(holder)
        assert_tmf_error(hub.get(f"{TMF}/{other}", headers=token), 404, other)
        assert_tmf_error(hub.get(f"{TMF}/{other}", params={"fields": "id"}, headers=token), 404, other)
        assert hub.get(f"{TMF}/{own}", headers=token).status_code == 200
        assert eventually(lambda token=token: listed(hub, token), [own]) == [own]
        assert listed(hub, token, **{"relatedParty.id": other_party}) == []
        assert eventually(lambda holder=holder, token=token: timeline(hub, holder, token), [own]) == [own]
        assert_tmf_error(hub.get(f"/ihub/v1/parties/{other_party}/timeline", headers=token), 404)
    # a token for every party sees each holder's
    assert listed(hub, {}, **{"relatedParty.id": old}) == [before]
    assert listed(hub, {}, **{"relatedParty.id": new}) == [after]
