"""The pages under hostile data, and their Content-Security-Policy, in Chromium.

One interaction whose reason, description, note, party names, channel, agent and store hold HTML
and script: the customer 360 and KPI pages show it as text. The markup is visible, no element is
made from it and none of it runs, with the policy enforced and with the browser told to ignore it
(the pages build their DOM from text either way). The pages, their files and the docs carry their
policy and the other security headers; loading them violates nothing, while an inline script, eval
and a style attribute are refused. Screenshots: artifacts/ui-hostile-customer360.png,
artifacts/ui-hostile-kpis.png and artifacts/ui-docs.png.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.browser.test_ui import ARTIFACTS, LIST, board, browser, guarded_page, wait_ready, watch_csp
from tests.support.server import Server, running

__all__ = ["browser"]  # the Chromium fixture of test_ui.py, shared

IMG = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=2</script>"
CUSTOMER = "cust-hostile"
NAME = f"Name {IMG}{SCRIPT}"
CHANNEL = f"chan{IMG}"
AGENT = f"agent{SCRIPT}"
STORE = f"store{IMG}"
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
DOCS_POLICY = PAGE_POLICY.replace("img-src 'self';", "img-src 'self' data:;")
# what hostile markup would have made, had it been parsed: any image, or a script other than the page's own
MADE_FROM_DATA = "() => document.querySelectorAll('img').length + [...document.scripts].filter((s) => !s.src).length"


def at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def hostile_interaction() -> dict:
    start = datetime.now(UTC) - timedelta(hours=1)  # within the KPI page's default period
    return {
        "reason": f"Reason {IMG}{SCRIPT}",
        "description": f"Description {SCRIPT}{IMG}",
        "direction": "inbound",
        "status": "completed",
        "channel": [{"id": CHANNEL, "name": f"Channel {SCRIPT}"}],
        "interactionDate": {"startDateTime": at(start), "endDateTime": at(start + timedelta(minutes=5))},
        "note": [{"text": f"Note {IMG}{SCRIPT}", "author": f"Author {SCRIPT}", "date": at(start)}],
        "relatedParty": [
            {"id": CUSTOMER, "name": NAME, "role": "customer", "@referredType": "Individual"},
            {"id": AGENT, "name": f"Agent {IMG}", "role": "agent", "@referredType": "Individual"},
            {"id": STORE, "name": f"Store {SCRIPT}", "role": "store", "@referredType": "Organization"},
        ],
    }


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    """A fresh embedded store holding the one hostile interaction (as the API gave it back)."""
    server = Server(tmp_path_factory.mktemp("ui-hostile-store"), {"IHUB_STORE": "embedded"})
    with running(server, tmp_path_factory.mktemp("ui-hostile-worker")):
        created = httpx.post(server.root + LIST, json=hostile_interaction(), timeout=10)
        assert created.status_code == 201, created.text
        server.interaction = created.json()
        yield server


def assert_nothing_ran(page, requests: list[str]) -> None:
    assert page.evaluate(MADE_FROM_DATA) == 0
    assert page.evaluate("window.__pwned") is None
    assert not [url for url in requests if url.endswith("/x")], "an image of the data was loaded"


@pytest.mark.parametrize("policy", ["enforced", "ignored"])
def test_hostile_data_is_shown_as_text(browser, hostile_server, policy):
    root = hostile_server.root
    item = hostile_server.interaction
    with guarded_page(browser, root, bypass_csp=policy == "ignored") as page:
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))

        # customer 360: the party, its timeline item and the item's details
        page.goto(f"{root}/ui/?party={CUSTOMER}")
        wait_ready(page)
        page.click("#timeline .tl-item:first-child .tl-summary")
        assert page.text_content("#party-name") == NAME
        assert page.text_content("#suggestions .chip[data-party='cust-hostile']") == NAME + CUSTOMER
        assert page.text_content(".tl-title") == item["reason"]
        meta = page.text_content(".tl-meta")
        assert f"Channel {SCRIPT}" in meta and f"agent Agent {IMG}" in meta and f"at Store {SCRIPT}" in meta
        assert page.eval_on_selector_all("#facet-channel li", "lis => lis.map(li => li.dataset.value)") == [CHANNEL]
        assert page.text_content("#facet-channel .name") == CHANNEL
        details = page.text_content(".tl-details")
        for text in (item["description"], f"Note {IMG}{SCRIPT}", f"Author {SCRIPT}", f"Agent {IMG}", f"({STORE}, "):
            assert text in details, text
        assert page.get_by_text(f"Note {IMG}{SCRIPT}").is_visible()  # the markup itself, on screen
        assert_nothing_ran(page, requests)
        if policy == "enforced":
            page.screenshot(path=str(ARTIFACTS / "ui-hostile-customer360.png"), full_page=True)

        # the KPIs: the channel, agent and store keys in the cards, charts, legend, tooltip and boards
        page.goto(f"{root}/ui/kpis.html")
        wait_ready(page)
        assert page.text_content("#card-channel .value") == CHANNEL
        assert page.text_content("#card-agent .value") == AGENT
        assert page.text_content("#card-store .value") == STORE
        assert board(page, "agent") == [(AGENT, 1)] and board(page, "store") == [(STORE, 1)]
        assert page.text_content("#board-agent td.key") == AGENT
        assert page.text_content("#aht-chart .bar-label") == CHANNEL
        assert page.text_content("#volume-chart .legend button") == CHANNEL
        page.hover("#volume-chart svg rect[fill=transparent]")
        assert CHANNEL in page.text_content("#volume-chart .tooltip")
        assert page.get_by_text(AGENT, exact=True).first.is_visible()
        assert_nothing_ran(page, requests)
        if policy == "enforced":
            page.screenshot(path=str(ARTIFACTS / "ui-hostile-kpis.png"), full_page=True)


def test_the_pages_and_the_docs_carry_their_policy(hostile_server):
    root = hostile_server.root
    with httpx.Client(base_url=root, timeout=10) as client:
        for path in ("/ui/", "/ui/kpis.html", "/ui/app.js", "/ui/style.css", "/ui/auth.json"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-security-policy"] == PAGE_POLICY, path
        for path in ("/docs", "/docs/assets/oauth2-redirect.html"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-security-policy"] == DOCS_POLICY, path
        # every answer, the API's JSON and its errors too: no sniffing, no referrer
        for path in ("/ui/", "/docs", "/openapi.json", f"{LIST}?limit=1", f"{LIST}?limit=nope"):
            headers = client.get(path).headers
            assert headers["x-content-type-options"] == "nosniff", path
            assert headers["referrer-policy"] == "no-referrer", path
        assert "content-security-policy" not in client.get("/openapi.json").headers  # no page


def test_the_pages_and_the_docs_load_without_violating_it(browser, hostile_server):
    root = hostile_server.root
    with guarded_page(browser, root) as page:
        for path in ("/ui/", f"/ui/?party={CUSTOMER}", "/ui/kpis.html"):
            page.goto(root + path)
            wait_ready(page)
        page.goto(root + "/docs")
        page.click(".swagger-ui .opblock-summary >> nth=0")  # an operation, with its examples and schemas
        page.wait_for_selector(".swagger-ui .opblock-body")
        assert page.text_content(".swagger-ui .info .title").startswith("Interaction Hub")
        page.screenshot(path=str(ARTIFACTS / "ui-docs.png"), full_page=True)
        page.click("text=TMF683 v5")  # the link at the top: v5's own OpenAPI
        page.wait_for_selector(".swagger-ui .opblock-summary-path >> text=/partyInteraction")
        assert "v5" in page.text_content(".swagger-ui .info")
        assert page.csp_violations == []

    # and the policy is in force: an inline script, eval and a style attribute are refused
    context = browser.new_context()
    try:
        page = context.new_page()
        violations = watch_csp(page)
        page.goto(f"{root}/ui/")
        wait_ready(page)
        refused = page.evaluate(
            """() => new Promise((resolve) => {
                document.addEventListener("securitypolicyviolation", (e) => resolve(e.violatedDirective),
                  { once: true });
                const script = document.createElement("script");
                script.textContent = "window.__inline = 1";
                document.body.append(script);
            })"""
        )
        assert refused == "script-src-elem" and page.evaluate("window.__inline") is None
        # a string as code (eval's kind) runs later, outside the test's own evaluation (which may eval)
        page.evaluate("setTimeout('window.__evaluated = 1')")
        page.evaluate("document.body.setAttribute('style', 'display: none')")
        assert page.is_visible("#finder")
        # each refusal reached watch_csp, which guards every other browser test
        for _ in range(40):
            if len(violations) >= 3:
                break
            page.wait_for_timeout(50)
        assert page.evaluate("window.__evaluated") is None
        directives = sorted(v.split()[0] for v in violations)
        assert directives == ["script-src", "script-src-elem", "style-src-attr"], violations
    finally:
        context.close()
