"""The development identity provider (Keycloak, realm `ihub`, from `scripts/services up`) issues the tokens
the API expects: issuer, audience, permissions as realm roles, party_id for customers, RS256 keys, and a
console client that cannot do the code flow without PKCE S256.

The expected roles are written out here, not read from the realm file, so a change to the realm that
gives a user or client other permissions fails these tests. Tokens are read without verifying them,
except in the JWKS test, which verifies one with the published key.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from tests.identity import (
    ADMIN,
    AUDIENCE,
    CONSOLE,
    PASSWORDS,
    PUBLISHER,
    SECRETS,
    SELFCARE,
    TokenRefused,
    client_token,
    discovery,
    issuer,
    jwks_url,
    keycloak_url,
    unverified_claims,
    user_token,
)

pytestmark = pytest.mark.integration

READ, WRITE, DELETE = "interaction:read", "interaction:write", "interaction:delete"
MANAGE, ANALYTICS, ERASE, EXPORT = "hub:manage", "analytics:read", "party:erase", "party:export"
PARTIES = "party:manage"
EVERY_PERMISSION = {READ, WRITE, DELETE, MANAGE, ANALYTICS, ERASE, EXPORT, PARTIES}
ACCESS_TOKEN_LIFESPAN_S = 300

# user -> (realm roles in their tokens from the console client, party_id)
USERS: dict[str, tuple[set[str], str | None]] = {
    "csr": ({READ, WRITE, ANALYTICS}, None),
    "supervisor": ({READ, WRITE, DELETE, MANAGE, ANALYTICS}, None),
    "privacy-officer": ({ERASE, EXPORT, READ}, None),
    "customer": ({READ, WRITE}, "cust-42"),
    "customer2": ({READ, WRITE}, "cust-77"),
    "nobody": (set(), None),
}
SERVICE_CLIENTS: dict[str, set[str]] = {PUBLISHER: {WRITE}, ADMIN: EVERY_PERMISSION}
# The self-care app may only ever carry a customer's permissions, whoever signs in to it.
SELFCARE_SCOPE = {READ, WRITE}


def roles(claims: dict[str, Any]) -> set[str]:
    return set(claims.get("realm_access", {}).get("roles", []))


def audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud", [])
    return [aud] if isinstance(aud, str) else list(aud)


def assert_common(claims: dict[str, Any], client: str) -> None:
    assert claims["iss"] == issuer()
    assert AUDIENCE in audiences(claims), claims.get("aud")
    assert claims["azp"] == client
    assert claims["typ"] == "Bearer"
    assert claims["exp"] - claims["iat"] == ACCESS_TOKEN_LIFESPAN_S
    assert claims.get("sub"), "every token names its subject"
    # No Keycloak-internal roles (default-roles-ihub, offline_access, uma_authorization, account):
    # only the API's permissions are in scope for the project's clients.
    assert "resource_access" not in claims, claims.get("resource_access")


def test_issuer_is_the_fixed_development_url() -> None:
    url = keycloak_url()
    assert issuer() == f"{url}/realms/ihub"
    meta = discovery()
    assert meta["issuer"] == issuer()
    assert "S256" in meta["code_challenge_methods_supported"]
    assert "RS256" in meta["id_token_signing_alg_values_supported"]


@pytest.mark.parametrize("username", sorted(USERS))
def test_user_tokens_from_the_console(username: str) -> None:
    expected_roles, party_id = USERS[username]
    claims = unverified_claims(user_token(username))
    assert_common(claims, CONSOLE)
    assert claims["preferred_username"] == username
    assert roles(claims) == expected_roles
    assert claims.get("party_id") == party_id  # only customers act for one party
    if not expected_roles:
        assert "realm_access" not in claims


@pytest.mark.parametrize("username", sorted(USERS))
def test_user_tokens_from_the_selfcare_app(username: str) -> None:
    expected_roles, party_id = USERS[username]
    claims = unverified_claims(user_token(username, client=SELFCARE))
    assert_common(claims, SELFCARE)
    assert roles(claims) == expected_roles & SELFCARE_SCOPE
    assert claims.get("party_id") == party_id


@pytest.mark.parametrize("client_id", sorted(SERVICE_CLIENTS))
def test_service_account_tokens(client_id: str) -> None:
    claims = unverified_claims(client_token(client_id))
    assert_common(claims, client_id)
    assert roles(claims) == SERVICE_CLIENTS[client_id]
    assert "party_id" not in claims
    assert claims["preferred_username"] == f"service-account-{client_id}"


def test_wrong_credentials_are_refused() -> None:
    with pytest.raises(TokenRefused) as refused:
        user_token("csr", password="not-the-password")
    assert refused.value.status == 401 and refused.value.error == "invalid_grant"
    with pytest.raises(TokenRefused) as refused:
        client_token(ADMIN, secret="not-the-secret")
    assert refused.value.status == 401 and refused.value.error == "unauthorized_client"


def test_service_clients_take_no_passwords() -> None:
    answer = httpx.post(
        discovery()["token_endpoint"],
        data={
            "grant_type": "password",
            "client_id": PUBLISHER,
            "client_secret": SECRETS[PUBLISHER],
            "username": "csr",
            "password": PASSWORDS["csr"],
        },
        timeout=10,
    )
    assert answer.status_code in (400, 401), answer.text
    assert answer.json()["error"] == "unauthorized_client"


def test_jwks_has_an_rs256_key_that_verifies_the_tokens() -> None:
    keys = httpx.get(jwks_url(), timeout=10).raise_for_status().json()["keys"]
    signing = [k for k in keys if k.get("use") == "sig" and k.get("alg") == "RS256"]
    assert signing and all(k["kty"] == "RSA" for k in signing), keys
    token = user_token("supervisor")
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"] in {k["kid"] for k in signing}
    key = jwt.PyJWKClient(jwks_url()).get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=issuer())
    assert roles(claims) == USERS["supervisor"][0]


def _authorize(redirect_uri: str, **extra: str) -> httpx.Response:
    params = {
        "client_id": CONSOLE,
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": redirect_uri,
        "state": secrets.token_urlsafe(8),
        **extra,
    }
    return httpx.get(discovery()["authorization_endpoint"], params=params, follow_redirects=False, timeout=10)


def _error(answer: httpx.Response) -> tuple[str, str]:
    assert answer.status_code == 302, answer.status_code
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    return query.get("error", [""])[0], query.get("error_description", [""])[0]


def test_console_code_flow_requires_pkce_s256() -> None:
    redirect = "http://127.0.0.1:8683/ui/"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()

    # Without PKCE: refused, back to the client with invalid_request.
    error, description = _error(_authorize(redirect))
    assert error == "invalid_request" and "code_challenge" in description

    # PKCE "plain": refused too, only S256 is accepted.
    error, description = _error(_authorize(redirect, code_challenge=verifier, code_challenge_method="plain"))
    assert error == "invalid_request", description

    # S256: the login page.
    answer = _authorize(redirect, code_challenge=challenge, code_challenge_method="S256")
    assert answer.status_code == 200 and "kc-form-login" in answer.text


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://127.0.0.1:8683/ui/", "http://127.0.0.1:41999/ui/kpis.html", "http://localhost:9000/ui/"],
)
def test_console_accepts_its_pages_on_any_loopback_port(redirect_uri: str) -> None:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(b"x" * 43).digest()).rstrip(b"=").decode()
    answer = _authorize(redirect_uri, code_challenge=challenge, code_challenge_method="S256")
    assert answer.status_code == 200, answer.text[:300]


@pytest.mark.parametrize("redirect_uri", ["http://127.0.0.1:8683/elsewhere", "http://attacker.example/ui/"])
def test_console_refuses_other_redirects(redirect_uri: str) -> None:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(b"x" * 43).digest()).rstrip(b"=").decode()
    answer = _authorize(redirect_uri, code_challenge=challenge, code_challenge_method="S256")
    assert answer.status_code == 400  # shown by Keycloak, never redirected


@pytest.mark.parametrize("origin", ["http://127.0.0.1:8683", "http://127.0.0.1:41999", "http://localhost:9000"])
def test_console_token_endpoint_answers_the_pages_on_any_loopback_port(origin: str) -> None:
    # The pages exchange their code at the token endpoint from the browser: a cross-origin request
    # that the browser lets the page read only with Access-Control-Allow-Origin for its origin.
    answer = httpx.post(
        discovery()["token_endpoint"],
        data={"grant_type": "password", "client_id": CONSOLE, "username": "csr", "password": PASSWORDS["csr"]},
        headers={"Origin": origin},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers.get("access-control-allow-origin") == origin
