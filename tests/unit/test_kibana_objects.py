"""The Kibana saved objects (loaded by compose's init) only reference fields the index maps."""

import json
from pathlib import Path

from storage.search.documents import MAPPINGS

OBJECTS = Path(__file__).resolve().parents[2] / "services" / "kibana" / "dashboards.ndjson"


def mapped(path: str) -> bool:
    node = {"properties": MAPPINGS["properties"]}
    parts = path.split(".")
    for n, part in enumerate(parts):
        props = node.get("properties", {})
        if part in props:
            node = props[part]
        elif n == len(parts) - 1 and part in node.get("fields", {}):  # a multi-field such as reason.text
            return True
        else:
            return False
    return "type" in node or "properties" in node


def referenced_fields(objects):
    for obj in objects:
        attributes = obj["attributes"]
        if "timeFieldName" in attributes:
            yield obj["id"], attributes["timeFieldName"]
        if "visState" in attributes:
            for agg in json.loads(attributes["visState"])["aggs"]:
                if "field" in agg["params"]:
                    yield obj["id"], agg["params"]["field"]
        for column in attributes.get("columns", []):
            yield obj["id"], column


def test_every_referenced_field_is_in_the_mapping():
    objects = [json.loads(line) for line in OBJECTS.read_text().splitlines() if line.strip()]
    fields = list(referenced_fields(objects))
    assert len(fields) >= 8
    assert [(obj, field) for obj, field in fields if not mapped(field)] == []


def test_the_dashboard_references_existing_visualisations_and_the_data_view_matches_the_alias():
    objects = {o["id"]: o for o in (json.loads(line) for line in OBJECTS.read_text().splitlines() if line.strip())}
    dashboard = objects["ihub-kpis"]
    assert len(dashboard["references"]) >= 5
    assert all(ref["id"] in objects for ref in dashboard["references"])
    assert objects["ihub-interactions"]["attributes"]["title"] == "ihub-interactions*"
