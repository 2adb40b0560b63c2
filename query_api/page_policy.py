"""What a browser may do with this server's answers: the pages under /ui/ and the API docs.

`PagePolicy`: pure ASGI middleware, around everything.
- Every answer: `X-Content-Type-Options: nosniff` (a browser never takes a JSON answer for a script
  or a page) and `Referrer-Policy: no-referrer` (a party id in a page's address goes nowhere else).
- Every HTML answer and everything under /ui/: a Content-Security-Policy. Scripts, styles and
  images from this server only: no inline script or style, no eval, so data put on a page can never
  run. Connections to this server and, with sign-in on, to the identity provider's origin (the
  pages fetch its discovery document and call its token endpoint). Never framed, no <base>, forms
  post here only.
- The API docs (/docs, Swagger UI) get the same policy, with data: images: Swagger's stylesheet
  draws its icons from data: URLs.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

PAGES = "/ui"
DOCS = "/docs"
EVERY_ANSWER = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def origin(url: str | None) -> str | None:
    """scheme://host[:port] of an http(s) URL, as a CSP source; None for anything else."""
    parts = urlsplit(url or "")
    host = parts.netloc.rpartition("@")[2]  # never a user or password in a header
    if parts.scheme not in ("http", "https") or not _HOST.fullmatch(host):
        return None
    return f"{parts.scheme}://{host}"


def content_security_policy(identity_provider: str | None = None, *, docs: bool = False) -> str:
    """The policy of the pages (`identity_provider`: the issuer they sign in with, if any), or of
    the API docs."""
    connect = " ".join(source for source in ("'self'", origin(identity_provider)) if source)
    directives = {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:" if docs else "'self'",
        "connect-src": connect,
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


class PagePolicy:
    def __init__(self, app: Any, *, identity_provider: str | None) -> None:
        self.app = app
        self.pages = (b"content-security-policy", content_security_policy(identity_provider).encode())
        self.docs = (b"content-security-policy", content_security_policy(docs=True).encode())

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]

        async def send_with_policy(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), *EVERY_ANSWER]
                html = any(k.lower() == b"content-type" and bytes(v).startswith(b"text/html") for k, v in headers)
                if _under(path, DOCS):
                    if html:
                        headers.append(self.docs)
                elif html or _under(path, PAGES):
                    headers.append(self.pages)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_policy)
