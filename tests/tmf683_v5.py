"""TM Forum's TMF683 v5.0.0 OpenAPI as the oracle of the v5 tests: its component schemas, read from
the shared/ folder beside the repository (never copied into it), validated with `jsonschema`.

The spec is OpenAPI 3.0; two of its constructs are read as OpenAPI (not JSON Schema) means them:
- `oneOf` with a `discriminator` (PartyOrPartyRole, AttachmentRefOrValue, EntityRefOrValue, ...): the
  alternatives are not mutually exclusive (PartyRef and PartyRoleRef both match `{"@type": .., "id": ..}`),
  so a literal `oneOf` refuses every valid instance; the discriminator's `@type` picks the one schema
  that must hold (docs/v5.md, "Spec defects");
- `nullable: true`: null is also allowed.
`format: date-time` is checked as RFC 3339 (the spec's own words for its date-times).
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SPEC_NAME = "TMF683-Party_Interaction-v5.0.0.oas.yaml"
ROOT = Path(__file__).resolve().parents[1]

# how many bodies each schema validated in this test run (the suite reports it)
VALIDATED: Counter[str] = Counter()

_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("date-time")(lambda value: not isinstance(value, str) or _RFC3339.match(value) is not None)


def spec_path(name: str = SPEC_NAME) -> Path:
    """One of TM Forum's files (by default the v5 OpenAPI): in $IHUB_SPEC_DIR, else shared/spec
    beside this checkout, else beside the checkout it was cloned from (as scripts/run-ctk finds the CTK)."""
    candidates = []
    if os.environ.get("IHUB_SPEC_DIR"):
        candidates.append(Path(os.environ["IHUB_SPEC_DIR"]))
    candidates.append(ROOT.parent / "shared" / "spec")
    origin = subprocess.run(
        ["git", "-C", str(ROOT), "remote", "get-url", "origin"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        candidates.append(Path(origin).resolve().parent / "shared" / "spec")
    for folder in candidates:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{name} not found in {', '.join(map(str, candidates))}; set IHUB_SPEC_DIR")


@cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(spec_path().read_text())
    return loaded


def _as_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _as_json_schema(value) for key, value in node.items() if key not in ("discriminator", "nullable")}
    discriminator = node.get("discriminator")
    if "oneOf" in node and isinstance(discriminator, dict) and discriminator.get("mapping"):
        name, mapping = discriminator["propertyName"], discriminator["mapping"]
        del out["oneOf"]
        out.setdefault("allOf", []).extend(
            [
                {"required": [name], "properties": {name: {"enum": sorted(mapping)}}},
                *(
                    {"if": {"properties": {name: {"const": value}}}, "then": {"$ref": ref}}
                    for value, ref in sorted(mapping.items())
                ),
            ]
        )
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def components() -> dict[str, Any]:
    """The spec's component schemas as JSON Schema (what scripts/v5_schemas.py derives the server's from)."""
    return {"components": {"schemas": _as_json_schema(copy.deepcopy(spec()["components"]["schemas"]))}}


@cache
def validator(schema_name: str) -> jsonschema.Draft202012Validator:
    schema = {**components(), "$ref": f"#/components/schemas/{schema_name}"}
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=_FORMATS)


def validate(body: Any, schema_name: str) -> Any:
    """`body`, after checking it against the spec's component schema (AssertionError naming every error)."""
    errors = sorted(validator(schema_name).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:20]]
        raise AssertionError(f"not a valid TMF683 v5 {schema_name}:\n" + "\n".join(lines))
    VALIDATED[schema_name] += 1
    return body


def validate_list(body: Any, schema_name: str = "PartyInteraction") -> list[Any]:
    assert isinstance(body, list), body
    for item in body:
        validate(item, schema_name)
    return body


def operations() -> list[tuple[str, str]]:
    """(method, path) of every operation the spec's paths declare, listeners excepted."""
    return [
        (method.upper(), path)
        for path, methods in spec()["paths"].items()
        if not path.startswith("/listener/")
        for method in methods
        if method in ("get", "post", "patch", "delete", "put")
    ]
