"""Who is calling, and what they may do: OAuth2 bearer tokens (JWT access tokens, RFC 9068) checked
offline against the identity provider's keys, and the one table of which permission each endpoint
needs.

- A token is accepted when its signature verifies with a key of the provider (a JWKS URL, or a PEM
  public key for sites without one) under an asymmetric algorithm of `IHUB_AUTH_ALGORITHMS`, it has
  not expired (`exp`, `nbf`, with `IHUB_AUTH_LEEWAY_S`), and `iss` and `aud` are ours. Anything else
  is a 401 that says no more than "invalid token".
- Permissions come from the token's scopes (`scope`, space-separated) and role lists (`roles`,
  Keycloak's `realm_access.roles`); the claim names are settings.
- A token with a party claim (`party_id`) acts for that one customer: the routes restrict every read
  and write to interactions whose relatedParty names it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from interaction_hub.settings import ASYMMETRIC_ALGORITHMS, Settings

log = logging.getLogger(__name__)

READ, WRITE, DELETE = "interaction:read", "interaction:write", "interaction:delete"
HUB, ANALYTICS = "hub:manage", "analytics:read"
ERASE, EXPORT, PARTIES = "party:erase", "party:export", "party:manage"
INGEST = "ingest:write"
PERMISSIONS = frozenset({READ, WRITE, DELETE, HUB, ANALYTICS, ERASE, EXPORT, PARTIES, INGEST})
PUBLIC = ""  # an endpoint anyone may call (subject to settings)

# The one table: which permission each endpoint needs. `{base}` is the TMF683 base path, `{v5}`
# the TMF683 v5 one, `*` one path segment. A path not listed still needs a valid token (it then
# answers 404 or 405).
ACCESS_RULES: tuple[tuple[str, str, str], ...] = (
    ("GET", "{base}/partyInteraction", READ),
    ("GET", "{base}/partyInteraction/*", READ),
    ("POST", "{base}/partyInteraction", WRITE),
    ("PATCH", "{base}/partyInteraction/*", WRITE),
    ("DELETE", "{base}/partyInteraction/*", DELETE),
    ("GET", "{base}/hub", HUB),
    ("GET", "{base}/hub/*", HUB),
    ("POST", "{base}/hub", HUB),
    ("DELETE", "{base}/hub/*", HUB),
    ("GET", "{v5}/partyInteraction", READ),
    ("GET", "{v5}/partyInteraction/*", READ),
    ("POST", "{v5}/partyInteraction", WRITE),
    ("PATCH", "{v5}/partyInteraction/*", WRITE),
    ("DELETE", "{v5}/partyInteraction/*", DELETE),
    ("GET", "{v5}/hub", HUB),
    ("GET", "{v5}/hub/*", HUB),
    ("POST", "{v5}/hub", HUB),
    ("DELETE", "{v5}/hub/*", HUB),
    ("GET", "/ihub/v1/parties/*/timeline", READ),
    ("GET", "/ihub/v1/analytics/kpis", ANALYTICS),
    ("DELETE", "/ihub/v1/parties/*", ERASE),
    ("GET", "/ihub/v1/parties/*/export", EXPORT),
    ("GET", "/ihub/v1/parties", READ),
    ("GET", "/ihub/v1/parties/*/contactMedium", READ),
    ("PUT", "/ihub/v1/parties/*/contactMedium", PARTIES),
    ("POST", "/ihub/v1/parties/*/merge", PARTIES),
    ("GET", "/ihub/v1/sharedContacts", PARTIES),
    # checked by the ingress itself, after a vendor's signature or a source's key (INGEST_PATHS)
    ("POST", "/ingest/v1/sources/*", INGEST),
)
# Channel systems authenticate as their vendor can (a signature, a key, Basic credentials), or with
# a bearer token granting INGEST: the ingress route decides (query_api/routes/ingest.py).
INGEST_PATHS = "/ingest/v1/sources/"
# Served to anyone: the built-in pages' files (their data comes from the API, with a token) and,
# unless IHUB_AUTH_PUBLIC_DOCS is off, the API description.
DOCS_PATHS = ("/docs", "/docs/", "/openapi.json")
DOCS_PREFIXES = ("/docs/",)
# Kubernetes' probes carry no token; /metrics is public unless IHUB_METRICS_PUBLIC is off (then any valid token)
HEALTH_PATHS = ("/health/live", "/health/ready")
METRICS_PATH = "/metrics"

MAX_TOKEN_CHARS = 16 * 1024
_KNOWN_TOKENS = 10_000  # verified tokens kept (Authenticator.caller): ~20 MB for tokens of 2 KB
# what a token's party claim may hold: it goes into queries and URLs without any escaping
PARTY_ID = re.compile(r"[A-Za-z0-9._~:@-]{1,256}")
MAX_JWKS_BYTES = 1024 * 1024
# the kind of key each accepted algorithm verifies with
_ALGORITHM_KEYS: dict[str, type] = {
    alg: ec.EllipticCurvePublicKey if alg.startswith("ES") else rsa.RSAPublicKey for alg in ASYMMETRIC_ALGORITHMS
}


class InvalidToken(Exception):
    """The request's credentials are missing or not acceptable (-> 401). The message is for the
    server's log only; clients are told no more than "invalid token"."""


class AuthConfigError(ValueError):
    """Settings that would serve customer data to the network unprotected, or cannot work."""


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str | None  # `sub`; None when auth is off
    client: str | None  # `azp` or `client_id`: the application acting
    permissions: frozenset[str]
    party_id: str | None = None  # set: acts for this customer only

    def may(self, permission: str) -> bool:
        return permission in self.permissions


ANONYMOUS = Caller(None, None, PERMISSIONS)
"""Everyone, when auth is off (on a loopback address, or with IHUB_AUTH=off)."""


# --- settings -> mode ---------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def auth_enabled(settings: Settings) -> bool:
    """Whether requests need a token. Refuses (AuthConfigError) settings that would expose the API
    to the network without one, or that name a key source but not whom to trust."""
    has_keys = bool(settings.auth_jwks_url or settings.auth_public_key_file)
    if settings.auth == "off":
        return False
    if has_keys:
        if not settings.auth_issuer or not settings.auth_audience:
            raise AuthConfigError("IHUB_AUTH_ISSUER and IHUB_AUTH_AUDIENCE are needed with a key source")
        return True
    if settings.auth == "on" or not is_loopback(settings.host):
        raise AuthConfigError(
            f"no token key source (IHUB_AUTH_JWKS_URL or IHUB_AUTH_PUBLIC_KEY_FILE) and {settings.host} is not "
            "a loopback address: anyone who reaches it could read and delete every customer's history. "
            "Set a key source, or IHUB_AUTH=off to serve without authentication anyway"
        )
    return False


def describe(settings: Settings) -> str:
    """One line for the start-up log on how requests are authenticated."""
    if auth_enabled(settings):
        source = settings.auth_jwks_url or settings.auth_public_key_file
        return f"auth on: bearer tokens from {settings.auth_issuer} for {settings.auth_audience} (keys: {source})"
    if settings.auth == "off":
        return f"WARNING: auth is off (IHUB_AUTH=off): anyone reaching {settings.host} may read and change everything"
    return f"auth off: no token key source, so serving on the loopback address {settings.host} only"


# --- keys ------------------------------------------------------------------------------------


class PemKey:
    """One public key from a PEM file: for sites that cannot reach the provider's JWKS."""

    def __init__(self, path: Path) -> None:
        try:
            key = load_pem_public_key(path.read_bytes())
        except (OSError, ValueError, TypeError) as exc:
            raise AuthConfigError(f"{path}: not a readable PEM public key ({type(exc).__name__})") from None
        if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise AuthConfigError(f"{path}: not an RSA or EC public key")
        self.key = key

    async def key_for(self, kid: str | None, algorithm: str) -> Any:
        if not isinstance(self.key, _ALGORITHM_KEYS[algorithm]):
            raise InvalidToken(f"{algorithm} does not go with the configured key")
        return self.key

    async def start(self) -> None:
        return None


class JwksKeys:
    """The provider's signing keys from its JWKS URL, cached. An unknown `kid` (a rotated key)
    fetches the set again, at most once per `min_refresh_s`; keys older than `max_age_s` are
    refreshed in the background. When the provider cannot be reached, cached keys keep working."""

    def __init__(self, url: str, *, min_refresh_s: float, max_age_s: float, timeout_s: float = 3.0) -> None:
        self.url = url
        self.min_refresh_s = min_refresh_s
        self.max_age_s = max_age_s
        self.timeout_s = timeout_s
        self._keys: dict[str | None, tuple[jwt.PyJWK, str | None]] = {}  # kid -> (key, its declared alg)
        self._fetched_at = -float("inf")  # time.monotonic() of the last successful fetch
        self._tried_at = -float("inf")
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.refresh()
        if not self._keys:
            log.warning("auth: no keys from %s yet; tokens are refused until it answers", self.url)

    async def key_for(self, kid: str | None, algorithm: str) -> Any:
        found = self._lookup(kid)
        if found is None:
            await self.refresh()
            found = self._lookup(kid)
        elif time.monotonic() - self._fetched_at > self.max_age_s and self._background is None:
            self._background = asyncio.create_task(self._refresh_in_background())
        if found is None:
            raise InvalidToken(f"no key with kid {kid!r}")
        key, declared = found
        # a key that names its algorithm verifies only that one; one that does not, its family
        if (declared or algorithm) != algorithm or not isinstance(key.key, _ALGORITHM_KEYS[algorithm]):
            raise InvalidToken(f"key {kid!r} is not for {algorithm}")
        return key.key

    def _lookup(self, kid: str | None) -> tuple[jwt.PyJWK, str | None] | None:
        if kid is None:  # a token without kid: only unambiguous with a single key
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh_in_background(self) -> None:
        try:
            await self.refresh()
        finally:
            self._background = None

    async def refresh(self) -> None:
        """Fetch the key set again, unless that was tried less than `min_refresh_s` ago."""
        async with self._lock:
            if time.monotonic() - self._tried_at < self.min_refresh_s:
                return
            self._tried_at = time.monotonic()
            try:
                keys = await self._fetch()
            except Exception as exc:  # any failure of the provider: keep what we have
                log.warning("auth: could not refresh keys from %s: %s", self.url, type(exc).__name__)
                return
            self._keys = keys
            self._fetched_at = time.monotonic()

    async def _fetch(self) -> dict[str | None, tuple[jwt.PyJWK, str | None]]:
        async with (
            httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client,
            client.stream("GET", self.url, headers={"Accept": "application/json"}) as response,
        ):
            response.raise_for_status()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError("key set larger than 1 MiB")
        document = orjson.loads(body)
        keys: dict[str | None, tuple[jwt.PyJWK, str | None]] = {}
        for data in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(data, dict) or data.get("use", "sig") != "sig" or data.get("kty") not in ("RSA", "EC"):
                continue
            declared = data.get("alg")
            if declared is not None and declared not in ASYMMETRIC_ALGORITHMS:
                continue
            try:
                keys[data.get("kid")] = (jwt.PyJWK(data), declared)
            except jwt.PyJWTError:
                continue  # a key of a kind this server does not take
        return keys


# --- tokens -> callers -------------------------------------------------------------------------


class Authenticator:
    def __init__(self, settings: Settings, keys: PemKey | JwksKeys) -> None:
        self.keys = keys
        self.issuer = settings.auth_issuer
        self.audience = settings.auth_audience
        self.algorithms = list(settings.auth_algorithms)
        self.leeway = settings.auth_leeway_s
        self.scope_claim = settings.auth_scope_claim
        self.role_claims = [claim.split(".") for claim in settings.auth_role_claims]
        self.party_claim = settings.auth_party_claim
        # Authorization header -> (its token's caller and `exp`, kid, alg, the key that verified it)
        self._verified: dict[str, tuple[Caller, int, str | None, str, Any]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator | None:
        """None when auth is off."""
        if not auth_enabled(settings):
            return None
        keys: PemKey | JwksKeys
        if settings.auth_public_key_file:
            keys = PemKey(settings.auth_public_key_file)
        else:
            assert settings.auth_jwks_url is not None
            keys = JwksKeys(
                settings.auth_jwks_url,
                min_refresh_s=settings.auth_jwks_min_refresh_s,
                max_age_s=settings.auth_jwks_max_age_s,
            )
        return cls(settings, keys)

    async def caller(self, authorization: str | None) -> Caller:
        """The caller an Authorization header names; InvalidToken if it names none acceptably.

        Checking a token's signature costs far more than answering a read, and a client sends the
        same token with every request until it expires: a token verified once is known until
        then, as long as the key that verified it is still the one its header names (a refreshed
        key set holds new key objects, so its tokens are checked again)."""
        # known by the whole header, which holds nothing but the token: no parsing on a hit
        header = authorization or ""
        known = self._verified.get(header)
        if known is not None:
            caller, expires, kid, algorithm, key = known
            if time.time() - self.leeway < expires and await self.keys.key_for(kid, algorithm) is key:
                return caller
            self._verified.pop(header, None)  # a request with the same header may have dropped it meanwhile
        claims, kid, algorithm, key = await self._verify(bearer_token(authorization))
        caller = Caller(
            subject=_text(claims.get("sub")),
            client=_text(claims.get("azp")) or _text(claims.get("client_id")),
            permissions=self.permissions(claims),
            party_id=self.party(claims),
        )
        if len(self._verified) >= _KNOWN_TOKENS:
            del self._verified[next(iter(self._verified))]  # the longest known
        # its `exp` as jwt.decode read it, compared as jwt.decode compares it (above)
        self._verified[header] = (caller, int(claims["exp"]), kid, algorithm, key)
        return caller

    async def claims(self, token: str) -> dict[str, Any]:
        """A token's claims once its signature and its `exp`, `nbf`, `iss` and `aud` are checked."""
        return (await self._verify(token))[0]

    async def _verify(self, token: str) -> tuple[dict[str, Any], str | None, str, Any]:
        """(the claims, the header's kid and alg, the key that verified them)"""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token ({type(exc).__name__})") from None
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:  # `none` and every HMAC algorithm are never in the list
            raise InvalidToken(f"algorithm {algorithm!r} not accepted")
        kid = header.get("kid")
        kid = kid if isinstance(kid, str) else None
        key = await self.keys.key_for(kid, algorithm)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken(type(exc).__name__) from None
        return claims, kid, algorithm, key

    def permissions(self, claims: dict[str, Any]) -> frozenset[str]:
        granted: set[str] = set()
        scope = claims.get(self.scope_claim)
        if isinstance(scope, str):
            granted.update(scope.split())
        elif isinstance(scope, list):
            granted.update(s for s in scope if isinstance(s, str))
        for path in self.role_claims:
            roles = _at(claims, path)
            if isinstance(roles, list):
                granted.update(r for r in roles if isinstance(r, str))
        return frozenset(granted & PERMISSIONS)

    def party(self, claims: dict[str, Any]) -> str | None:
        if self.party_claim not in claims:
            return None
        party = claims[self.party_claim]
        # present but unusable: refused rather than taken as "no restriction"
        if not isinstance(party, str) or not PARTY_ID.fullmatch(party):
            raise InvalidToken(f"claim {self.party_claim} is not a party id")
        return party


_BEARER = re.compile(r"Bearer +([A-Za-z0-9\-._~+/]+=*) *", re.IGNORECASE)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise InvalidToken("no bearer token")
    if len(authorization) > MAX_TOKEN_CHARS:
        raise InvalidToken("token too long")
    match = _BEARER.fullmatch(authorization)
    if match is None:
        raise InvalidToken("not a bearer token")
    return match.group(1)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _at(claims: dict[str, Any], path: Iterable[str]) -> Any:
    value: Any = claims
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


# --- endpoints -> permissions ------------------------------------------------------------------


class AccessRules:
    """ACCESS_RULES for the base paths (v4's, and v5's unless None), matched against a request's
    method and path."""

    def __init__(
        self, base_path: str, base_path_v5: str | None = None, *, public_docs: bool, public_metrics: bool = True
    ) -> None:
        self.rules = [
            (
                method,
                re.compile(
                    "^" + re.escape(pattern.format(base=base_path, v5=base_path_v5)).replace(r"\*", "[^/]+") + "/?$"
                ),
                perm,
            )
            for method, pattern, perm in ACCESS_RULES
            if base_path_v5 is not None or "{v5}" not in pattern
        ]
        self.public_docs = public_docs
        self.public_metrics = public_metrics

    def needed(self, method: str, path: str) -> str | None:
        """The permission a request needs; PUBLIC for none; None for "a valid token, no more"."""
        # the pages' files, and the root that leads to them: neither holds data (routes/home.py)
        if path in ("/", "/ui") or path.startswith("/ui/"):
            return PUBLIC
        if path.startswith(INGEST_PATHS):
            return PUBLIC  # the ingress authenticates each delivery itself
        if self.public_docs and (path in DOCS_PATHS or path.startswith(DOCS_PREFIXES)):
            return PUBLIC
        if path in HEALTH_PATHS or (self.public_metrics and path == METRICS_PATH):
            return PUBLIC
        method = "GET" if method == "HEAD" else method
        for rule_method, pattern, permission in self.rules:
            if rule_method == method and pattern.match(path):
                return permission
        return None
