"""The built-in pages with authentication on, in a real browser against the real identity provider.

Keycloak from scripts/services (IHUB_KEYCLOAK_URL, realm IHUB_KEYCLOAK_REALM; these tests fail when
it is not there) and an `ihub serve` on the embedded store (demo data) that trusts its tokens. A CSR
opens the pages, is sent to Keycloak's login form, signs in (authorization code + PKCE), sees the
same timeline and KPIs the API gives for their token, survives an expired and a refused token, and
signs out, all under the pages' Content-Security-Policy, which lets them reach Keycloak. A user
without permissions sees "not permitted" and no data. Without a token the API answers 401 to every
data call the pages make. Screenshot: artifacts/ui-signed-in.png.
The realm is only read (users and passwords from services/keycloak/ihub-realm.json), never changed.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from interaction_hub.settings import Settings
from query_api.app import create_app
from tests.browser.test_ui import ARTIFACTS, LIST, board, browser, shown_ids, wait_ready, watch_csp
from tests.support.server import IHUB, Server, running

__all__ = ["browser"]  # the Chromium fixture of test_ui.py, shared

ROOT = Path(__file__).resolve().parents[2]
REALM_FILE = ROOT / "services" / "keycloak" / "ihub-realm.json"
AUDIENCE = "interaction-hub"
CLIENT_ID = "ihub-console"
DEMO_EVENTS = 600
TIMELINE = "/ihub/v1/parties/{}/timeline"
KPIS = "/ihub/v1/analytics/kpis"
TOKENS_JS = "JSON.parse(sessionStorage.getItem('ihub.auth.tokens'))"


@dataclass(frozen=True)
class Keycloak:
    url: str
    realm: str

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/{self.realm}"

    @property
    def auth_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/auth?"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    @property
    def netloc(self) -> str:
        return urlsplit(self.url).netloc


def password(username: str) -> str:
    """The user's password, as the realm file sets it."""
    realm = json.loads(REALM_FILE.read_text())
    user = next(u for u in realm["users"] if u["username"] == username)
    return next(c["value"] for c in user["credentials"] if c["type"] == "password")


@pytest.fixture(scope="module")
def keycloak() -> Keycloak:
    url = os.environ.get("IHUB_KEYCLOAK_URL")
    realm = os.environ.get("IHUB_KEYCLOAK_REALM", "ihub")
    if not url:
        pytest.fail(
            "IHUB_KEYCLOAK_URL is not set: start the identity provider with `scripts/services up` and "
            'run the tests with `eval "$(scripts/services env)"`',
            pytrace=False,
        )
    found = Keycloak(url.rstrip("/"), realm)
    try:
        discovery = httpx.get(f"{found.issuer}/.well-known/openid-configuration", timeout=10)
    except httpx.TransportError as exc:
        pytest.fail(f"Keycloak at {found.url} does not answer ({exc}): `scripts/services status`", pytrace=False)
    if discovery.status_code != 200 or discovery.json().get("issuer") != found.issuer:
        pytest.fail(f"{found.issuer} has no OpenID configuration ({discovery.status_code})", pytrace=False)
    return found


@pytest.fixture(scope="module")
def auth_server(keycloak, tmp_path_factory):
    env = {
        "IHUB_STORE": "embedded",
        "IHUB_AUTH": "on",
        "IHUB_AUTH_JWKS_URL": f"{keycloak.issuer}/protocol/openid-connect/certs",
        "IHUB_AUTH_ISSUER": keycloak.issuer,
        "IHUB_AUTH_AUDIENCE": AUDIENCE,
        "IHUB_AUTH_UI_CLIENT_ID": CLIENT_ID,
    }
    server = Server(tmp_path_factory.mktemp("auth-ui-store"), env)
    subprocess.run(
        [
            IHUB,
            "demo",
            "--events",
            str(DEMO_EVENTS),
            "--parties",
            "40",
            "--seed",
            "11",
            "--data-dir",
            str(server.data_dir),
        ],
        env=server.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    with running(server, tmp_path_factory.mktemp("auth-ui-worker")):
        yield server


class Recorder:
    """What a page asked for: every request (method, URL, headers, form body) and every JS error."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], str | None]] = []
        self.errors: list[str] = []
        self.outside: list[str] = []

    def api_calls(self, root: str) -> list[tuple[str, str, dict[str, str], str | None]]:
        return [r for r in self.requests if r[1].startswith((root + "/ihub/", root + "/tmf-api/"))]

    def token_requests(self, keycloak: Keycloak) -> list[dict[str, list[str]]]:
        return [parse_qs(r[3] or "") for r in self.requests if r[0] == "POST" and r[1] == keycloak.token_endpoint]


@pytest.fixture
def page(browser, auth_server, keycloak):
    """A fresh browser profile (no Keycloak session) whose page may reach only the API server and
    Keycloak; requests and errors are recorded."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-GB", timezone_id="UTC")
    page = context.new_page()
    record = Recorder()
    page.record = record
    page.csp_violations = watch_csp(page)
    allowed = {urlsplit(auth_server.root).netloc, keycloak.netloc}

    def on_console(msg) -> None:
        # a status the test provokes on purpose (401, 403, a refused refresh) is logged by the browser
        # as "Failed to load resource"; the tests check those answers themselves
        if msg.type == "error" and not msg.text.startswith("Failed to load resource: the server responded"):
            record.errors.append(f"console.error: {msg.text} ({page.url})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: record.errors.append(f"pageerror: {exc}"))
    page.on("request", lambda req: record.requests.append((req.method, req.url, req.headers, req.post_data)))

    def guard(route) -> None:
        parts = urlsplit(route.request.url)
        if parts.scheme in ("data", "blob") or parts.netloc in allowed:
            route.continue_()
        else:
            record.outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    yield page
    context.close()
    assert not record.errors, f"JavaScript errors: {record.errors}"
    assert not page.csp_violations, f"Content-Security-Policy violations: {page.csp_violations}"
    assert not record.outside, f"the page tried to load from elsewhere: {record.outside}"


def sign_in(page, keycloak: Keycloak, root: str, username: str, path: str = "/ui/") -> None:
    """Open `path`, be sent to Keycloak's login form, sign in, and be back on `path`, signed in."""
    page.goto(f"{root}{path}")
    page.wait_for_url(lambda url: url.startswith(keycloak.auth_endpoint))
    query = parse_qs(urlsplit(page.url).query)
    assert query["response_type"] == ["code"] and query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"{root}{path}"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 16 and len(query["nonce"][0]) >= 16
    page.fill("#username", username)
    page.fill("#password", password(username))
    page.click("#kc-login")
    page.wait_for_url(lambda url: url.startswith(f"{root}{path}"))
    page.wait_for_selector("#auth-user, #auth-status", timeout=15_000)
    if page.locator("#auth-status").count():
        pytest.fail(f"signing in failed: {page.text_content('#auth-status')}", pytrace=False)
    wait_ready(page)
    # the code and state are gone from the address bar; the tokens are in this tab's sessionStorage only
    assert not {"code", "state", "session_state", "iss"} & set(parse_qs(urlsplit(page.url).query))
    assert page.evaluate(TOKENS_JS)["accessToken"]
    assert page.evaluate("localStorage.length") == 0


def access_token(page) -> str:
    return page.evaluate(TOKENS_JS)["accessToken"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_csr_signs_in_sees_data_and_signs_out(page, auth_server, keycloak):
    root = auth_server.root
    record = page.record
    sign_in(page, keycloak, root, "csr")
    assert page.text_content("#auth-user") == "Casey Agent"
    assert page.locator(".np-badge").count() == 0 and page.locator("#not-permitted").count() == 0

    # the code went to the token endpoint with its verifier and without any secret
    (exchange,) = record.token_requests(keycloak)
    assert exchange["grant_type"] == ["authorization_code"] and exchange["client_id"] == [CLIENT_ID]
    assert len(exchange["code_verifier"][0]) == 43 and "client_secret" not in exchange
    assert exchange["redirect_uri"] == [f"{root}/ui/"]

    token = access_token(page)
    api = httpx.Client(base_url=root, timeout=30, headers=bearer(token))
    everything = api.get(LIST, params={"fields": "relatedParty"})
    assert everything.status_code == 200, everything.text
    counts = Counter(
        p["id"]
        for item in everything.json()
        for p in item.get("relatedParty", [])
        if p.get("role") not in ("agent", "store")
    )
    party, count = counts.most_common(1)[0]

    # the suggestions came from the API with the token
    page.wait_for_selector("#suggestions .chip")
    calls = record.api_calls(root)
    assert calls and all(headers.get("authorization") == f"Bearer {token}" for _, _, headers, _ in calls)

    # search a customer: the same items the API gives this token
    page.fill("#party-input", party)
    page.click("#finder button[type=submit]")
    wait_ready(page)
    timeline = api.get(TIMELINE.format(party), params={"limit": 20})
    assert timeline.status_code == 200, timeline.text
    assert shown_ids(page) == [item["id"] for item in timeline.json()["items"]]
    assert page.text_content("#total") == str(count)
    page.click("#timeline .tl-item:first-child .tl-summary")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-signed-in.png"), full_page=True)

    # the KPI page, in the same tab: no new sign-in, figures as the API gives them
    page.click("nav a[href='kpis.html']")
    page.wait_for_url(lambda url: url.startswith(f"{root}/ui/kpis.html"))
    wait_ready(page)
    assert page.text_content("#auth-user") == "Casey Agent"
    assert len(record.token_requests(keycloak)) == 1
    today = datetime.now(UTC).date()
    report = api.get(
        KPIS,
        params={
            "from": f"{today - timedelta(days=29)}T00:00:00Z",
            "to": f"{today + timedelta(days=1)}T00:00:00Z",
            "interval": "day",
            "groupBy": "agent",
            "fcrDays": 7,
        },
    )
    assert report.status_code == 200, report.text
    agents = report.json()["groups"]
    assert agents, "the demo data fills the last 30 days"
    assert board(page, "agent") == [(g["key"], g["volume"]) for g in agents[:10]]
    assert page.text_content("#card-agent .value") == agents[0]["key"]

    # an access token about to expire is refreshed before the next call, without leaving the page
    page.evaluate(
        f"(() => {{ const t = {TOKENS_JS}; t.expiresAt = Date.now() / 1000; "
        "sessionStorage.setItem('ihub.auth.tokens', JSON.stringify(t)); })()"
    )
    page.click("#refresh")
    wait_ready(page)
    assert [r["grant_type"][0] for r in record.token_requests(keycloak)] == ["authorization_code", "refresh_token"]
    refreshed = access_token(page)
    assert refreshed != token and httpx.get(root + KPIS, headers=bearer(refreshed), timeout=10).status_code == 200
    assert record.api_calls(root)[-1][2].get("authorization") == f"Bearer {refreshed}"

    # a token the API refuses (401), and a refresh token Keycloak refuses: signed in again (the
    # Keycloak session still holds, so no form), back on the same page with its parameters
    page.evaluate(
        f"(() => {{ const t = {TOKENS_JS}; t.accessToken = t.accessToken.slice(0, -4) + 'AAAA'; "
        "t.refreshToken = 'refused'; t.obtainedAt = Date.now() / 1000 - 120; "
        "sessionStorage.setItem('ihub.auth.tokens', JSON.stringify(t)); })()"
    )
    before = page.url
    with (
        page.expect_request(lambda r: r.url.startswith(keycloak.auth_endpoint)),
        page.expect_response(
            lambda r: r.url == keycloak.token_endpoint and "authorization_code" in r.request.post_data
        ),
    ):
        page.click("#refresh")
    page.wait_for_selector("#auth-user")
    wait_ready(page)
    assert page.url == before
    assert [r["grant_type"][0] for r in record.token_requests(keycloak)][-2:] == ["refresh_token", "authorization_code"]
    again = access_token(page)
    assert again not in (token, refreshed)
    assert board(page, "agent") == [(g["key"], g["volume"]) for g in agents[:10]]

    # sign out: Keycloak ends the session and sends the browser back; the page asks before signing in
    refresh_token = page.evaluate(TOKENS_JS)["refreshToken"]
    page.click("#sign-out")
    page.wait_for_url(f"{root}/ui/kpis.html")
    page.wait_for_selector("body[data-state=signed-out]")
    assert "signed out" in page.text_content("#auth-status")
    assert page.evaluate(TOKENS_JS) is None
    assert page.locator("#auth-user").count() == 0
    logout = next(r[1] for r in record.requests if r[1].startswith(f"{keycloak.issuer}/protocol/openid-connect/logout"))
    logout_query = parse_qs(urlsplit(logout).query)
    assert logout_query["post_logout_redirect_uri"] == [f"{root}/ui/kpis.html"] and logout_query["id_token_hint"]
    # the Keycloak session is over: signing in again needs the form
    page.click("#sign-in")
    page.wait_for_url(lambda url: url.startswith(keycloak.auth_endpoint))
    page.wait_for_selector("#username")
    # and the signed-out session's refresh token is refused
    ended = httpx.post(
        keycloak.token_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": CLIENT_ID},
        timeout=10,
    )
    assert ended.status_code == 400 and ended.json()["error"] == "invalid_grant", ended.text


def test_user_without_permissions_sees_not_permitted(page, auth_server, keycloak):
    root = auth_server.root
    record = page.record
    sign_in(page, keycloak, root, "nobody")
    assert page.text_content("#auth-user") == "No Roles"

    # customer 360: a clear message, no search, no data, and no call the API would refuse
    message = page.text_content("#not-permitted")
    assert "Not permitted" in message and "interaction:read" in message
    assert not page.is_visible("#finder") and not page.is_visible("#workspace")
    assert page.locator("#suggestions .chip").count() == 0 and page.locator("#timeline .tl-item").count() == 0
    kpi_link = page.locator("nav a[href='kpis.html']")
    assert "not permitted" in kpi_link.text_content()

    # the KPI page says so too, without figures
    kpi_link.click()
    page.wait_for_url(lambda url: url.startswith(f"{root}/ui/kpis.html"))
    wait_ready(page)
    message = page.text_content("#not-permitted")
    assert "Not permitted" in message and "analytics:read" in message
    assert not page.is_visible("#cards") and page.locator("#board-agent tr").count() == 0
    assert record.api_calls(root) == []

    # were the page to call the API anyway, its 403 is shown as a clear message
    shown = page.evaluate(
        """async () => {
            const { getJson, showError } = await import('/ui/charts.js');
            try { await getJson('/ihub/v1/analytics/kpis'); return null; }
            catch (err) { showError(err.message); return err.message; }
        }"""
    )
    assert shown == "Not permitted: your account does not have the analytics:read permission"
    (call,) = record.api_calls(root)
    assert call[2].get("authorization", "").startswith("Bearer ")
    assert httpx.get(root + KPIS, headers=bearer(access_token(page)), timeout=10).status_code == 403

    page.click("#sign-out")
    page.wait_for_selector("body[data-state=signed-out]")


def test_the_pages_run_under_their_policy_with_the_provider_allowed(page, auth_server, keycloak):
    root = auth_server.root
    provider = f"{urlsplit(keycloak.url).scheme}://{keycloak.netloc}"
    for path in ("/ui/", "/ui/kpis.html"):
        headers = httpx.get(root + path, timeout=10).headers
        assert headers["content-security-policy"] == (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            f"connect-src 'self' {provider}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        ), path
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    # the docs page reaches this server only, whether or not the pages sign in
    assert "connect-src 'self';" in httpx.get(root + "/docs", timeout=10).headers["content-security-policy"]

    # signing in (discovery, the code exchange at the token endpoint) and both pages: nothing refused
    sign_in(page, keycloak, root, "csr")
    page.wait_for_selector("#suggestions .chip")
    page.click("nav a[href='kpis.html']")
    page.wait_for_url(lambda url: url.startswith(f"{root}/ui/kpis.html"))
    wait_ready(page)
    assert page.locator("#board-agent tbody tr[data-key]").count() > 0
    assert page.csp_violations == []
    assert len(page.record.token_requests(keycloak)) == 1


def test_data_calls_need_a_token(auth_server, keycloak):
    root = auth_server.root
    # the pages and their sign-in settings are public; they hold no secret
    for path in ("/ui/", "/ui/kpis.html", "/ui/auth.js", "/ui/app.js", "/ui/kpis.js", "/ui/charts.js"):
        assert httpx.get(root + path, timeout=10).status_code == 200, path
    config = httpx.get(root + "/ui/auth.json", timeout=10)
    assert config.status_code == 200 and config.headers["cache-control"] == "no-store"
    body = config.json()
    assert body["enabled"] is True and body["issuer"] == keycloak.issuer and body["clientId"] == CLIENT_ID
    assert not any("secret" in key.lower() for key in body)
    assert "/ui/auth.json" not in httpx.get(root + "/openapi.json", timeout=10).json()["paths"]

    # every data call the pages make answers 401 without a token, and with a bad one
    today = datetime.now(UTC).date()
    calls = [
        (LIST, {"sort": "-interactionDate.startDateTime", "limit": "60", "fields": "relatedParty"}),
        (TIMELINE.format("cust-42"), {"limit": "20"}),
        (KPIS, {"from": f"{today - timedelta(days=29)}T00:00:00Z", "to": f"{today}T00:00:00Z", "groupBy": "agent"}),
    ]
    for path, params in calls:
        for headers in ({}, {"Authorization": "Bearer not.a.token"}):
            response = httpx.get(root + path, params=params, headers=headers, timeout=10)
            assert response.status_code == 401, (path, headers, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_auth_json_when_auth_is_off(tmp_path):
    from fastapi.testclient import TestClient

    app = create_app(Settings(auth="off", store="embedded", data_dir=tmp_path))
    with TestClient(app) as client:
        response = client.get("/ui/auth.json")
        assert response.status_code == 200
        assert response.json() == {"enabled": False}
        assert client.get("/ui/").status_code == 200  # the pages themselves are still served
