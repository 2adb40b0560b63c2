"""Checks the chart's rendered manifests against the ODA Component rules and TM Forum's golden
component for TMFC023 (Party Interaction Management), and asks a running server whether the
paths the Component declares answer.

    .venv/bin/python scripts/oda_check.py MANIFEST.yaml [--golden GOLDEN.yaml] [--serve]

MANIFEST: `helm template` output with component.enabled=true ("-": standard input). GOLDEN: the
golden component, by default golden-components/TMFC023-PartyInteractionManagement.yaml in $ODA_DIR,
else in shared/oda beside this checkout, else beside the checkout it was cloned from.
--serve starts `ihub serve` on a fresh embedded store (loopback, auth off, the base paths of the
rendered ConfigMap) and asks it. Prints one line per rule; exits 1 if any rule failed, naming it.
Needs no network beyond the loopback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the access table is the project's own (query_api.auth)

GROUP = "oda.tmforum.org"
# v1beta3 keeps the component's identity on spec; v1beta4 and v1 under spec.componentMetadata
SUPPORTED = {f"{GROUP}/v1beta3": "spec", f"{GROUP}/v1beta4": "componentMetadata", f"{GROUP}/v1": "componentMetadata"}
LABEL = f"{GROUP}/componentName"
GOLDEN = "golden-components/TMFC023-PartyInteractionManagement.yaml"
API_FIELDS = ("apiType", "specification", "path", "port")
METHODS = ("GET", "GET /id", "POST", "PATCH", "DELETE")


class Broken(Exception):
    """A rule that does not hold: the message says what is wrong."""


@dataclass
class Report:
    results: list[tuple[str, str | None]] = field(default_factory=list)  # (rule, None | why it failed)

    def rule(self, name: str, check: Callable[[], str]) -> None:
        try:
            detail = check()
        except Broken as exc:
            self.fail(name, str(exc))
        else:
            self.results.append((name, None))
            print(f"oda-check: ok {name}: {detail}")

    def fail(self, name: str, why: str) -> None:
        self.results.append((name, why))
        print(f"oda-check: FAILED {name}: {why}")

    @property
    def failed(self) -> list[str]:
        return [name for name, why in self.results if why is not None]


# --- reading -------------------------------------------------------------------------------------


def golden_path() -> Path:
    candidates = [Path(os.environ["ODA_DIR"])] if os.environ.get("ODA_DIR") else []
    candidates.append(ROOT.parent / "shared" / "oda")
    origin = subprocess.run(
        ["git", "-C", str(ROOT), "remote", "get-url", "origin"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        candidates.append(Path(origin).resolve().parent / "shared" / "oda")
    for folder in candidates:
        if (folder / GOLDEN).is_file():
            return folder / GOLDEN
    raise SystemExit(f"oda-check: no {GOLDEN} in {', '.join(map(str, candidates))}; set ODA_DIR or --golden")


def load_documents(text: str) -> list[dict[str, Any]]:
    """The rendered documents (empty ones dropped); Broken if any is not a Kubernetes object."""
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise Broken(f"the manifests do not parse as YAML: {exc}") from None
    for index, doc in enumerate(documents):
        if not isinstance(doc, dict) or not all(doc.get(key) for key in ("apiVersion", "kind")):
            raise Broken(f"document {index + 1} is not a Kubernetes object (apiVersion and kind)")
        if not isinstance(doc.get("metadata"), dict) or not doc["metadata"].get("name"):
            raise Broken(f"{doc['kind']} (document {index + 1}) has no metadata.name")
    return documents


def _norm(text: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(text).lower())


def _list(parent: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = parent.get(key)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise Broken(f"{where}.{key} is not a list of objects")
    return value


def _section(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise Broken(f"{where}.{key} is missing")
    return value


def _specifications(api: dict[str, Any]) -> list[str]:
    """An API's specification URLs: a string, a list of strings, or (v1) a list of {url: ...}."""
    spec = api.get("specification")
    items = spec if isinstance(spec, list) else [spec]
    return [str(item.get("url", "")) if isinstance(item, dict) else str(item) for item in items if item]


def _declares(api: dict[str, Any], golden: dict[str, Any]) -> bool:
    """Whether `api` is the golden API: the same name, or a specification of the golden id and
    version (TMF683 v4.0.0: a v5 specification is another API)."""
    if _norm(api.get("name")) == _norm(golden.get("name")):
        return True
    golden_id, version = str(golden.get("id", "")), str(golden.get("version", "")).lstrip("v")
    return bool(golden_id) and any(golden_id in url and version in url for url in _specifications(api))


def _resources(api: dict[str, Any]) -> dict[str, set[str]]:
    """{resource: methods} of an API's `resources` list ([{PartyInteraction: [GET, ...]}])."""
    found: dict[str, set[str]] = {}
    for entry in api.get("resources") or []:
        if isinstance(entry, dict):
            for name, methods in entry.items():
                found.setdefault(str(name), set()).update(str(m) for m in methods or [])
    return found


# --- the rules on the rendered documents ---------------------------------------------------------


class Manifest:
    def __init__(self, documents: list[dict[str, Any]], golden: dict[str, Any]) -> None:
        self.documents = documents
        self.golden = golden["spec"]
        self._component: dict[str, Any] | None = None

    @property
    def component(self) -> dict[str, Any]:
        assert self._component is not None, "one_component() first"
        return self._component

    @property
    def spec(self) -> dict[str, Any]:
        return _section(self.component, "spec", "Component")

    def one_component(self) -> str:
        found = [doc for doc in self.documents if doc["kind"] == "Component"]
        if len(found) != 1:
            raise Broken(f"{len(found)} documents of kind Component, one expected")
        component = found[0]
        if component["apiVersion"] not in SUPPORTED:
            raise Broken(f"apiVersion {component['apiVersion']} is not one of {', '.join(sorted(SUPPORTED))}")
        name = component["metadata"]["name"]
        label = (component["metadata"].get("labels") or {}).get(LABEL)
        if label != name:
            raise Broken(f"the Component's label {LABEL} is {label!r}, not its name {name!r}")
        self._component = component
        return f"{component['apiVersion']} {name}"

    def component_named(self) -> str:
        where = SUPPORTED[self.component["apiVersion"]]
        meta = self.spec if where == "spec" else _section(self.spec, where, "spec")
        missing = [key for key in ("id", "name", "version", "functionalBlock") if not meta.get(key)]
        if missing:
            raise Broken(f"{'spec' if where == 'spec' else 'spec.' + where} has no {', '.join(missing)}")
        for key in ("id", "functionalBlock"):
            if str(meta[key]) != str(self.golden[key]):
                raise Broken(f"{key} is {meta[key]!r}; the golden component's is {self.golden[key]!r}")
        return f"{meta['id']} {meta['name']} {meta['version']} ({meta['functionalBlock']})"

    def exposed_apis(self) -> str:
        core = _section(self.spec, "coreFunction", "spec")
        ours = _list(core, "exposedAPIs", "coreFunction")
        for api in ours:
            missing = [key for key in ("name", *API_FIELDS) if api.get(key) in (None, "", [])]
            if missing:
                raise Broken(f"exposed API {api.get('name', '?')!r} has no {', '.join(missing)}")
        required = [api for api in self.golden["coreFunction"]["exposedAPIs"] if api.get("required")]
        for wanted in required:
            match = next((api for api in ours if _declares(api, wanted)), None)
            if match is None:
                raise Broken(f"the required API {wanted['name']} ({wanted['id']}) is not in coreFunction.exposedAPIs")
            have = _resources(match)
            for resource, methods in _resources(wanted).items():
                absent = sorted(methods - have.get(resource, set()))
                if absent:
                    raise Broken(f"{match['name']} does not declare {resource} {', '.join(absent)}")
        names = ", ".join(f"{api['name']} at {api['path']}" for api in ours)
        return f"{len(required)} required of the golden component declared; {names}"

    def dependent_apis(self) -> str:
        apis = _list(_section(self.spec, "coreFunction", "spec"), "dependentAPIs", "coreFunction")
        for api in apis:
            missing = [key for key in ("name", "apiType", "specification") if not api.get(key)]
            if missing:
                raise Broken(f"dependent API {api.get('name', '?')!r} has no {', '.join(missing)}")
        return f"{len(apis)} dependent APIs"

    def published_events(self) -> str:
        events = _list(_section(self.spec, "eventNotification", "spec"), "publishedEvents", "eventNotification")
        declared = {_norm(e.get("name")) for e in events} | {_norm(r) for e in events for r in e.get("resources") or []}
        tmf683 = next(e for e in self.golden["eventNotification"]["publishedEvents"] if e["id"] == "TMF683")
        absent = [name for name in tmf683["resources"] if _norm(name) not in declared]
        if absent:
            raise Broken(f"eventNotification.publishedEvents lacks {', '.join(absent)}")
        for event in events:
            if not event.get("hub") or not event.get("port"):
                raise Broken(f"published event {event.get('name', '?')!r} has no hub or port")
        return f"{len(tmf683['resources'])} TMF683 events declared"

    def metrics_api(self) -> str:
        apis = _list(_section(self.spec, "managementFunction", "spec"), "exposedAPIs", "managementFunction")
        found = [api for api in apis if api.get("apiType") == "prometheus" and api.get("path") and api.get("port")]
        if not found:
            raise Broken("managementFunction.exposedAPIs has no prometheus API with a path and a port")
        return f"prometheus at {found[0]['path']}"

    def security_function(self) -> str:
        security = _section(self.spec, "securityFunction", "spec")
        if not isinstance(security.get("controllerRole"), str) or not security["controllerRole"].strip():
            raise Broken("securityFunction.controllerRole is not set")
        apis = _list(security, "exposedAPIs", "securityFunction")
        roles = [api for api in apis if "partyrole" in _norm(api.get("name"))]
        if not roles:
            raise Broken("securityFunction.exposedAPIs has no party-role API (a name containing partyrole)")
        missing = [key for key in API_FIELDS if not roles[0].get(key)]
        if missing:
            raise Broken(f"party-role API {roles[0]['name']!r} has no {', '.join(missing)}")
        return f"controllerRole {security['controllerRole']!r}, {roles[0]['name']} at {roles[0]['path']}"

    def component_label(self) -> str:
        name = self.component["metadata"]["name"]
        for doc in self.documents:
            what = f"{doc['kind']} {doc['metadata']['name']}"
            if (doc["metadata"].get("labels") or {}).get(LABEL) != name:
                raise Broken(f"{what} has no label {LABEL}={name}")
            template = (doc.get("spec") or {}).get("template")
            if isinstance(template, dict) and ((template.get("metadata") or {}).get("labels") or {}).get(LABEL) != name:
                raise Broken(f"the pods of {what} have no label {LABEL}={name}")
        return f"{len(self.documents)} resources labelled {name}"

    def config(self) -> dict[str, str]:
        """The rendered ConfigMap's settings (the API's environment)."""
        maps = [doc for doc in self.documents if doc["kind"] == "ConfigMap"]
        return {str(k): str(v) for doc in maps for k, v in (doc.get("data") or {}).items()}


# --- the rules on a running server ---------------------------------------------------------------


@contextlib.contextmanager
def served(config: dict[str, str]) -> Iterator[httpx.Client]:
    """`ihub serve` on a fresh embedded store, on loopback with auth off, with the rendered base paths."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IHUB_")}
    env.update({k: v for k, v in config.items() if k in ("IHUB_BASE_PATH", "IHUB_BASE_PATH_V5")})
    ihub = Path(sys.executable).with_name("ihub")
    with tempfile.TemporaryDirectory() as data, open(Path(data) / "serve.log", "wb") as log:
        command = [str(ihub), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", f"{data}/store"]
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                deadline = time.monotonic() + 60
                while True:
                    if process.poll() is not None:
                        raise Broken(f"ihub serve exited with {process.returncode}: {_tail(Path(data) / 'serve.log')}")
                    with contextlib.suppress(httpx.TransportError):
                        if client.get("/health/ready").status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise Broken("ihub serve was not ready within 60 s")
                    time.sleep(0.2)
                yield client
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def _tail(path: Path) -> str:
    return " | ".join(path.read_text(errors="replace").strip().splitlines()[-3:])


def _expect(response: httpx.Response, status: int, what: str) -> httpx.Response:
    if response.status_code != status:
        raise Broken(f"{what} answered {response.status_code}, not {status}: {response.text[:200]}")
    return response


def _channel(api: dict[str, Any]) -> dict[str, Any]:
    """A channel as the API's specification version writes it (v4 `channel`, v5 `relatedChannel`)."""
    majors = {match[1] for url in _specifications(api) for match in re.finditer(r"[v_-](\d+)\.\d+\.\d+", url)}
    if majors == {"4"}:
        return {"channel": [{"id": "oda-check"}]}
    if majors == {"5"}:
        return {
            "relatedChannel": [
                {"@type": "RelatedChannel", "role": "origin", "channel": {"@type": "ChannelRef", "id": "oda-check"}}
            ]
        }
    raise Broken(f"exposed API {api['name']}: no known TMF683 version in its specification {_specifications(api)}")


def _collection(path: str, resource: str) -> str:
    return f"{path.rstrip('/')}/{resource[:1].lower()}{resource[1:]}"


def exposed_apis_answer(manifest: Manifest, client: httpx.Client) -> str:
    """Each exposed API's collections list; where an API declares every method, a created resource
    is read, patched and deleted."""
    asked = []
    for api in manifest.spec["coreFunction"]["exposedAPIs"]:
        if not _resources(api):
            raise Broken(f"exposed API {api['name']} names no resource to ask for")
        for resource, methods in _resources(api).items():
            url = _collection(api["path"], resource)
            if not isinstance(_expect(client.get(url, params={"limit": 1}), 200, f"GET {url}").json(), list):
                raise Broken(f"GET {url} did not answer a JSON array")
            asked.append(f"GET {url}")
            if set(METHODS) <= methods:
                body = {"@type": resource, "direction": "inbound", "reason": "ODA check", **_channel(api)}
                made = _expect(client.post(url, json=body), 201, f"POST {url}").json()
                item = f"{url}/{made['id']}"
                _expect(client.get(item), 200, f"GET {item}")
                merge = {"content-type": "application/merge-patch+json"}
                _expect(client.patch(item, json={"description": "checked"}, headers=merge), 200, f"PATCH {item}")
                _expect(client.delete(item), 204, f"DELETE {item}")
                _expect(client.get(item), 404, f"GET {item} after DELETE")
                asked.append(f"POST, GET /id, PATCH, DELETE {url}")
    return "; ".join(asked)


def metrics_answer(manifest: Manifest, client: httpx.Client) -> str:
    api = next(a for a in manifest.spec["managementFunction"]["exposedAPIs"] if a.get("apiType") == "prometheus")
    response = _expect(client.get(api["path"]), 200, f"GET {api['path']}")
    if not response.headers.get("content-type", "").startswith("text/plain"):
        raise Broken(f"GET {api['path']} answered {response.headers.get('content-type')}, not Prometheus text")
    try:
        families = list(text_string_to_metric_families(response.text))
    except ValueError as exc:
        raise Broken(f"GET {api['path']} is not Prometheus text: {exc}") from None
    if not families:
        raise Broken(f"GET {api['path']} holds no metric")
    return f"{len(families)} metric families at {api['path']}"


def party_roles_answer(manifest: Manifest, client: httpx.Client) -> str:
    from query_api.auth import ACCESS_RULES

    api = next(a for a in manifest.spec["securityFunction"]["exposedAPIs"] if "partyrole" in _norm(a.get("name")))
    url = _collection(api["path"], "partyRole")
    roles = {role["id"] for role in _expect(client.get(url), 200, f"GET {url}").json()}
    permissions = {permission for _, _, permission in ACCESS_RULES}
    if roles != permissions:
        raise Broken(f"GET {url} lists {sorted(roles)}; the access table uses {sorted(permissions)}")
    return f"{url}: {len(roles)} roles, the access table's permissions"


# --- running -------------------------------------------------------------------------------------


def check(text: str, golden: dict[str, Any], *, serve: bool) -> Report:
    report = Report()
    documents: list[dict[str, Any]] = []

    def parse() -> str:
        documents.extend(load_documents(text))
        return f"{len(documents)} documents"

    report.rule("parse", parse)
    if report.failed:
        return report
    manifest = Manifest(documents, golden)
    report.rule("one-component", manifest.one_component)
    if report.failed:  # every other rule reads the one Component
        return report
    for name, rule in (
        ("component-named", manifest.component_named),
        ("exposed-apis", manifest.exposed_apis),
        ("dependent-apis", manifest.dependent_apis),
        ("published-events", manifest.published_events),
        ("metrics-api", manifest.metrics_api),
        ("security-function", manifest.security_function),
        ("component-label", manifest.component_label),
    ):
        report.rule(name, rule)
    if serve and not report.failed:
        try:
            with served(manifest.config()) as client:
                report.rule("exposed-apis-answer", lambda: exposed_apis_answer(manifest, client))
                report.rule("metrics-answer", lambda: metrics_answer(manifest, client))
                report.rule("party-roles-answer", lambda: party_roles_answer(manifest, client))
        except Broken as exc:
            report.fail("server", str(exc))
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest", help="helm template output; - for standard input")
    parser.add_argument("--golden", type=Path, help="the golden component's YAML (default: found in shared/oda)")
    parser.add_argument("--serve", action="store_true", help="also ask a running `ihub serve` the declared paths")
    args = parser.parse_args()
    text = sys.stdin.read() if args.manifest == "-" else Path(args.manifest).read_text()
    golden = yaml.safe_load((args.golden or golden_path()).read_text())
    report = check(text, golden, serve=args.serve)
    if report.failed:
        print(f"oda-check: {len(report.failed)} of {len(report.results)} rules failed: {', '.join(report.failed)}")
        return 1
    print(f"oda-check: all {len(report.results)} rules hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
