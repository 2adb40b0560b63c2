"""The customer-360 page finds a customer by a phone number or an email address as a CSR types it,
in a real browser.

A server of its own per store (embedded, and full mode with its worker) with an Amazon Connect
source and IHUB_PHONE_REGION=PT. A call comes from a number nobody holds: the number typed in the
search box ("912 345 678") is said to be held by nobody, with its call, which the CSR can open.
Then a party registers the number over the API: the same typing offers that party (its name and the
matching contact medium) to pick, and its timeline marks the call as linked by the phone number,
with the agent's name the vendor record carries. The party's name, from the directory, also finds it
by name. Screenshots: artifacts/ui-identity.png (embedded), artifacts/ui-identity-search.png.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.test_ui import browser, guarded_page, screenshot, shown_ids, wait_ready
from tests.conformance.test_identity import (
    API_KEY,
    LINK_WITHIN_S,
    SOURCES,
    call,
    hold,
    in_timeline,
    interaction,
    mobile,
    settles,
)
from tests.support.server import own_server

__all__ = ["browser"]  # the Chromium fixture of test_ui.py, shared

NUMBER = "+351 912 345 678"  # the store is this module's own: nobody else holds it
KEY = "phone:+351912345678"
TYPED = "912 345 678"  # as the customer says it, nationally
PARTY, NAME = "cust-ana-silva", "Ana Silva"


@pytest.fixture(scope="module", params=["embedded", "search"])
def hub(request, tmp_path_factory) -> Iterator[httpx.Client]:
    sources = tmp_path_factory.mktemp("sources") / "sources.toml"
    sources.write_text(SOURCES)
    env = {"IHUB_SOURCES_FILE": str(sources), "IHUB_TEST_OWN_KEY": API_KEY, "IHUB_PHONE_REGION": "PT"}
    with own_server(request, tmp_path_factory, "identity-ui", env) as api:
        root = str(api.base_url).split("/tmf-api/")[0]
        with httpx.Client(base_url=root, timeout=30) as client:
            yield client


def directory_says(hub: httpx.Client, expected: list[str]) -> None:
    """Until the directory answers the typed number with `expected` (the ids of its holders, else
    its status): full mode's indices make a write searchable within their refresh interval."""
    deadline = time.monotonic() + LINK_WITHIN_S
    while True:
        answer = hub.get("/ihub/v1/parties", params={"contact": TYPED})
        assert answer.status_code == 200, answer.text
        said = [entry.get("id") or entry.get("status") for entry in answer.json()]
        if said == expected or time.monotonic() > deadline:
            assert said == expected, answer.text
            return
        time.sleep(0.2)


def search(page, text: str) -> None:
    page.fill("#party-input", text)
    page.press("#party-input", "Enter")
    page.wait_for_selector("#matches:not(.hidden)")
    wait_ready(page)


def test_a_csr_finds_a_customer_by_the_number_they_call_from(browser, hub, request):
    mode = request.node.callspec.params["hub"]
    first = call(hub, NUMBER, "2026-03-02T10:00:00Z")
    agent = next(p for p in interaction(hub, first)["relatedParty"] if p["role"] == "agent")
    assert agent["name"] == "Steve.Lusk"  # the Connect record's agent username

    directory_says(hub, ["unresolved"])
    root = str(hub.base_url).rstrip("/")
    with guarded_page(browser, root) as page:
        page.goto(f"{root}/ui/")
        wait_ready(page)

        # nobody holds the number yet: the page says so, with its call, which opens
        search(page, TYPED)
        assert page.text_content("#matches .label") == "No party holds phone +351912345678; 1 interaction carries it."
        page.click(f"#matches .chip[data-contact='{KEY}']")
        page.wait_for_selector(f"#timeline .tl-item[data-id='{first}']")
        wait_ready(page)
        assert shown_ids(page) == [first]
        assert page.text_content("#party-name") == "phone +351912345678"
        assert page.text_content("#total") == "1"
        assert page.is_hidden("#filters") and page.is_hidden("#more")
        assert "agent Steve.Lusk" in page.text_content(f"#timeline .tl-item[data-id='{first}'] .tl-meta")

        # the customer registers the number: typed the same way, it offers them to pick
        assert hold(hub, PARTY, [mobile(TYPED)], name=NAME).status_code == 200
        settles(hub, first, [PARTY])
        assert in_timeline(hub, PARTY, first)
        directory_says(hub, [PARTY])
        search(page, TYPED)
        chips = page.locator("#matches .chip")
        assert chips.count() == 1 and chips.get_attribute("data-party") == PARTY
        assert chips.text_content() == f"{NAME}{PARTY} · mobile +351912345678"
        chips.click()
        page.wait_for_selector(f"#party-id:has-text('{PARTY}')")
        wait_ready(page)
        assert page.is_hidden("#matches") and page.text_content("#party-name") == NAME
        assert shown_ids(page) == [first]

        # the call is marked with the number that linked it, and names its agent
        item = f"#timeline .tl-item[data-id='{first}']"
        assert page.text_content(f"{item} .resolution.linked") == "linked by phone +351912345678"
        assert "agent Steve.Lusk" in page.text_content(f"{item} .tl-meta")
        page.click(f"{item} .tl-summary")
        details = page.text_content(f"{item} .tl-details")
        assert f"linked to {PARTY} by phone +351912345678" in details and "Steve.Lusk" in details
        screenshot(page, "ui-identity", mode)

        # the directory's name is on the linked call: a name search finds the party too
        page.fill("#party-input", NAME.lower())
        page.press("#party-input", "Enter")
        expect(page.locator("#party-input")).to_have_value(PARTY)  # the only party of that name opens
        wait_ready(page)
        assert page.text_content("#party-name") == NAME and shown_ids(page) == [first]

        # and by email address, typed in any case
        email = {"mediumType": "email", "characteristic": {"emailAddress": "ana.silva@example.com"}}
        assert hold(hub, PARTY, [mobile(TYPED), email], name=NAME).status_code == 200
        deadline = time.monotonic() + LINK_WITHIN_S
        while not hub.get("/ihub/v1/parties", params={"contact": "ana.silva@example.com"}).json():
            assert time.monotonic() < deadline, "the directory never held the address"
            time.sleep(0.2)
        search(page, "Ana.Silva@Example.COM")
        chips = page.locator("#matches .chip")
        assert chips.count() == 1 and chips.get_attribute("data-party") == PARTY
        assert "ana.silva@example.com" in chips.text_content()
