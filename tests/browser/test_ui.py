"""The customer-360 and KPI pages in a real browser (Debian's chromium through Playwright).

A fresh `ihub serve` on demo data, once per store: embedded, and full mode (the demo events go
through Kafka and an `ihub worker` into the search engine); every number the pages show is checked
against the public API. Screenshots go to artifacts/ui-customer360.png and artifacts/ui-kpis.png
(embedded), and artifacts/ui-customer360-search.png and artifacts/ui-kpis-search.png (full mode).
On an empty store, reached from the server's root, the pages say how to fill it
(artifacts/ui-empty-store.png).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.server import IHUB, Server, full_mode_store, running

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LIST = "/tmf-api/partyInteraction/v4/partyInteraction"
PAGE_SIZE = 5
DEMO_EVENTS = 3000
INDEX_TIMEOUT_S = 180  # full mode: for the worker to index the demo events


@pytest.fixture(scope="module", params=["embedded", "search"])
def mode(request) -> str:
    """embedded: a SQLite store; search: full mode (demo events through Kafka, a worker, the engine)."""
    return request.param


@pytest.fixture(scope="module")
def ui_server(mode, request, tmp_path_factory):
    with ExitStack() as stack:
        env = {"IHUB_STORE": mode}
        if mode == "search":
            env.update(stack.enter_context(full_mode_store(request, "browser")))
        server = Server(tmp_path_factory.mktemp("ui-store"), env)
        # embedded: straight into the store; full mode: onto Kafka, for the worker to index
        demo = subprocess.run(
            [IHUB, "demo", "--events", str(DEMO_EVENTS), "--seed", "7", "--data-dir", str(server.data_dir)],
            env=server.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        # about DEMO_EVENTS: a vendor story makes one interaction or a few; the demo says how many
        made = int(re.fullmatch(r"ihub: demo: (\d+) interactions\n", demo.stdout)[1])  # type: ignore[index]
        assert abs(made - DEMO_EVENTS) <= 10, demo.stdout
        stack.enter_context(running(server, tmp_path_factory.mktemp("ui-worker")))
        wait_for_all(server, made)
        yield server


def wait_for_all(server: Server, made: int) -> None:
    """Until the API lists every demo interaction (in full mode, once the worker indexed them all)
    and its KPIs have settled."""
    deadline = time.monotonic() + INDEX_TIMEOUT_S
    total = None
    while time.monotonic() < deadline:
        total = int(httpx.get(server.root + LIST, params={"limit": 0}, timeout=10).headers["X-Total-Count"])
        if total == made:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the API lists {total} of the {made} demo interactions after {INDEX_TIMEOUT_S} s", pytrace=False)
    # full mode: the contacts behind first-contact resolution are written just after the documents
    # and become searchable with the next refresh; wait until two reports a refresh apart agree
    now = datetime.now(UTC)
    window = {
        "groupBy": "agent",
        "from": (now - timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "to": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    report = None
    while time.monotonic() < deadline:
        again = httpx.get(server.root + "/ihub/v1/analytics/kpis", params=window, timeout=10).json()
        if again == report:
            return
        report = again
        time.sleep(1.2)
    pytest.fail(f"the KPIs kept changing for {INDEX_TIMEOUT_S} s after every interaction was listed", pytrace=False)


def screenshot(page, name: str, mode: str) -> None:
    """artifacts/<name>.png for the embedded store, artifacts/<name>-<mode>.png for the others."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}{'' if mode == 'embedded' else '-' + mode}.png"), full_page=True)


@pytest.fixture(scope="module")
def api(ui_server):
    with httpx.Client(base_url=ui_server.root, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(apt-get update && apt-get install -y chromium); no browser is ever downloaded"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the Python package 'playwright' is missing: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# reported through a function the test exposes, so a violation on any document the page shows counts
WATCH_CSP = """document.addEventListener("securitypolicyviolation", (e) =>
  window.__cspViolation(`${e.violatedDirective} refused ${e.blockedURI || "(inline)"} on ${e.documentURI}`));"""


def watch_csp(page) -> list[str]:
    """The Content-Security-Policy violations of every document `page` shows, as they happen."""
    violations: list[str] = []
    page.expose_function("__cspViolation", lambda violation: violations.append(violation))
    page.add_init_script(WATCH_CSP)
    return violations


@contextmanager
def guarded_page(browser, root: str, *, bypass_csp: bool = False) -> Iterator:
    """A page that records JS errors and Content-Security-Policy violations (page.csp_violations),
    and refuses (and records) any request that leaves the server at `root`; all must stay empty.
    `bypass_csp`: the browser ignores the pages' policy."""
    context = browser.new_context(
        viewport={"width": 1360, "height": 900}, locale="en-GB", timezone_id="UTC", bypass_csp=bypass_csp
    )
    page = context.new_page()
    page.csp_violations = watch_csp(page)
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

    own = urlsplit(root).netloc

    def guard(route):
        parts = urlsplit(route.request.url)
        if parts.scheme in ("data", "blob") or parts.netloc == own:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"
    assert not page.csp_violations, f"Content-Security-Policy violations: {page.csp_violations}"
    assert not outside, f"the page tried to load from outside the server: {outside}"


@pytest.fixture
def page(browser, ui_server):
    with guarded_page(browser, ui_server.root) as page:
        yield page


def wait_ready(page) -> None:
    page.wait_for_selector("body[data-state=ready]", timeout=15_000)


def shown_facets(page, facet: str) -> dict[str, int]:
    return page.eval_on_selector_all(
        f"#facet-{facet} li[data-value]",
        "lis => Object.fromEntries(lis.map(li => [li.dataset.value, Number(li.querySelector('.count').textContent)]))",
    )


def assert_facets_match(page, facets: dict) -> None:
    for facet in ("channel", "status", "reason"):
        expected = {f["value"]: f["count"] for f in facets[facet]}
        shown = shown_facets(page, facet)
        assert {v: c for v, c in shown.items() if c} == expected, facet  # values not in the API's facets show 0


def shown_ids(page) -> list[str]:
    return page.eval_on_selector_all("#timeline .tl-item", "lis => lis.map(li => li.dataset.id)")


def busiest_party(api) -> tuple[str, int]:
    everything = api.get(LIST, params={"fields": "relatedParty"}).json()
    counts = Counter(
        p["id"] for item in everything for p in item.get("relatedParty", []) if p.get("role") not in ("agent", "store")
    )
    return counts.most_common(1)[0]


def test_customer_360(page, api, ui_server, mode):
    party, count = busiest_party(api)
    assert count > PAGE_SIZE, "the demo data should give some party a history longer than one page"
    timeline = f"/ihub/v1/parties/{party}/timeline"

    page.goto(f"{ui_server.root}/ui/?party={party}&limit={PAGE_SIZE}")
    wait_ready(page)

    # suggestions: the customers of the most recent interactions
    recent = api.get(
        LIST, params={"sort": "-interactionDate.startDateTime", "limit": 60, "fields": "relatedParty"}
    ).json()
    recent_ids = [p["id"] for item in recent for p in item["relatedParty"] if p.get("role") not in ("agent", "store")]
    chips = page.eval_on_selector_all("#suggestions .chip", "cs => cs.map(c => c.dataset.party)")
    assert chips and chips[0] == recent_ids[0] and set(chips) <= set(recent_ids)
    assert page.is_hidden("#empty-store") and page.is_hidden("#intro")  # a party is open, the store has data

    # first page: the same items in the same order, the same facet counts, the same total
    first = api.get(timeline, params={"limit": PAGE_SIZE}).json()
    assert shown_ids(page) == [item["id"] for item in first["items"]]
    assert_facets_match(page, first["facets"])
    total = sum(f["count"] for f in first["facets"]["status"])
    assert total == count
    assert page.text_content("#total") == str(total)
    name = next(p["name"] for p in first["items"][0]["relatedParty"] if p["id"] == party)
    assert page.text_content("#party-name") == name
    icons = page.eval_on_selector_all("#timeline .tl-item .tl-icon svg", "s => s.length")
    assert icons == len(first["items"])

    # load more follows nextCursor
    assert first["nextCursor"]
    second = api.get(timeline, params={"limit": PAGE_SIZE, "cursor": first["nextCursor"]}).json()
    page.click("#more")
    wait_ready(page)
    assert shown_ids(page) == [item["id"] for item in first["items"] + second["items"]]
    assert page.is_visible("#more") == bool(second["nextCursor"])

    # details of the newest item
    newest = first["items"][0]
    page.click("#timeline .tl-item:first-child .tl-summary")
    details = page.text_content("#timeline .tl-item:first-child .tl-details")
    assert newest["reason"] in details and newest["status"] in details and newest["id"] in details
    for note in newest.get("note", []):
        assert note["text"] in details

    # a channel filter: only that channel is listed, and the counts follow the API's
    channel = first["facets"]["channel"][-1]["value"]  # the least used channel of this party
    page.check(f"#facet-channel li[data-value='{channel}'] input")
    wait_ready(page)
    filtered = api.get(timeline, params={"limit": PAGE_SIZE, "channel": channel}).json()
    assert shown_ids(page) == [item["id"] for item in filtered["items"]]
    channels = page.eval_on_selector_all("#timeline .tl-item", "lis => lis.map(li => li.dataset.channel)")
    assert channels and all(channel in c.split(",") for c in channels)
    assert_facets_match(page, filtered["facets"])
    assert page.text_content("#total") == str(sum(f["count"] for f in filtered["facets"]["status"]))

    # full text on top of it
    word = filtered["items"][0]["reason"].split()[0]
    page.fill("#q", word)
    page.press("#q", "Enter")
    wait_ready(page)
    searched = api.get(timeline, params={"limit": PAGE_SIZE, "channel": channel, "q": word}).json()
    assert shown_ids(page) == [item["id"] for item in searched["items"]]
    assert_facets_match(page, searched["facets"])

    # clear, then open the first item again for the screenshot
    page.click("#clear")
    wait_ready(page)
    assert shown_ids(page) == [item["id"] for item in first["items"]]
    page.click("#timeline .tl-item:first-child .tl-summary")
    screenshot(page, "ui-customer360", mode)

    # navigation to the dashboard
    page.click("nav a[href='kpis.html']")
    page.wait_for_url("**/ui/kpis.html*")
    wait_ready(page)


def test_a_name_in_the_box_finds_the_customer(page, api, ui_server):
    """A name (the demo's customers are named from ingest/demo.py's FIRST and LAST lists) lists the
    parties of that name, most recently active first; one of them picked opens its timeline."""

    def parties_named(name):  # most recently active first
        params = {"relatedParty.name": name, "fields": "relatedParty", "sort": "-interactionDate.startDateTime"}
        listed = api.get(LIST, params=params).json()
        named = list(dict.fromkeys(p["id"] for item in listed for p in item["relatedParty"] if p.get("name") == name))
        assert len(named) > 1, f"the demo data should have several customers named {name}"
        return named

    page.goto(f"{ui_server.root}/ui/?limit={PAGE_SIZE}")
    wait_ready(page)
    for name, typed in (("Chloé García", "CHLOÉ  GARCÍA"), ("Kofi Kowalski", "kofi kowalski")):  # any case, any space
        page.fill("#party-input", typed)
        page.press("#party-input", "Enter")
        page.wait_for_selector(f"#matches:has-text('{typed}') .chip")
        wait_ready(page)
        named = parties_named(name)
        assert page.eval_on_selector_all("#matches .chip", "cs => cs.map(c => c.dataset.party)") == named

    page.click(f"#matches .chip[data-party='{named[0]}']")
    page.wait_for_selector(f"#party-id:has-text('{named[0]}')")
    wait_ready(page)
    assert page.is_hidden("#matches") and page.text_content("#party-name") == "Kofi Kowalski"
    timeline = api.get(f"/ihub/v1/parties/{named[0]}/timeline", params={"limit": PAGE_SIZE}).json()
    assert timeline["items"] and shown_ids(page) == [item["id"] for item in timeline["items"]]
    assert page.input_value("#party-input") == named[0]

    # an id still opens its party at once; what is neither an id nor a name says so
    page.fill("#party-input", named[-1])
    page.press("#party-input", "Enter")
    page.wait_for_selector(f"#party-id:has-text('{named[-1]}')")
    wait_ready(page)
    page.fill("#party-input", "Nobody Atall")
    page.press("#party-input", "Enter")
    page.wait_for_selector("#matches:not(.hidden)")
    wait_ready(page)
    assert "No party has the id or a name like “Nobody Atall”" in page.text_content("#matches")


def board(page, kind: str) -> list[tuple[str, int]]:
    return [
        tuple(row)
        for row in page.eval_on_selector_all(
            f"#board-{kind} tbody tr[data-key]",
            "rows => rows.map(r => [r.dataset.key, Number(r.querySelector('.volume').dataset.value)])",
        )
    ]


def test_kpis(page, api, ui_server, mode):
    today = datetime.now(UTC).date()
    start = today - timedelta(days=29)
    page.goto(f"{ui_server.root}/ui/kpis.html?from={start}&to={today}&interval=day&fcrDays=7")
    wait_ready(page)

    def report(group_by: str, interval: str = "day") -> dict:
        params = {
            "from": f"{start}T00:00:00Z",
            "to": f"{today + timedelta(days=1)}T00:00:00Z",
            "interval": interval,
            "groupBy": group_by,
            "fcrDays": 7,
        }
        response = api.get("/ihub/v1/analytics/kpis", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    channel, agent, store = report("channel"), report("agent"), report("store")
    assert channel["groups"] and agent["groups"] and store["groups"], "the demo data fills the last 30 days"
    assert page.is_hidden("#empty-store")

    # leaderboards: the top agent and store and their volumes, and the order of the first ten rows
    assert board(page, "agent")[0] == (agent["groups"][0]["key"], agent["groups"][0]["volume"])
    assert board(page, "agent") == [(g["key"], g["volume"]) for g in agent["groups"][:10]]
    assert board(page, "store") == [(g["key"], g["volume"]) for g in store["groups"][:10]]
    top = page.locator(f"#board-agent tr[data-key='{agent['groups'][0]['key']}']")
    for cell, field in ((".aht", "avgHandlingSeconds"), (".fcr", "firstContactResolutionRate")):
        shown = top.locator(cell).get_attribute("data-value")  # empty where the API has null (no customer)
        assert (float(shown) if shown else None) == agent["groups"][0][field], field
    assert page.text_content("#card-agent .value") == agent["groups"][0]["key"]
    assert page.text_content("#card-store .value") == store["groups"][0]["key"]
    if len(agent["groups"]) > 10:
        page.click("[data-toggle=agent]")
        assert board(page, "agent") == [(g["key"], g["volume"]) for g in agent["groups"]]
        page.click("[data-toggle=agent]")  # back to the top ten
        assert len(board(page, "agent")) == 10

    # the volume chart: one line per channel, over the buckets the API returned
    keys = page.eval_on_selector_all("#volume-chart path.series", "ps => ps.map(p => p.dataset.key)")
    assert sorted(keys) == sorted(g["key"] for g in channel["groups"])
    buckets = {s["t"] for g in channel["groups"] for s in g["series"]}
    points = page.eval_on_selector_all(
        "#volume-chart path.series", "ps => ps.map(p => p.getAttribute('d').split(/[ML]/).length - 1)"
    )
    assert set(points) == {len(buckets)}

    # handling time and FCR bars per channel, straight from the response
    for chart, field in (("aht-chart", "avgHandlingSeconds"), ("fcr-chart", "firstContactResolutionRate")):
        bars = page.eval_on_selector_all(
            f"#{chart} g.bar", "gs => gs.map(g => [g.dataset.key, Number(g.dataset.value)])"
        )
        # a channel without a figure (no interaction with a customer: no FCR) has an empty bar
        assert dict(bars) == {g["key"]: g[field] or 0 for g in channel["groups"]}, chart

    # another interval: the chart follows
    page.click("#interval button[data-interval=week]")
    wait_ready(page)
    weekly = report("channel", "week")
    buckets = {s["t"] for g in weekly["groups"] for s in g["series"]}
    points = page.eval_on_selector_all(
        "#volume-chart path.series", "ps => ps.map(p => p.getAttribute('d').split(/[ML]/).length - 1)"
    )
    assert len(points) == len(weekly["groups"]) and set(points) == {len(buckets)}
    page.click("#interval button[data-interval=day]")
    wait_ready(page)

    screenshot(page, "ui-kpis", mode)

    page.click("nav a[href='./']")
    page.wait_for_url("**/ui/")
    wait_ready(page)


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory):
    """A server on a fresh embedded store. What the pages say about an empty store comes from the
    public list, whichever store answers it."""
    server = Server(tmp_path_factory.mktemp("ui-empty-store"), {"IHUB_STORE": "embedded"})
    with running(server, tmp_path_factory.mktemp("ui-empty-worker")):
        yield server


def test_the_root_leads_to_pages_that_say_how_to_fill_an_empty_store(browser, empty_server):
    root = empty_server.root
    with guarded_page(browser, root) as page:
        page.goto(root + "/")
        page.wait_for_url(f"{root}/ui/")
        wait_ready(page)
        hint = page.locator("#empty-store")
        hint.wait_for()  # the customer 360 page learns it from the list of recent interactions
        text = hint.text_content()
        assert "No interactions yet" in text and "make run DEMO=1" in text and "ihub demo" in text and LIST in text
        assert page.is_hidden("#intro")
        # the pages link to the API and its docs (each answers)
        assert page.get_attribute("#empty-store a", "href") == "/docs"
        links = page.eval_on_selector_all("nav.links a", "as => as.map(a => a.getAttribute('href'))")
        assert links == ["/docs", f"{LIST}?limit=20"]
        assert httpx.get(root + links[0]).status_code == 200
        assert httpx.get(root + links[1]).json() == []

        page.goto(f"{root}/ui/kpis.html")
        wait_ready(page)
        assert page.is_visible("#empty-store")
        screenshot(page, "ui-empty-store", "embedded")

        # with one interaction in the period, the hint is gone from both pages
        start = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "reason": "First contact",
            "direction": "inbound",
            "channel": [{"id": "web"}],
            "interactionDate": {"startDateTime": start},
            "relatedParty": [{"id": "cust-first", "role": "customer", "@referredType": "Individual"}],
        }
        assert httpx.post(root + LIST, json=body).status_code == 201
        page.reload()
        wait_ready(page)
        assert page.is_hidden("#empty-store")
        assert page.text_content("#card-channel .value") == "Web"
        page.goto(f"{root}/ui/")
        page.wait_for_selector("#suggestions .chip[data-party='cust-first']")
        assert page.is_hidden("#empty-store") and page.is_visible("#intro")
