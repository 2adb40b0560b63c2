"""The change model: what a write does to a PartyInteraction, decided in one place.

A write is a value, `Change`: create, merge patch (RFC 7386), JSON Patch (RFC 6902) or delete, with
its time and, when the client sent `If-Match`, the versions it expects. `apply` takes the current
state of the interaction and the change and returns the `Outcome` or raises `Refused`. It is pure
(no I/O, no clock, no randomness), so the embedded store's write transaction and the workers' fold
(in partition order) make exactly the same decisions; nothing else decides what a write does.

Versions: every stored interaction has a version, an integer that only grows; the API shows it as
the `ETag`. A change's own version is its time in microseconds since the epoch; a change that alters
the interaction gives it max(change's version, current version + 1), so versions stay in time order
across publishers and still grow when two changes share a microsecond or a clock lags.

- create: a validated create body in wire form. A new interaction gets `creationDate` = the change's
  time. For one that exists (a channel system re-sends its record as it grows; a replayed event), a
  change older than the stored version is `superseded` and changes nothing; otherwise the body
  replaces the stored attributes, keeping `creationDate`.
- merge / json-patch: applied to the current state; `id`, `href` and `direction` are not patchable,
  `creationDate` cannot be removed, and the result must be a valid PartyInteraction. A status that
  changes without a new `statusChangeDate` gets the change's time.
- contribute: one record's part of an interaction that several records make (a mail thread's
  messages, a message and its delivery receipts, a web session's events). On an absent interaction
  it is a create. Otherwise it is merged in (`contributed`): objects merge key by key, arrays gain
  the items they lack (up to the model's bound: a full array keeps what it holds), `interactionDate`
  spans both, and a value already stored is replaced only by
  a change at least as new as the stored version (an older one only fills what is missing), so the
  outcome does not depend on the order the records arrive in.
- link: resolve the interaction's customer again (storage/identity.py) after the party directory
  changed, first renaming the related parties `body["renames"]` names (merged duplicates to their
  survivors). Unchanged for an absent interaction.
- delete: removes the interaction; deleting one that is not there is `unchanged` (old state None).

Every change that leaves an interaction ends with the applier's `resolve` (storage/identity.py:
the customer found from the identifiers the channel named, in the applier's party directory).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

import jsonpatch
import jsonpointer
import orjson
from pydantic import ValidationError

from schemas.common import MAX_DEPTH, deeper_than, describe, json_depth, parse_date_time
from schemas.party_interaction import MAX_ITEMS, NOT_PATCHABLE, stored_resource, validated_resource
from storage.identity import renamed

Document = dict[str, Any]
Kind = Literal["create", "merge", "json-patch", "contribute", "link", "delete"]
OutcomeKind = Literal["create", "update", "delete", "unchanged", "superseded"]

JSON_PATCH_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})
_KEPT = ("creationDate",)  # server-set attributes a patch may change but not remove

MAX_CONTRIBUTED_ITEMS = 1000
"""The most items contributions gather in an array the model does not bound itself."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = datetime.resolution


def version_at(time: str) -> int:
    """The version of a change made at `time` (ISO 8601): microseconds since the epoch."""
    instant = parse_date_time(time)
    if instant is None:
        raise ValueError(f"not an ISO 8601 date-time: {time!r}")
    return (instant - _EPOCH) // _MICROSECOND


class Refused(Exception):
    """A change that cannot apply to the current state; nothing was changed."""

    code = "refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @staticmethod
    def from_code(code: str, message: str) -> Refused:
        """The refusal a change record names (full mode carries refusals through Kafka)."""
        kinds: dict[str, type[Refused]] = {k.code: k for k in (NotFound, PreconditionFailed, Invalid, Forbidden)}
        return kinds.get(code, Invalid)(message)


class NotFound(Refused):
    """No interaction with that id."""

    code = "not-found"


class PreconditionFailed(Refused):
    """The interaction's version is not the one the client expected (If-Match)."""

    code = "precondition-failed"


class Invalid(Refused):
    """The change is malformed, touches what may not change, or would leave an invalid resource."""

    code = "invalid"


class Forbidden(Refused):
    """The writer acts for one party, and the change would leave an interaction that does not name it."""

    code = "forbidden"


def names_party(doc: Document, party_id: str) -> bool:
    """Whether an interaction's relatedParty names the party (what a party-scoped caller may see)."""
    related = doc.get("relatedParty")
    return isinstance(related, list) and any(isinstance(p, dict) and p.get("id") == party_id for p in related)


class State(NamedTuple):
    """An interaction as stored: its version and document (None: not there)."""

    version: int
    doc: Document | None


ABSENT = State(0, None)


@dataclass(frozen=True, slots=True)
class Change:
    """One write to one interaction.

    `body`: the create body (wire form, already validated), the merge patch object or the JSON Patch
    operations; None for delete. `time` (ISO 8601) is when the change was made: it becomes
    `creationDate` or `statusChangeDate` where those are set. `href` is where a created interaction
    lives as its writer saw it (None: the applier's own base, see `apply`): kept in the stored form,
    never shown (answers link to the server that answers, interaction_hub/references.py).
    `expected_versions`: the versions the writer accepts to change (HTTP If-Match; None: any, an
    empty tuple: none). `max_bytes`: the largest the interaction may become as JSON (the API's
    request body limit when the change was made, so a replay of the log decides the same; None: no
    bound). `party_id`: the one party the writer acts for (a party-scoped token): the interaction
    must name it before the change (else NotFound, as if it did not exist) and after it (else
    Forbidden).
    """

    kind: Kind
    interaction_id: str
    time: str
    version: int
    body: Any = None
    href: str | None = None
    expected_versions: tuple[int, ...] | None = None
    max_bytes: int | None = None
    party_id: str | None = None

    @classmethod
    def at(cls, kind: Kind, interaction_id: str, time: str, body: Any = None, **extra: Any) -> Change:
        """A change whose version is its time's."""
        return cls(kind, interaction_id, time, version_at(time), body, **extra)


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    old: State
    new: State

    @property
    def changed(self) -> bool:
        return self.kind in ("create", "update", "delete")


def check(change: Change) -> None:
    """Refuse what is wrong with a change whatever the state (malformed, not patchable).
    `apply` calls it too; the API calls it first to answer such a change without a round trip."""
    if change.kind in ("merge", "json-patch") and deeper_than(change.body, MAX_DEPTH):
        raise Invalid(f"a patch nests at most {MAX_DEPTH} levels of objects and arrays")
    if change.kind == "merge":
        if not isinstance(change.body, dict):
            raise Invalid("a merge patch is a JSON object")
        _not_patchable(set(change.body))
    elif change.kind == "json-patch":
        _not_patchable({_top_level(path) for path in _json_patch_targets(change.body)})
    elif change.kind in ("create", "contribute") and not isinstance(change.body, dict):
        raise Invalid("a create body is a JSON object")
    elif change.kind == "link" and not (isinstance(change.body, dict) and _is_renames(change.body.get("renames", {}))):
        raise Invalid("a link body is an object with optional 'renames': {party id: party id}")


def apply(
    current: State, change: Change, *, href: str | None = None, resolve: Callable[[Document], Document] | None = None
) -> Outcome:
    """What `change` makes of `current`, or Refused. `href`: where a created interaction lives
    when the change does not say (the workers' base URL for channel events). `resolve`: the
    applier's identity resolution (storage/identity.py), applied to what the change leaves."""
    check(change)
    doc = current.doc
    if doc is not None and change.party_id is not None and not names_party(doc, change.party_id):
        # another party's interaction is, to this writer, one that does not exist
        raise NotFound(f"no PartyInteraction with id '{change.interaction_id}'")
    outcome = _applied(current, change, href)
    new = outcome.new.doc
    if resolve is None or new is None or outcome.kind == "superseded":
        return outcome
    final = resolve(new)
    if final is new:
        return outcome
    return _outcome(current, final, change)


def _applied(current: State, change: Change, href: str | None) -> Outcome:
    doc = current.doc
    if change.kind == "link":
        if doc is None:
            return Outcome("unchanged", current, current)
        return _outcome(current, renamed(doc, change.body.get("renames") or {}), change)
    if change.kind == "contribute" and doc is not None:
        newer = change.version >= current.version
        new = _validated_patch_result(doc, contributed(doc, change.body, newer), change.time)
        if change.max_bytes is not None and len(orjson.dumps(new)) > change.max_bytes:
            raise Invalid(f"the PartyInteraction would be larger than {change.max_bytes} bytes")
        return _outcome(current, new, change)
    if change.kind in ("create", "contribute"):
        if doc is not None and change.version < current.version:
            return Outcome("superseded", current, current)
        where = change.href or href
        if where is None:
            raise ValueError("a create change needs an href")
        new = stored_resource(
            change.body,
            interaction_id=change.interaction_id,
            href=where,
            now=change.time,
            previous=doc,
            validate=False,
        )
        return _outcome(current, new, change)
    if doc is None:
        if change.kind == "delete":
            return Outcome("unchanged", current, current)
        raise NotFound(f"no PartyInteraction with id '{change.interaction_id}'")
    if change.expected_versions is not None and current.version not in change.expected_versions:
        raise PreconditionFailed(
            f"PartyInteraction '{change.interaction_id}' has changed (its ETag is now \"{current.version}\")"
        )
    if change.kind == "delete":
        return _outcome(current, None, change)
    new = _validated_patch_result(doc, patched(doc, change.kind, change.body, change.max_bytes), change.time)
    if change.max_bytes is not None and len(orjson.dumps(new)) > change.max_bytes:
        raise Invalid(f"the PartyInteraction would be larger than {change.max_bytes} bytes")
    return _outcome(current, new, change)


def patched(doc: Document, kind: Kind, body: Any, max_bytes: int | None = None) -> Document:
    """What a merge patch or a JSON Patch (checked by `check`) makes of `doc`, a new document, or
    Invalid. The one place patches are applied: to the stored form here, to its v5 view by the v5
    routes (query_api/routes/party_interaction_v5.py)."""
    if kind == "merge":
        result: Document = _merge(doc, body)
        return result
    return _json_patch(doc, body, max_bytes)


def contributed(doc: Document, part: Document, newer: bool) -> Document:
    """`part` merged into `doc` (a new document): objects key by key, arrays gain the items they
    lack, `interactionDate` spans both; a scalar (or array item set) already in `doc` is replaced
    only when `newer`. What may not change (id, href, direction) and `creationDate` stay."""
    result = dict(doc)
    for key, value in part.items():
        before = doc.get(key)
        if key in NOT_PATCHABLE or key in _KEPT:
            continue
        if before is None:
            result[key] = value
        elif key == "interactionDate" and isinstance(before, dict) and isinstance(value, dict):
            result[key] = _span(before, value)
        elif isinstance(before, dict) and isinstance(value, dict):
            result[key] = contributed(before, value, newer)
        elif isinstance(before, list) and isinstance(value, list):
            added = [item for item in value if item not in before]
            # an array at its bound keeps what it holds: a session's 1001st event must not refuse
            # the whole delivery (the model allows MAX_ITEMS of them; extension arrays as many)
            room = max(0, MAX_ITEMS.get(key, MAX_CONTRIBUTED_ITEMS) - len(before))
            result[key] = before + added[:room]
        elif newer:
            result[key] = value
    return result


def _span(one: Document, other: Document) -> Document:
    """The time period covering both: the earlier start, the later end."""
    span = {**other, **one}
    for key, pick in (("startDateTime", min), ("endDateTime", max)):
        moments = [(parse_date_time(p[key]), p[key]) for p in (one, other) if isinstance(p.get(key), str)]
        known = [(instant, text) for instant, text in moments if instant is not None]
        if known:
            span[key] = pick(known)[1]
    return span


def merge_diff(old: Document, new: Document) -> Document:
    """The merge patch (RFC 7386) that turns `old` into `new` (documents without nulls)."""
    diff: Document = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(before, dict) and isinstance(value, dict):
            inner = merge_diff(before, value)
            if inner:
                diff[key] = inner
        elif before != value:
            diff[key] = value
    return diff


def _outcome(current: State, new: Document | None, change: Change) -> Outcome:
    if new is not None and change.party_id is not None and not names_party(new, change.party_id):
        raise Forbidden(f"the PartyInteraction must name the party '{change.party_id}' in relatedParty")
    if new == current.doc:
        return Outcome("unchanged", current, current)
    kind: OutcomeKind = "create" if current.doc is None else ("delete" if new is None else "update")
    return Outcome(kind, current, State(max(change.version, current.version + 1), new))


def _validated_patch_result(old: Document, new: Document, time: str) -> Document:
    for key in NOT_PATCHABLE:
        if new.get(key) != old.get(key):
            raise Invalid(f"not patchable: {key}")
    removed = [key for key in _KEPT if key in old and new.get(key) is None]
    if removed:
        raise Invalid(f"cannot be removed: {', '.join(removed)}")
    if new.get("status") != old.get("status") and new.get("statusChangeDate") == old.get("statusChangeDate"):
        new["statusChangeDate"] = time
    try:
        return validated_resource(new)
    except ValidationError as exc:
        raise Invalid(describe(exc.errors(include_url=False))) from None


def _is_renames(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _not_patchable(touched: set[str]) -> None:
    refused = sorted(touched.intersection(NOT_PATCHABLE))
    if refused:
        raise Invalid(f"not patchable: {', '.join(refused)}")


def _top_level(pointer: str) -> str:
    return pointer[1:].split("/", 1)[0].replace("~1", "/").replace("~0", "~")


def _json_patch_targets(ops: Any) -> list[str]:
    """The paths well-formed JSON Patch operations write to (a `move` also writes its `from`:
    it removes it), or Invalid naming the bad operation. Reading (`test`, `copy`'s `from`) is free."""
    if not isinstance(ops, list):
        raise Invalid("a JSON Patch is an array of operations")
    targets = []
    for index, op in enumerate(ops):
        if not isinstance(op, dict):
            raise Invalid(f"operation {index}: not an object")
        name = op.get("op")
        if not isinstance(name, str) or name not in JSON_PATCH_OPS:
            raise Invalid(f"operation {index}: 'op' must be one of {', '.join(sorted(JSON_PATCH_OPS))}")
        for key in ("path", "from") if name in ("move", "copy") else ("path",):
            pointer = op.get(key)
            if not isinstance(pointer, str) or not _is_pointer(pointer):
                raise Invalid(f"operation {index}: '{key}' must be a JSON Pointer")
            if (key == "path" and name != "test") or (key == "from" and name == "move"):
                if pointer == "":
                    raise Invalid(f"operation {index}: a JSON Patch cannot {name} the whole PartyInteraction")
                targets.append(pointer)
        if name in ("add", "replace", "test") and "value" not in op:
            raise Invalid(f"operation {index}: '{name}' needs a 'value'")
    return targets


def _is_pointer(text: str) -> bool:
    """Whether `text` is a JSON Pointer (RFC 6901): "" or "/"-separated tokens, `~` only in `~0`/`~1`."""
    try:
        jsonpointer.JsonPointer(text)
    except jsonpointer.JsonPointerException:
        return False
    return True


def _json_patch(doc: Document, ops: list[dict[str, Any]], max_bytes: int | None) -> Document:
    """The operations applied in order to a copy of `doc`. With `max_bytes`, the size each one adds
    is counted before it runs, so a few `copy` operations that double an array are refused after
    a few doublings instead of building gigabytes first. How deep each one nests is bounded the
    same way (always), so no step builds what the serializers cannot write."""
    result = copy.deepcopy(doc)
    size = _json_size(result) if max_bytes is not None else 0
    depth = json_depth(result)
    for index, op in enumerate(ops):
        depth = max(depth, _reach(result, op))
        if depth > MAX_DEPTH:
            raise Invalid(
                f"operation {index}: the PartyInteraction would nest more than {MAX_DEPTH} levels of objects and arrays"
            )
        if max_bytes is not None:
            size += _growth(result, op)
            if size > max_bytes:
                raise Invalid(f"operation {index}: the PartyInteraction would be larger than {max_bytes} bytes")
        try:
            result = jsonpatch.apply_patch(result, [op], in_place=True)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError, IndexError) as exc:
            raise Invalid(f"JSON Patch cannot be applied: {exc}") from None
    if not isinstance(result, dict):
        raise Invalid("a JSON Patch must leave an object")
    return result


_NOTHING = object()


def _growth(doc: Document, op: dict[str, Any]) -> int:
    """About how many bytes of JSON `op` adds to `doc` (negative: removes); what it cannot resolve
    counts as nothing (applying it reports the error)."""
    name = op["op"]
    if name in ("add", "replace"):
        added = _json_size(op["value"])
    elif name == "copy":
        added = _json_size(_value_at(doc, op["from"]))
    else:
        added = 0
    if name in ("replace", "remove"):  # an `add` into an array inserts; into an object it may replace
        added -= _json_size(_value_at(doc, op["path"]))
    return added


def _reach(doc: Document, op: dict[str, Any]) -> int:
    """How deep in `doc` what `op` writes nests, at most (levels of objects and arrays)."""
    name = op["op"]
    if name in ("add", "replace"):
        written = op["value"]
    elif name in ("copy", "move"):
        written = _value_at(doc, op["from"])
    else:
        return 0
    return len(jsonpointer.JsonPointer(op["path"]).parts) + (0 if written is _NOTHING else json_depth(written))


def _value_at(doc: Document, pointer: str) -> Any:
    """The value `pointer` names in `doc`, or _NOTHING (none there; `-`, past an array's end, names none)."""
    found = jsonpointer.resolve_pointer(doc, pointer, _NOTHING)
    return _NOTHING if isinstance(found, jsonpointer.EndOfList) else found


def _json_size(value: Any) -> int:
    return 0 if value is _NOTHING else len(orjson.dumps(value))


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result
