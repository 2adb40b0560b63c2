"""scripts/oda_check.py can fail on every rule: the chart rendered with the ODA Component on passes,
and each broken variant of that rendering (a label, the controller role, a required API, ...
removed) fails the one rule it breaks, by name. helm comes from scripts/tools (built once)."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AUTH = [
    "--set",
    "auth.jwksUrl=https://idp.example/realms/ihub/protocol/openid-connect/certs",
    "--set",
    "auth.issuer=https://idp.example/realms/ihub",
    "--set",
    "auth.audience=interaction-hub",
]
Docs = list[dict[str, Any]]


@pytest.fixture(scope="module")
def rendered() -> Docs:
    helm = subprocess.run(
        [str(ROOT / "scripts" / "tools"), "helm"], capture_output=True, text=True, timeout=900, check=True
    ).stdout.strip()
    template = [helm, "template", "ihub", str(ROOT / "helm" / "interaction-hub"), *AUTH]
    out = subprocess.run([*template, "--set", "component.enabled=true"], capture_output=True, text=True, check=True)
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def run_check(text: str, *, serve: bool = False) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(ROOT / "scripts" / "oda_check.py"), "-", *(["--serve"] if serve else [])]
    return subprocess.run(command, input=text, capture_output=True, text=True, timeout=120, check=False)


def dump(docs: Docs) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def component(docs: Docs) -> dict[str, Any]:
    return next(doc for doc in docs if doc["kind"] == "Component")


def test_the_rendered_chart_holds_every_rule_on_a_running_server(rendered):
    result = run_check(dump(rendered), serve=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout
    for rule in ("component-label", "exposed-apis-answer", "metrics-answer", "party-roles-answer"):
        assert f"oda-check: ok {rule}:" in result.stdout


def _drop_label(docs: Docs) -> None:
    service = next(doc for doc in docs if doc["kind"] == "Service")
    del service["metadata"]["labels"]["oda.tmforum.org/componentName"]


def _drop_pod_label(docs: Docs) -> None:
    deployment = next(doc for doc in docs if doc["kind"] == "Deployment")
    del deployment["spec"]["template"]["metadata"]["labels"]["oda.tmforum.org/componentName"]


def _drop_role(docs: Docs) -> None:
    del component(docs)["spec"]["securityFunction"]["controllerRole"]


def _drop_party_role_api(docs: Docs) -> None:
    component(docs)["spec"]["securityFunction"]["exposedAPIs"] = []


def _drop_required_api(docs: Docs) -> None:
    apis = component(docs)["spec"]["coreFunction"]["exposedAPIs"]
    apis[:] = [api for api in apis if api["name"] != "party-interaction-management-api"]


def _drop_a_method(docs: Docs) -> None:
    api = component(docs)["spec"]["coreFunction"]["exposedAPIs"][0]
    api["resources"] = [{"PartyInteraction": ["GET", "GET /id", "POST", "PATCH"]}]


def _drop_an_event(docs: Docs) -> None:
    events = component(docs)["spec"]["eventNotification"]["publishedEvents"]
    events[:] = [event for event in events if "delete" not in event["name"].lower()]


def _drop_metrics(docs: Docs) -> None:
    component(docs)["spec"]["managementFunction"]["exposedAPIs"] = []


def _drop_id(docs: Docs) -> None:
    del component(docs)["spec"]["id"]


def _unsupported_version(docs: Docs) -> None:
    component(docs)["apiVersion"] = "oda.tmforum.org/v1alpha1"


def _two_components(docs: Docs) -> None:
    docs.append(copy.deepcopy(component(docs)))


def _dependent_apis_not_a_list(docs: Docs) -> None:
    component(docs)["spec"]["coreFunction"]["dependentAPIs"] = "TMF632"


@pytest.mark.parametrize(
    ("breaking", "rule", "named"),
    [
        (_drop_label, "component-label", "Service ihub-interaction-hub-api has no label"),
        (_drop_pod_label, "component-label", "the pods of Deployment"),
        (_drop_role, "security-function", "controllerRole is not set"),
        (_drop_party_role_api, "security-function", "no party-role API"),
        (_drop_required_api, "exposed-apis", "the required API party-interaction-management-api (TMF683)"),
        (_drop_a_method, "exposed-apis", "PartyInteraction DELETE"),
        (_drop_an_event, "published-events", "partyInteractionDeleteEvent"),
        (_drop_metrics, "metrics-api", "no prometheus API"),
        (_drop_id, "component-named", "spec has no id"),
        (_unsupported_version, "one-component", "v1alpha1 is not one of"),
        (_two_components, "one-component", "2 documents of kind Component"),
        (_dependent_apis_not_a_list, "dependent-apis", "dependentAPIs is not a list"),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else None,
)
def test_a_broken_variant_fails_the_rule_it_breaks(rendered, breaking: Callable[[Docs], None], rule, named):
    docs = copy.deepcopy(rendered)
    breaking(docs)
    result = run_check(dump(docs))
    assert result.returncode == 1, result.stdout
    failed = [line for line in result.stdout.splitlines() if " FAILED " in line]
    assert len(failed) == 1 and failed[0].startswith(f"oda-check: FAILED {rule}: "), result.stdout
    assert named in failed[0]
    assert f"rules failed: {rule}" in result.stdout


def test_manifests_that_do_not_parse_fail_the_first_rule():
    result = run_check("kind: Service\nmetadata: [unclosed\n")
    assert result.returncode == 1
    assert "oda-check: FAILED parse: the manifests do not parse as YAML" in result.stdout


def test_a_declared_path_the_server_does_not_answer_fails_on_the_running_server(rendered):
    docs = copy.deepcopy(rendered)
    spec = component(docs)["spec"]
    spec["managementFunction"]["exposedAPIs"][0]["path"] = "/not-metrics"
    spec["securityFunction"]["exposedAPIs"][0]["path"] = "/tmf-api/partyRoleManagement/v9"
    spec["coreFunction"]["exposedAPIs"][1]["path"] = "/tmf-api/partyInteraction/v6"
    result = run_check(dump(docs), serve=True)
    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("oda-check: FAILED exposed-apis-answer: GET /tmf-api/partyInteraction/v6/") for line in lines
    )
    assert any(line.startswith("oda-check: FAILED metrics-answer: GET /not-metrics answered 404") for line in lines)
    assert any(
        line.startswith("oda-check: FAILED party-roles-answer: GET /tmf-api/partyRoleManagement/v9") for line in lines
    )
