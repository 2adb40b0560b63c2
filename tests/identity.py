"""The development identity provider for tests: Keycloak from `scripts/services`, realm `ihub`.

`eval "$(scripts/services env)"` sets IHUB_KEYCLOAK_URL (and IHUB_KEYCLOAK_REALM). Without it, or when
Keycloak does not answer, `keycloak_url()` fails the test with a message saying how to start it: a test
that needs the identity provider fails, it is never skipped.

The users, clients, passwords and secrets are those of the realm Keycloak imports,
services/keycloak/ihub-realm.json, read from that file (the one place they are written). They are fixed
development values, public in this repository: never use that realm anywhere else.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

ROOT = Path(__file__).resolve().parents[1]
REALM_FILE = ROOT / "services" / "keycloak" / "ihub-realm.json"
AUDIENCE = "interaction-hub"

CONSOLE = "ihub-console"  # public: the built-in CSR pages (code + PKCE S256), password grant for tests
SELFCARE = "ihub-selfcare"  # public: acts for one customer, tokens carry party_id
PUBLISHER = "ihub-publisher"  # confidential, service account with interaction:write
ADMIN = "ihub-admin"  # confidential, service account with every permission

TIMEOUT_S = 10.0


def _realm_file() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REALM_FILE.read_text(encoding="utf-8"))
    return data


def _passwords(realm: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for user in realm.get("users", []):
        for credential in user.get("credentials", []):
            if credential.get("type") == "password":
                found[user["username"]] = credential["value"]
    return found


def _secrets(realm: dict[str, Any]) -> dict[str, str]:
    return {c["clientId"]: c["secret"] for c in realm.get("clients", []) if not c.get("publicClient") and "secret" in c}


_REALM = _realm_file()
REALM_NAME: str = _REALM["realm"]
PASSWORDS: dict[str, str] = _passwords(_REALM)  # username -> development password
SECRETS: dict[str, str] = _secrets(_REALM)  # confidential client id -> development secret


class TokenRefused(AssertionError):
    """Keycloak answered a token request with an error (wrong password, grant not allowed, ...)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"token request refused ({status}): {body}")
        self.status = status
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {}
        self.error: str | None = parsed.get("error") if isinstance(parsed, dict) else None


def realm_name() -> str:
    return os.environ.get("IHUB_KEYCLOAK_REALM") or REALM_NAME


@cache
def _discovery(url: str, realm: str) -> dict[str, Any]:
    where = f"{url}/realms/{realm}/.well-known/openid-configuration"
    try:
        answer = httpx.get(where, timeout=TIMEOUT_S)
    except httpx.TransportError as exc:
        pytest.fail(
            f"Keycloak at {url} does not answer ({exc!r}): start it with `scripts/services up` "
            "(`scripts/services status` says what runs)",
            pytrace=False,
        )
    if answer.status_code != 200:
        pytest.fail(f"{where} answered {answer.status_code}: is realm {realm!r} imported?", pytrace=False)
    document: dict[str, Any] = answer.json()
    return document


def keycloak_url() -> str:
    """Keycloak's base URL (IHUB_KEYCLOAK_URL), once it is known to serve the realm; else the test fails."""
    url = os.environ.get("IHUB_KEYCLOAK_URL", "").rstrip("/")
    if not url:
        pytest.fail(
            "IHUB_KEYCLOAK_URL is not set: start the identity provider with `scripts/services up` and run "
            'the tests after `eval "$(scripts/services env)"`',
            pytrace=False,
        )
    _discovery(url, realm_name())
    return url


def discovery() -> dict[str, Any]:
    """The realm's OpenID Provider metadata (/.well-known/openid-configuration)."""
    return _discovery(keycloak_url(), realm_name())


def issuer() -> str:
    """The `iss` of the realm's tokens: <IHUB_KEYCLOAK_URL>/realms/<realm>."""
    return f"{keycloak_url()}/realms/{realm_name()}"


def jwks_url() -> str:
    """Where the realm publishes its token-signing keys (what IHUB_AUTH_JWKS_URL would be)."""
    return str(discovery()["jwks_uri"])


def token_endpoint() -> str:
    return str(discovery()["token_endpoint"])


def _token(form: dict[str, str]) -> str:
    answer = httpx.post(token_endpoint(), data=form, timeout=TIMEOUT_S)
    if answer.status_code != 200:
        raise TokenRefused(answer.status_code, answer.text)
    token: str = answer.json()["access_token"]
    return token


def user_token(username: str, password: str | None = None, client: str = CONSOLE) -> str:
    """An access token for a realm user (password grant through a public client). The password
    defaults to the user's development password from the realm file."""
    if password is None:
        if username not in PASSWORDS:
            raise KeyError(f"{username!r} is not a user of {REALM_FILE.name} (users: {', '.join(PASSWORDS)})")
        password = PASSWORDS[username]
    return _token({"grant_type": "password", "client_id": client, "username": username, "password": password})


def client_token(client_id: str, secret: str | None = None) -> str:
    """An access token for a confidential client's service account (client credentials grant). The
    secret defaults to the client's development secret from the realm file."""
    if secret is None:
        if client_id not in SECRETS:
            raise KeyError(f"{client_id!r} is no confidential client of {REALM_FILE.name} ({', '.join(SECRETS)})")
        secret = SECRETS[client_id]
    return _token({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})


def unverified_claims(token: str) -> dict[str, Any]:
    """A token's claims, read without checking anything (for looking at what Keycloak put in it)."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


if __name__ == "__main__":
    # `python -m tests.identity client-token ihub-admin` prints a token (scripts/run-ctk's CTK_TOKEN_CMD)
    import sys

    if len(sys.argv) != 3 or sys.argv[1] != "client-token":
        sys.exit("usage: python -m tests.identity client-token <confidential client id>")
    print(client_token(sys.argv[2]))
