"""TMF669 Party Role Management, read side, over HTTP in both modes: one PartyRole per permission,
TMF630 fields and paging, TMF Errors, the OpenAPI, and with auth on a valid token of any permission
(none at all included) reads the roles while a missing or bad one is a 401."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from query_api.auth import PERMISSIONS, READ
from tests.conformance.test_party_interaction import assert_tmf_error
from tests.support.server import own_server
from tests.tokens import Signer, auth_env, bearer

ROLES = "/tmf-api/partyRoleManagement/v4/partyRole"
SIGNER = Signer()


@pytest.fixture(scope="module")
def roles(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.root, timeout=10) as client:
        yield client


def test_lists_one_role_per_permission(roles):
    response = roles.get(ROLES)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    listed = response.json()
    assert sorted(role["id"] for role in listed) == sorted(PERMISSIONS)
    assert response.headers["x-total-count"] == response.headers["x-result-count"] == str(len(PERMISSIONS))
    for role in listed:
        assert role["name"] == role["id"]
        assert role["@type"] == "PartyRole"
        assert isinstance(role["description"], str) and role["description"]
        assert role["href"].endswith(f"{ROLES}/{role['id']}")


def test_retrieves_a_role_by_id(roles):
    for permission in PERMISSIONS:
        response = roles.get(f"{ROLES}/{permission}")
        assert response.status_code == 200, response.text
        role = response.json()
        assert role["id"] == role["name"] == permission and role["@type"] == "PartyRole"
        assert httpx.get(role["href"], timeout=10).json() == role  # the href leads to the role


def test_unknown_role_is_a_404(roles):
    assert_tmf_error(roles.get(ROLES + "/interaction:admin"), 404, "interaction:admin")
    assert_tmf_error(roles.get(ROLES + "/nope/deeper"), 404)


def test_fields(roles):
    listed = roles.get(ROLES, params={"fields": "name"}).json()
    assert listed and all(set(role) == {"id", "href", "name"} for role in listed)
    assert all(set(role) == {"id", "href"} for role in roles.get(ROLES, params={"fields": "none"}).json())
    one = roles.get(f"{ROLES}/{READ}", params={"fields": "description"}).json()
    assert set(one) == {"id", "href", "description"} and one["id"] == READ


def test_filters_sort_and_paging(roles):
    assert [role["id"] for role in roles.get(ROLES, params={"name": READ}).json()] == [READ]
    assert [role["id"] for role in roles.get(ROLES, params={"sort": "-id", "fields": "none"}).json()] == sorted(
        PERMISSIONS, reverse=True
    )
    page = roles.get(ROLES, params={"offset": 2, "limit": 3})
    assert page.status_code == 200
    assert 'offset=5&limit=3>; rel="next"' in page.headers["link"]
    assert [role["id"] for role in page.json()] == sorted(PERMISSIONS)[2:5]
    assert page.headers["x-total-count"] == str(len(PERMISSIONS)) and page.headers["x-result-count"] == "3"


@pytest.mark.parametrize(
    "params",
    [{"limit": "-1"}, {"offset": "x"}, {"fields": ""}, {"sort": ""}, {"name.like": "x"}],
)
def test_bad_queries_are_400(roles, params):
    assert_tmf_error(roles.get(ROLES, params=params), 400)


def test_retrieve_takes_only_fields(roles):
    assert_tmf_error(roles.get(f"{ROLES}/{READ}", params={"name": READ}), 400, "fields")


def test_in_the_openapi(server):
    paths = httpx.get(server.root + "/openapi.json", timeout=10).json()["paths"]
    assert set(paths[ROLES]) == {"get"} and set(paths[ROLES + "/{id}"]) == {"get"}
    assert "404" in paths[ROLES + "/{id}"]["get"]["responses"]


# --- with auth on: a valid token, of any permission ------------------------------------------------


@pytest.fixture(scope="module", params=["embedded", "search"])
def secured(request, tmp_path_factory) -> Iterator[httpx.Client]:
    keys = tmp_path_factory.mktemp("keys")
    with own_server(request, tmp_path_factory, "party-role", auth_env(SIGNER.write_pem(keys))) as client:
        yield client


def roles_url(client: httpx.Client, path: str = "") -> str:
    return str(client.base_url).split("/tmf-api")[0] + ROLES + path


@pytest.mark.parametrize("path", ["", f"/{READ}", "/nope"])
def test_needs_a_token(secured, path):
    response = secured.get(roles_url(secured, path))
    assert_tmf_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert_tmf_error(secured.get(roles_url(secured, path), headers={"Authorization": "Bearer not.a.token"}), 401)
    expired = SIGNER.token(READ, lifetime_s=-3600)
    assert_tmf_error(secured.get(roles_url(secured, path), headers=bearer(expired)), 401)
    assert_tmf_error(secured.get(roles_url(secured, path), headers=bearer(Signer(kid="k1").token(READ))), 401)


@pytest.mark.parametrize("scope", [None, "", READ, "party:export", "something:else"])
def test_any_valid_token_reads_the_roles(secured, scope):
    headers = bearer(SIGNER.token(scope))
    listed = secured.get(roles_url(secured), headers=headers)
    assert listed.status_code == 200, listed.text
    assert sorted(role["id"] for role in listed.json()) == sorted(PERMISSIONS)
    one = secured.get(roles_url(secured, f"/{READ}"), headers=headers)
    assert one.status_code == 200 and one.json()["id"] == READ
    assert_tmf_error(secured.get(roles_url(secured, "/nope"), headers=headers), 404)
