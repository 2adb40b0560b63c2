"""The Grafana dashboard (services/grafana) only queries metrics the code exports, and has the panels operators need."""

import importlib
import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

DASHBOARD = Path(__file__).resolve().parents[3] / "services" / "grafana" / "interaction-hub.json"
# every module that defines an ihub_* metric
METRIC_MODULES = ("query_api.observability", "stream_workers.metrics", "interaction_hub.backoff")
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
EXPECTED_TITLES = {
    "Ingest rate",
    "Consumer lag",
    "Freshness",
    "DLQ rate",
    "API latency p50/p99 by route",
    "API 5xx errors",
    "API 4xx answers",
    "Write wait",
    "Retries and backoff",
    "Notification failures",
}


def exported() -> set[str]:
    """The series names Prometheus scrapes from the registry: a family's name and its type's suffixes."""
    for module in METRIC_MODULES:
        importlib.import_module(module)
    names = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
    return names


def panels(dashboard: dict) -> list[dict]:
    found = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found += panel.get("panels", [])
        else:
            found.append(panel)
    return found


def load() -> dict:
    return json.loads(DASHBOARD.read_text())


def test_every_expression_names_only_exported_metrics():
    names = exported()
    assert {"ihub_api_requests_total", "ihub_worker_freshness_seconds_bucket", "ihub_retries_total"} <= names
    queried = [
        (panel["title"], metric)
        for panel in panels(load())
        for target in panel["targets"]
        for metric in re.findall(r"ihub_[a-z_]+", target["expr"])
    ]
    assert len(queried) >= 15
    assert [(title, metric) for title, metric in queried if metric not in names] == []


def test_every_panel_has_a_query_on_the_datasource_variable():
    dashboard = load()
    assert dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for panel in panels(dashboard):
        assert panel["targets"], panel["title"]
        assert all(target["expr"].strip() for target in panel["targets"]), panel["title"]
        for node in (panel, *panel["targets"]):
            assert node["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]


def test_the_dashboard_has_the_operators_panels():
    titles = [panel["title"] for panel in panels(load())]
    assert len(titles) == len(set(titles))
    assert set(titles) >= EXPECTED_TITLES
    ids = [panel["id"] for panel in panels(load())]
    assert len(ids) == len(set(ids))
