"""The API behind the real identity provider: a server that trusts the development Keycloak's keys
(its JWKS URL), and tokens the realm's users and clients really get. Both stores."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest

from tests.conformance.test_party_interaction import CTK_BODY, assert_tmf_error
from tests.identity import ADMIN, AUDIENCE, PUBLISHER, SELFCARE, bearer, client_token, issuer, jwks_url, user_token
from tests.support.server import own_server


@pytest.fixture(scope="module", params=["embedded", "search"])
def api(request, tmp_path_factory):
    env = {"IHUB_AUTH_JWKS_URL": jwks_url(), "IHUB_AUTH_ISSUER": issuer(), "IHUB_AUTH_AUDIENCE": AUDIENCE}
    with own_server(request, tmp_path_factory, "keycloak", env) as client:
        yield client


def about(party: str, marker: str) -> dict:
    return {
        **CTK_BODY,
        "description": marker,
        "relatedParty": [{"id": party, "role": "customer", "@referredType": "Individual"}],
    }


def root(api: httpx.Client) -> str:
    return str(api.base_url).split("/tmf-api")[0]


def test_a_csr_reads_and_writes_but_does_not_delete(api: httpx.Client) -> None:
    csr = bearer(user_token("csr"))
    made = api.post("partyInteraction", json=about("cust-1", uuid4().hex), headers=csr)
    assert made.status_code == 201, made.text
    assert api.get(f"partyInteraction/{made.json()['id']}", headers=csr).status_code == 200
    assert_tmf_error(api.delete(f"partyInteraction/{made.json()['id']}", headers=csr), 403, "interaction:delete")
    assert httpx.get(f"{root(api)}/ihub/v1/analytics/kpis", headers=csr).status_code == 200
    supervisor = bearer(user_token("supervisor"))
    assert api.delete(f"partyInteraction/{made.json()['id']}", headers=supervisor).status_code == 204


def test_a_user_without_roles_gets_403_everywhere(api: httpx.Client) -> None:
    nobody = bearer(user_token("nobody"))
    assert_tmf_error(api.get("partyInteraction", headers=nobody), 403)
    assert_tmf_error(api.post("partyInteraction", json=CTK_BODY, headers=nobody), 403)
    assert_tmf_error(httpx.get(f"{root(api)}/ihub/v1/analytics/kpis", headers=nobody), 403)


def test_the_self_care_customer_sees_only_their_own(api: httpx.Client) -> None:
    marker = uuid4().hex
    admin = bearer(client_token(ADMIN))
    theirs = api.post("partyInteraction", json=about("cust-77", marker), headers=admin).json()["id"]
    customer = bearer(user_token("customer", client=SELFCARE))  # party_id cust-42
    mine = api.post("partyInteraction", json=about("cust-42", marker), headers=customer)
    assert mine.status_code == 201, mine.text
    listed = api.get("partyInteraction", params={"description": marker}, headers=customer)
    assert [item["id"] for item in listed.json()] == [mine.json()["id"]]
    assert listed.headers["x-total-count"] == "1"
    assert_tmf_error(api.get(f"partyInteraction/{theirs}", headers=customer), 404)
    assert_tmf_error(api.post("partyInteraction", json=about("cust-77", marker), headers=customer), 403)
    everyone = api.get("partyInteraction", params={"description": marker}, headers=admin)
    assert everyone.headers["x-total-count"] == "2"


def test_a_channel_publisher_writes_but_cannot_read(api: httpx.Client) -> None:
    publisher = bearer(client_token(PUBLISHER))
    made = api.post("partyInteraction", json=about("cust-1", uuid4().hex), headers=publisher)
    assert made.status_code == 201, made.text
    assert_tmf_error(api.get(f"partyInteraction/{made.json()['id']}", headers=publisher), 403, "interaction:read")


def test_a_tampered_or_truncated_keycloak_token_is_401(api: httpx.Client) -> None:
    token = user_token("csr")
    head, body, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    for bad in (f"{head}.{body}.{flipped}", f"{head}.{body}.", f"{head}.{body}", token[:-10]):
        response = api.get("partyInteraction", headers=bearer(bad))
        assert_tmf_error(response, 401)
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
