"""The API docs page loads everything from this server: nothing from a CDN. It shows v4's OpenAPI
and v5's, whose schemas are TM Forum's v5 ones the server validates v5 bodies with."""

from __future__ import annotations

import json
import re

import httpx
import jsonschema

from tests.tmf683_v5 import components


def test_the_docs_page_and_its_assets_come_from_this_server(server):
    page = httpx.get(server.root + "/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    sources = re.findall(r"(?:src|href)=[\"']([^\"']+)", page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "cdn" not in page.text.lower()
    for source in sources:
        assert httpx.get(server.root + source).status_code == 200, source
    assert httpx.get(server.root + "/openapi.json").json()["info"]["title"].startswith("Interaction Hub")
    assert httpx.get(server.root + "/redoc").status_code == 404  # FastAPI's ReDoc page loads from a CDN


V5 = "/tmf-api/partyInteraction/v5"


def test_v5_has_its_own_openapi_beside_v4s_with_the_schemas_it_validates_with(server):
    init = httpx.get(server.root + "/docs/init.js").text
    assert '"/openapi.json"' in init and '"/docs/openapi-v5.json"' in init  # the page's two definitions
    answer = httpx.get(server.root + "/docs/openapi-v5.json")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    document = answer.json()
    assert document["info"]["version"] == "5.0.0"
    # the v5 operations this server implements, and nothing of v4's
    assert {path: sorted(operations) for path, operations in document["paths"].items()} == {
        f"{V5}/partyInteraction": ["get", "post"],
        f"{V5}/partyInteraction/{{id}}": ["delete", "get", "patch"],
        f"{V5}/hub": ["get", "post"],
        f"{V5}/hub/{{id}}": ["delete", "get"],
    }
    schemas = document["components"]["schemas"]
    assert set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(document))) <= set(schemas)
    spec = components()["components"]["schemas"]  # TM Forum's, read from shared/spec by the tests
    for name in ("PartyInteraction", "PartyInteraction_FVO", "PartyInteraction_MVO", "Hub_FVO", "Error"):
        assert schemas[name] == spec[name], name
    operation = document["paths"][f"{V5}/partyInteraction"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PartyInteraction_FVO"
    }
    # what the server answers is valid under the document's schemas, and what it refuses is not
    body = {
        "@type": "PartyInteraction",
        "reason": "docs",
        "direction": "inbound",
        "relatedChannel": [
            {"@type": "RelatedChannel", "role": "origin", "channel": {"@type": "ChannelRef", "id": "web"}}
        ],
    }
    created = httpx.post(f"{server.root}{V5}/partyInteraction", json=body)
    assert created.status_code == 201, created.text
    assert _errors(document, "PartyInteraction", created.json()) == []
    wrong = {**body, "reason": 5}
    assert _errors(document, "PartyInteraction_FVO", wrong) == ["reason: 5 is not of type 'string'"]
    refused = httpx.post(f"{server.root}{V5}/partyInteraction", json=wrong)
    assert refused.status_code == 400 and refused.json()["message"] == "reason: must be a string", refused.text
    assert _errors(document, "Error", refused.json()) == []


def _errors(document: dict, name: str, instance: object) -> list[str]:
    schema = {"components": document["components"], "$ref": f"#/components/schemas/{name}"}
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]
