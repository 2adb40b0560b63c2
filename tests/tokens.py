"""Tokens signed here, by keys made here: every way a token can be wrong, without an identity provider
(the tests against the real one use tests/identity.py)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://idp.example.test/realms/ihub"
AUDIENCE = "interaction-hub"
ALL = (
    "interaction:read interaction:write interaction:delete hub:manage analytics:read"
    " party:erase party:export party:manage"
)


class Signer:
    """A key pair: signs tokens, and gives its public half as PEM or as a JWK."""

    def __init__(self, kind: str = "RSA", kid: str = "k1") -> None:
        self.kind = kind
        self.kid = kid
        self.private: Any = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if kind == "RSA"
            else ec.generate_private_key(ec.SECP256R1())
        )
        self.algorithm = "RS256" if kind == "RSA" else "ES256"

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def write_pem(self, folder: Path) -> Path:
        path = folder / f"{self.kid}.pem"
        path.write_bytes(self.public_pem())
        return path

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.algorithms.RSAAlgorithm if self.kind == "RSA" else jwt.algorithms.ECAlgorithm
        data: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def token(
        self,
        scope: str | None = ALL,
        *,
        lifetime_s: float = 300,
        headers: dict[str, Any] | None = None,
        algorithm: str | None = None,
        drop: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-1",
            "azp": "test-client",
            "iat": now,
            "exp": now + int(lifetime_s),
        }
        if scope is not None:
            body["scope"] = scope
        body.update(claims)
        for name in drop:
            body.pop(name, None)
        return jwt.encode(
            body, self.private, algorithm=algorithm or self.algorithm, headers={"kid": self.kid, **(headers or {})}
        )


def auth_env(public_key_file: Path) -> dict[str, str]:
    """Server settings that trust tokens of `public_key_file` for ISSUER and AUDIENCE."""
    return {
        "IHUB_AUTH_PUBLIC_KEY_FILE": str(public_key_file),
        "IHUB_AUTH_ISSUER": ISSUER,
        "IHUB_AUTH_AUDIENCE": AUDIENCE,
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class JwksServer:
    """Serves a JWKS on 127.0.0.1, counts the fetches, and can go down."""

    def __init__(self, *signers: Signer) -> None:
        self.signers = list(signers)
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps({"keys": [s.jwk() for s in outer.signers]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/certs"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
