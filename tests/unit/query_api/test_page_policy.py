"""The pages' connect-src names the identity provider by its origin only, and only when the issuer
is an http(s) URL whose host is a plain name or address: nothing else reaches the header."""

from __future__ import annotations

import pytest

from query_api.page_policy import content_security_policy, origin


@pytest.mark.parametrize(
    ("issuer", "expected"),
    [
        ("https://id.example/realms/ihub", "https://id.example"),
        ("http://127.0.0.1:8180/realms/ihub", "http://127.0.0.1:8180"),
        ("https://[::1]:8443/realms/ihub", "https://[::1]:8443"),
        ("https://user:secret@id.example/realms/ihub", "https://id.example"),  # never a credential
        ("id.example", None),
        ("urn:ihub:issuer", None),
        ("javascript:alert(1)", None),
        ("https://id.example;script-src *", None),
        ("https://id.example 'unsafe-inline'/", None),
        ("", None),
        (None, None),
    ],
)
def test_the_origin_of_an_issuer(issuer, expected):
    assert origin(issuer) == expected


def test_the_policies():
    pages = content_security_policy("https://id.example/realms/ihub")
    assert "connect-src 'self' https://id.example;" in pages and "img-src 'self';" in pages
    assert "connect-src 'self';" in content_security_policy(None)
    assert "connect-src 'self';" in content_security_policy("urn:ihub:issuer")
    docs = content_security_policy(docs=True)
    assert "img-src 'self' data:;" in docs and "connect-src 'self';" in docs
    for policy in (pages, docs):
        assert policy.startswith("default-src 'none'; script-src 'self'; style-src 'self';")
        assert policy.endswith("frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
        assert "unsafe" not in policy
