"""Token checks with locally signed tokens: every way a token can be wrong is refused, a right one
gives the permissions its scopes and roles grant, and the key cache behaves through rotation and
outages of the key server."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest

from interaction_hub.settings import Settings
from query_api.auth import (
    ANALYTICS,
    DELETE,
    ERASE,
    EXPORT,
    HUB,
    PUBLIC,
    READ,
    WRITE,
    AccessRules,
    AuthConfigError,
    Authenticator,
    InvalidToken,
    JwksKeys,
    auth_enabled,
)
from tests.tokens import AUDIENCE, ISSUER, JwksServer, Signer, auth_env


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


@pytest.fixture(scope="module")
def authenticator(signer: Signer, tmp_path_factory: pytest.TempPathFactory) -> Authenticator:
    settings = Settings(**_fields(auth_env(signer.write_pem(tmp_path_factory.mktemp("keys")))))
    made = Authenticator.from_settings(settings)
    assert made is not None
    return made


def _fields(env: dict[str, str]) -> dict[str, str]:
    return {name.removeprefix("IHUB_").lower(): value for name, value in env.items()}


def caller_of(authenticator: Authenticator, header: str | None):  # type: ignore[no-untyped-def]  # test helper
    return asyncio.run(authenticator.caller(header))


def refused(authenticator: Authenticator, header: str | None) -> str:
    with pytest.raises(InvalidToken) as info:
        caller_of(authenticator, header)
    return str(info.value)


def test_a_right_token_gives_the_permissions_its_scope_grants(authenticator: Authenticator, signer: Signer) -> None:
    caller = caller_of(authenticator, f"Bearer {signer.token('interaction:read openid profile analytics:read')}")
    assert caller.permissions == {READ, ANALYTICS}
    assert (caller.subject, caller.client, caller.party_id) == ("user-1", "test-client", None)


def test_roles_count_as_permissions_keycloak_and_entra_style(authenticator: Authenticator, signer: Signer) -> None:
    token = signer.token(None, roles=[HUB, "other"], realm_access={"roles": [ERASE, "offline_access"]})
    assert caller_of(authenticator, f"Bearer {token}").permissions == {HUB, ERASE}


def test_the_scheme_is_case_insensitive(authenticator: Authenticator, signer: Signer) -> None:
    assert caller_of(authenticator, f"bearer {signer.token(WRITE)}").permissions == {WRITE}


def test_a_party_claim_scopes_the_caller(authenticator: Authenticator, signer: Signer) -> None:
    assert caller_of(authenticator, f"Bearer {signer.token(READ, party_id='cust-42')}").party_id == "cust-42"


@pytest.mark.parametrize("party", ["", 42, ["cust-42"], "cust 42", "a&b=c", "x" * 257, None])
def test_an_unusable_party_claim_is_refused_not_ignored(authenticator: Authenticator, signer: Signer, party) -> None:  # type: ignore[no-untyped-def]  # parametrised
    refused(authenticator, f"Bearer {signer.token(READ, party_id=party)}")


def _unsigned(claims: dict[str, object], header: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "Token abc",
        "Bearer a b",
    ],
)
def test_missing_or_malformed_credentials_are_refused(authenticator: Authenticator, header: str | None) -> None:
    refused(authenticator, header)


def test_a_huge_header_is_refused_before_any_parsing(authenticator: Authenticator, signer: Signer) -> None:
    assert "too long" in refused(authenticator, "Bearer " + "a" * 20000)


def test_alg_none_is_refused(authenticator: Authenticator) -> None:
    now = int(time.time())
    token = _unsigned({"iss": ISSUER, "aud": AUDIENCE, "exp": now + 60, "scope": READ}, {"alg": "none", "kid": "k1"})
    assert "not accepted" in refused(authenticator, f"Bearer {token}")


def test_an_hmac_token_keyed_with_the_public_key_is_refused(authenticator: Authenticator, signer: Signer) -> None:
    # the classic confusion: HS256 with the server's public key as the shared secret
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 60, "scope": READ}
    unsigned = _unsigned(claims, {"alg": "HS256", "kid": "k1", "typ": "JWT"}).rstrip(".")
    mac = hmac.new(signer.public_pem(), unsigned.encode(), hashlib.sha256).digest()  # PyJWT refuses to forge it
    forged = f"{unsigned}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert "not accepted" in refused(authenticator, f"Bearer {forged}")


def test_a_token_signed_by_another_key_is_refused(authenticator: Authenticator) -> None:
    refused(authenticator, f"Bearer {Signer().token(READ)}")


def test_a_tampered_token_is_refused(authenticator: Authenticator, signer: Signer) -> None:
    head, body, signature = signer.token(READ).split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["scope"] = "interaction:delete"
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    refused(authenticator, f"Bearer {head}.{forged_body}.{signature}")


def test_an_ec_token_against_an_rsa_key_is_refused(authenticator: Authenticator) -> None:
    refused(authenticator, f"Bearer {Signer('EC', kid='k1').token(READ)}")


@pytest.mark.parametrize(
    "claims",
    [
        {"lifetime_s": -120},  # expired beyond the 30 s leeway
        {"nbf": int(time.time()) + 3600},  # not yet valid
        {"iss": "https://evil.example/realms/ihub"},
        {"aud": "another-api"},
        {"aud": ["another-api", "yet-another"]},
        {"drop": ("exp",)},
        {"drop": ("iss",)},
        {"drop": ("aud",)},
    ],
)
def test_wrong_time_issuer_or_audience_is_refused(authenticator: Authenticator, signer: Signer, claims) -> None:  # type: ignore[no-untyped-def]  # parametrised
    refused(authenticator, f"Bearer {signer.token(READ, **claims)}")


def test_a_token_just_expired_within_the_leeway_passes(authenticator: Authenticator, signer: Signer) -> None:
    assert caller_of(authenticator, f"Bearer {signer.token(READ, lifetime_s=-5)}").permissions == {READ}


def test_an_audience_list_naming_us_passes(authenticator: Authenticator, signer: Signer) -> None:
    assert caller_of(authenticator, f"Bearer {signer.token(READ, aud=['account', AUDIENCE])}").permissions == {READ}


def test_unknown_permissions_grant_nothing(authenticator: Authenticator, signer: Signer) -> None:
    assert caller_of(authenticator, f"Bearer {signer.token('admin root interaction:*')}").permissions == frozenset()


# --- settings -----------------------------------------------------------------------------------


def test_no_key_source_on_loopback_is_off() -> None:
    assert auth_enabled(Settings(host="127.0.0.1")) is False
    assert auth_enabled(Settings(host="::1")) is False


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "api.example.com"])
def test_no_key_source_on_the_network_refuses_to_start(host: str) -> None:
    with pytest.raises(AuthConfigError, match="IHUB_AUTH=off"):
        auth_enabled(Settings(host=host))


def test_auth_off_must_be_said_explicitly() -> None:
    assert auth_enabled(Settings(host="0.0.0.0", auth="off")) is False


def test_a_key_source_needs_issuer_and_audience(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="ISSUER"):
        auth_enabled(Settings(auth_public_key_file=Signer().write_pem(tmp_path)))


@pytest.mark.parametrize("algorithms", ["HS256", "none", "RS256,HS512", ""])
def test_only_asymmetric_algorithms_may_be_configured(algorithms: str) -> None:
    with pytest.raises(ValueError, match="algorithms"):
        Settings(auth_algorithms=algorithms)


# --- the permission table -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "permission"),
    [
        ("GET", "/tmf/partyInteraction", READ),
        ("HEAD", "/tmf/partyInteraction", READ),
        ("GET", "/tmf/partyInteraction/abc", READ),
        ("POST", "/tmf/partyInteraction", WRITE),
        ("PATCH", "/tmf/partyInteraction/abc", WRITE),
        ("DELETE", "/tmf/partyInteraction/abc", DELETE),
        ("GET", "/tmf/hub", HUB),
        ("GET", "/tmf/hub/x1", HUB),
        ("POST", "/tmf/hub", HUB),
        ("DELETE", "/tmf/hub/x1", HUB),
        ("GET", "/ihub/v1/parties/cust-42/timeline", READ),
        ("GET", "/ihub/v1/analytics/kpis", ANALYTICS),
        ("DELETE", "/ihub/v1/parties/cust-42", ERASE),
        ("GET", "/ihub/v1/parties/cust-42/export", EXPORT),
        ("GET", "/", PUBLIC),
        ("GET", "/ui/index.html", PUBLIC),
        ("GET", "/docs", PUBLIC),
        ("GET", "/openapi.json", PUBLIC),
        ("GET", "/health/live", PUBLIC),
        ("GET", "/health/ready", PUBLIC),
        ("GET", "/metrics", PUBLIC),
        ("GET", "/health/other", None),
        ("PUT", "/tmf/partyInteraction/abc", None),  # not an endpoint: a valid token, then 405
        ("GET", "/tmf/partyInteraction/abc/more", None),
        ("GET", "/uix/secret", None),
        ("GET", "/ihub/v1/parties/a/b/timeline", None),
    ],
)
def test_each_endpoint_needs_its_permission(method: str, path: str, permission: str | None) -> None:
    assert AccessRules("/tmf", public_docs=True).needed(method, path) == permission


def test_docs_can_need_a_token() -> None:
    assert AccessRules("/tmf", public_docs=False).needed("GET", "/openapi.json") is None


def test_metrics_can_need_a_token() -> None:
    rules = AccessRules("/tmf", public_docs=True, public_metrics=False)
    assert rules.needed("GET", "/metrics") is None
    assert rules.needed("GET", "/health/ready") == PUBLIC


# --- the key cache ----------------------------------------------------------------------------------


def _jwks_authenticator(url: str, *, min_refresh_s: float = 0.0, max_age_s: float = 3600) -> Authenticator:
    settings = Settings(auth_jwks_url=url, auth_issuer=ISSUER, auth_audience=AUDIENCE)
    return Authenticator(settings, JwksKeys(url, min_refresh_s=min_refresh_s, max_age_s=max_age_s, timeout_s=1))


def test_a_rotated_key_is_fetched_when_its_kid_first_appears() -> None:
    old, new = Signer(kid="old"), Signer(kid="new")
    server = JwksServer(old)
    try:
        authenticator = _jwks_authenticator(server.url)

        async def run() -> None:
            assert (await authenticator.caller(f"Bearer {old.token(READ)}")).permissions == {READ}
            server.signers.append(new)
            assert (await authenticator.caller(f"Bearer {new.token(WRITE)}")).permissions == {WRITE}

        asyncio.run(run())
        assert server.fetches == 2
    finally:
        server.stop()


def test_unknown_kids_refetch_at_most_once_per_interval() -> None:
    signer = Signer(kid="known")
    server = JwksServer(signer)
    try:
        authenticator = _jwks_authenticator(server.url, min_refresh_s=60)

        async def run() -> None:
            await authenticator.caller(f"Bearer {signer.token(READ)}")
            for i in range(20):  # an attacker sending made-up kids
                with pytest.raises(InvalidToken):
                    await authenticator.caller(f"Bearer {Signer(kid=f'made-up-{i}').token(READ)}")

        asyncio.run(run())
        assert server.fetches == 1
    finally:
        server.stop()


def test_cached_keys_keep_working_while_the_key_server_is_down() -> None:
    signer = Signer(kid="k")
    server = JwksServer(signer)
    authenticator = _jwks_authenticator(server.url, max_age_s=0.01)

    async def run() -> None:
        assert (await authenticator.caller(f"Bearer {signer.token(READ)}")).permissions == {READ}
        server.stop()
        await asyncio.sleep(0.05)  # the keys are now stale: each use tries a refresh, which fails
        for _ in range(3):
            assert (await authenticator.caller(f"Bearer {signer.token(READ)}")).permissions == {READ}
            await asyncio.sleep(0.02)
        with pytest.raises(InvalidToken):  # a key it never saw cannot be had
            await authenticator.caller(f"Bearer {Signer(kid='other').token(READ)}")

    asyncio.run(run())


def test_a_key_server_that_never_answered_refuses_every_token() -> None:
    server = JwksServer()
    url = server.url
    server.stop()
    authenticator = _jwks_authenticator(url)
    with pytest.raises(InvalidToken):
        asyncio.run(authenticator.caller(f"Bearer {Signer().token(READ)}"))


def test_empty_auth_variables_count_as_unset() -> None:
    # deployment files pass unset settings as empty variables: an empty path must not read as "."
    empty = Settings(auth="", auth_jwks_url="", auth_public_key_file="", auth_issuer="", auth_audience="")
    assert (empty.auth, empty.auth_jwks_url, empty.auth_public_key_file) == (None, None, None)
    assert auth_enabled(empty) is False
    with pytest.raises(AuthConfigError):
        auth_enabled(Settings(host="0.0.0.0", auth="", auth_jwks_url=""))


@pytest.mark.parametrize("content", [None, b"", b"-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n"])
def test_a_missing_or_broken_key_file_is_a_clear_refusal(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "key.pem"
    if content is not None:
        path.write_bytes(content)
    settings = Settings(auth_public_key_file=path, auth_issuer=ISSUER, auth_audience=AUDIENCE)
    with pytest.raises(AuthConfigError, match="PEM public key"):
        Authenticator.from_settings(settings)


# --- tokens already verified ------------------------------------------------------------------------


def test_a_token_known_from_an_earlier_request_is_refused_once_it_expires(signer: Signer, tmp_path: Path) -> None:
    env = {**auth_env(signer.write_pem(tmp_path)), "IHUB_AUTH_LEEWAY_S": "0"}
    authenticator = Authenticator.from_settings(Settings(**_fields(env)))
    assert authenticator is not None
    token = f"Bearer {signer.token(READ, lifetime_s=1)}"

    async def run() -> str:
        assert (await authenticator.caller(token)).permissions == {READ}
        assert (await authenticator.caller(token)).permissions == {READ}  # known now
        await asyncio.sleep(max(0.0, int(time.time()) + 2 - time.time()))  # past its exp, a whole second
        with pytest.raises(InvalidToken) as info:
            await authenticator.caller(token)
        return str(info.value)

    assert asyncio.run(run()) == "ExpiredSignatureError"


def test_a_known_token_is_refused_once_its_key_has_left_the_key_set() -> None:
    old, new = Signer(kid="old"), Signer(kid="new")
    server = JwksServer(old)
    try:
        authenticator = _jwks_authenticator(server.url)
        token = f"Bearer {old.token(READ)}"

        async def run() -> None:
            assert (await authenticator.caller(token)).permissions == {READ}
            server.signers = [new]  # the provider rotated its key and dropped the old one
            await authenticator.keys.refresh()
            with pytest.raises(InvalidToken):
                await authenticator.caller(token)

        asyncio.run(run())
    finally:
        server.stop()
