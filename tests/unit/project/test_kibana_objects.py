"""The Kibana saved objects (loaded by compose's init) only reference fields the index maps."""

import json
from pathlib import Path

from storage.search import contacts
from storage.search.documents import MAPPINGS

OBJECTS = Path(__file__).resolve().parents[3] / "services" / "kibana" / "dashboards.ndjson"


def mapped(path: str, mappings: dict = MAPPINGS) -> bool:
    node = {"properties": mappings["properties"]}
    parts = path.split(".")
    for n, part in enumerate(parts):
        props = node.get("properties", {})
        if part in props:
            node = props[part]
        else:  # the last part may be a multi-field such as reason.text
            return n == len(parts) - 1 and part in node.get("fields", {})
    return "type" in node or "properties" in node


def vega_fields(node):
    """Fields named in a Vega panel's engine query (`field` values and range/term keys)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "field" and isinstance(value, str):
                yield value
            elif key in ("range", "term") and isinstance(value, dict):
                yield from value
            yield from vega_fields(value)
    elif isinstance(node, list):
        for item in node:
            yield from vega_fields(item)


def referenced_fields(objects):
    """(object id, index the field must be in, field) for every field the objects name."""
    for obj in objects:
        attributes = obj["attributes"]
        if "timeFieldName" in attributes:
            yield obj["id"], "interactions", attributes["timeFieldName"]
        if "visState" in attributes:
            state = json.loads(attributes["visState"])
            for agg in state["aggs"]:
                if "field" in agg["params"]:
                    yield obj["id"], "interactions", agg["params"]["field"]
            if state["type"] == "metrics":  # TSVB: time and split fields, and the KQL filter's field
                yield obj["id"], "interactions", state["params"]["time_field"]
                for series in state["params"]["series"]:
                    yield obj["id"], "interactions", series["terms_field"]
                    for metric in series["metrics"]:
                        if "numerator" in metric:
                            yield obj["id"], "interactions", metric["numerator"]["query"].split(":")[0].strip()
            if state["type"] == "vega":
                spec = json.loads(state["params"]["spec"])
                assert spec["data"]["url"]["index"] == "ihub-interactions-contacts"
                for name in vega_fields(spec["data"]["url"]["body"]):
                    yield obj["id"], "contacts", name
        for column in attributes.get("columns", []):
            yield obj["id"], "interactions", column


def test_every_referenced_field_is_in_the_mapping():
    objects = [json.loads(line) for line in OBJECTS.read_text().splitlines() if line.strip()]
    fields = list(referenced_fields(objects))
    assert len(fields) >= 12 and {index for _, index, _ in fields} == {"interactions", "contacts"}
    mappings = {"interactions": MAPPINGS, "contacts": contacts.MAPPINGS}
    assert [(obj, field) for obj, index, field in fields if not mapped(field, mappings[index])] == []


def test_the_dashboard_references_existing_visualisations_and_the_data_view_matches_the_alias():
    objects = {o["id"]: o for o in (json.loads(line) for line in OBJECTS.read_text().splitlines() if line.strip())}
    dashboard = objects["ihub-kpis"]
    assert len(dashboard["references"]) >= 5
    assert all(ref["id"] in objects for ref in dashboard["references"])
    # the alias itself (a wildcard would also match <alias>-contacts and <alias>-subscriptions)
    assert objects["ihub-interactions"]["attributes"]["title"] == "ihub-interactions"
