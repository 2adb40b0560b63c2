"""PATCH semantics: JSON Merge Patch (RFC 7386) and JSON Patch (RFC 6902)."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from query_api.errors import TmfError
from schemas.party_interaction import NOT_PATCHABLE

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
# plain application/json is taken as a merge patch (the TMF convention)
PATCH_TYPES = (MERGE_PATCH, "application/json", JSON_PATCH)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def check_patchable(kind: str, patch: Any) -> None:
    """Refuse a patch that is malformed for its type or touches id, href or direction."""
    if kind == JSON_PATCH:
        if not isinstance(patch, list) or not all(isinstance(op, dict) for op in patch):
            raise TmfError(400, "a JSON Patch body is an array of operations")
        touched = {
            str(op.get(key, "")).lstrip("/").split("/")[0] for op in patch for key in ("path", "from")
        }
    else:
        if not isinstance(patch, dict):
            raise TmfError(400, "a merge patch body is a JSON object")
        touched = set(patch)
    refused = sorted(touched.intersection(NOT_PATCHABLE))
    if refused:
        raise TmfError(400, f"not patchable: {', '.join(refused)}")


def apply_patch(kind: str, document: dict[str, Any], patch: Any) -> dict[str, Any]:
    if kind != JSON_PATCH:
        return merge_patch(document, patch)
    try:
        result = jsonpatch.apply_patch(document, patch)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as exc:
        raise TmfError(400, f"JSON Patch cannot be applied: {exc}") from None
    if not isinstance(result, dict):
        raise TmfError(400, "JSON Patch must leave an object")
    return result


def merge_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The merge patch that turns `old` into `new` (documents without nulls): merge_patch(old, d) == new."""
    diff: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            inner = merge_diff(before, value)
            if inner:
                diff[key] = inner
        elif value != before:
            diff[key] = value
    return diff
