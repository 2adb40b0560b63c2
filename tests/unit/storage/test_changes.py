"""The change model (storage.changes): what each write does to a stored PartyInteraction.

One table per rule: RFC 6902 operations and their errors, RFC 7386 merge patch semantics and its
errors, the checks made whatever the state, versions, create (superseded, replace, creationDate),
statusChangeDate, If-Match (`expected_versions`), delete, purity, and refusal codes. Every case
names the whole resulting document, the exact field or the exact refusal message.
"""

import copy
import time
from dataclasses import replace

import orjson
import pytest

from schemas import PartyInteractionCreate
from storage.changes import (
    ABSENT,
    Change,
    Invalid,
    NotFound,
    Outcome,
    PreconditionFailed,
    Refused,
    State,
    apply,
    check,
    version_at,
)
from tests.store_contract import create_change

ID = "pi-1"
HREF = f"http://h/pi/{ID}"
CREATED = "2026-03-01T09:15:00.000Z"  # when the stored interaction was created
LATER = "2026-03-02T10:00:00.000Z"  # when the changes under test are made
CREATED_VERSION = 1_772_356_500_000_000  # version_at(CREATED)
LATER_VERSION = 1_772_445_600_000_000  # version_at(LATER)

# A create body as a voice channel adapter would send it (already in wire form).
BODY = {
    "reason": "Billing question",
    "description": "Customer asks about a double charge",
    "direction": "inbound",
    "status": "open",
    "channel": [{"id": "voice", "name": "Phone", "role": "contact"}],
    "interactionDate": {"startDateTime": "2026-03-01T09:00:00Z", "endDateTime": "2026-03-01T09:12:00Z"},
    "relatedParty": [
        {"id": "cust-3", "@referredType": "Individual", "role": "customer"},
        {"id": "agent-7", "@referredType": "Individual", "role": "agent"},
    ],
    "note": [{"id": "n1", "author": "agent-7", "text": "Refund requested"}],
}

# What a create of BODY at CREATED stores.
STORED = {
    "id": ID,
    "href": HREF,
    "creationDate": CREATED,
    "description": "Customer asks about a double charge",
    "reason": "Billing question",
    "status": "open",
    "statusChangeDate": CREATED,
    "channel": [{"id": "voice", "name": "Phone", "role": "contact"}],
    "interactionDate": {"startDateTime": "2026-03-01T09:00:00Z", "endDateTime": "2026-03-01T09:12:00Z"},
    "note": [{"id": "n1", "author": "agent-7", "text": "Refund requested"}],
    "relatedParty": [
        {"id": "cust-3", "@referredType": "Individual", "role": "customer"},
        {"id": "agent-7", "@referredType": "Individual", "role": "agent"},
    ],
    "direction": "inbound",
}


# --- helpers -----------------------------------------------------------------------------------


def stored(doc=None, version=CREATED_VERSION):
    """The current state: a copy of `doc` (default STORED) at `version`."""
    return State(version, copy.deepcopy(STORED if doc is None else doc))


def change(kind, body=None, time=LATER, **extra):
    """A change to the interaction ID made at `time` (default LATER)."""
    return Change.at(kind, ID, time, body, **extra)


def edited(doc=STORED, drop=(), **replaced):
    """A copy of `doc` with the attributes in `drop` removed and `replaced` set."""
    result = {key: copy.deepcopy(value) for key, value in doc.items() if key not in drop}
    result.update(copy.deepcopy(replaced))
    return result


def refusal(current, a_change):
    """The refusal `apply` raises for `a_change` on `current`: (class, message)."""
    with pytest.raises(Refused) as caught:
        apply(current, a_change)
    return type(caught.value), caught.value.message


def test_a_create_of_the_body_stores_the_resource_with_server_attributes():
    wire = PartyInteractionCreate.model_validate(BODY).to_json_dict()
    assert wire == BODY
    outcome = apply(ABSENT, Change.at("create", ID, CREATED, wire, href=HREF))
    assert outcome == Outcome("create", ABSENT, State(CREATED_VERSION, STORED))
    assert list(outcome.new.doc)[:2] == ["id", "href"]


N1 = STORED["note"][0]
N2 = {"id": "n2", "text": "Refund sent"}

# --- RFC 6902 JSON Patch: every operation succeeding ------------------------------------------

JSON_PATCH_RESULTS = [
    pytest.param(
        [{"op": "add", "path": "/channel/0/href", "value": "http://ch/voice"}],
        edited(channel=[{"id": "voice", "name": "Phone", "role": "contact", "href": "http://ch/voice"}]),
        id="add-object-member",
    ),
    pytest.param(
        [{"op": "add", "path": "/attachment", "value": [{"url": "http://files/recording.ogg"}]}],
        edited(attachment=[{"url": "http://files/recording.ogg"}]),
        id="add-top-level-member",
    ),
    pytest.param(
        [{"op": "add", "path": "/description", "value": "Double charge on the March bill"}],
        edited(description="Double charge on the March bill"),
        id="add-existing-member-replaces-it",
    ),
    pytest.param(
        [{"op": "add", "path": "/note/0", "value": {"id": "n0", "text": "Called back"}}],
        edited(note=[{"id": "n0", "text": "Called back"}, N1]),
        id="add-array-index-inserts-before",
    ),
    pytest.param(
        [{"op": "add", "path": "/note/1", "value": {"id": "n2", "text": "Refund sent"}}],
        edited(note=[N1, N2]),
        id="add-array-index-equal-to-length-appends",
    ),
    pytest.param(
        [{"op": "add", "path": "/note/-", "value": {"id": "n2", "text": "Refund sent"}}],
        edited(note=[N1, N2]),
        id="add-array-end",
    ),
    pytest.param(
        [{"op": "remove", "path": "/description"}],
        edited(drop=["description"]),
        id="remove-member",
    ),
    pytest.param(
        [{"op": "remove", "path": "/relatedParty/1"}],
        edited(relatedParty=[{"id": "cust-3", "@referredType": "Individual", "role": "customer"}]),
        id="remove-array-item",
    ),
    pytest.param(
        [{"op": "remove", "path": "/interactionDate/endDateTime"}],
        edited(interactionDate={"startDateTime": "2026-03-01T09:00:00Z"}),
        id="remove-nested-member",
    ),
    pytest.param(
        [{"op": "replace", "path": "/reason", "value": "Refund"}],
        edited(reason="Refund"),
        id="replace-member",
    ),
    pytest.param(
        [{"op": "replace", "path": "/channel/0", "value": {"id": "chat"}}],
        edited(channel=[{"id": "chat"}]),
        id="replace-array-item",
    ),
    pytest.param(
        [{"op": "move", "from": "/note/0/text", "path": "/description"}],
        edited(description="Refund requested", note=[{"id": "n1", "author": "agent-7"}]),
        id="move",
    ),
    pytest.param(
        [{"op": "move", "from": "/relatedParty/1", "path": "/relatedParty/0"}],
        edited(
            relatedParty=[
                {"id": "agent-7", "@referredType": "Individual", "role": "agent"},
                {"id": "cust-3", "@referredType": "Individual", "role": "customer"},
            ]
        ),
        id="move-array-item",
    ),
    pytest.param(
        [{"op": "copy", "from": "/reason", "path": "/description"}],
        edited(description="Billing question"),
        id="copy",
    ),
    pytest.param(
        [{"op": "copy", "from": "/channel/0", "path": "/channel/-"}],
        edited(channel=[{"id": "voice", "name": "Phone", "role": "contact"}] * 2),
        id="copy-array-item",
    ),
    pytest.param(
        [
            {"op": "test", "path": "/note/0/author", "value": "agent-7"},
            {"op": "replace", "path": "/description", "value": "Double charge refunded"},
        ],
        edited(description="Double charge refunded"),
        id="test-passes-then-replace",
    ),
    pytest.param(
        [
            {"op": "replace", "path": "/reason", "value": "Refund"},
            {"op": "test", "path": "/reason", "value": "Refund"},
            {"op": "remove", "path": "/note"},
        ],
        edited(drop=["note"], reason="Refund"),
        id="operations-apply-in-order",
    ),
]


@pytest.mark.parametrize("ops, expected", JSON_PATCH_RESULTS)
def test_json_patch_operations(ops, expected):
    outcome = apply(stored(), change("json-patch", ops))
    assert outcome.kind == "update"
    assert outcome.new == State(LATER_VERSION, expected)


# A resource whose @type names a subclass may carry extension attributes, even ones whose names
# need JSON Pointer escapes: "~1" is "/" and "~0" is "~".
EXTENDED = edited(**{"@type": "ServiceInteraction", "crm/ticket": "T-1", "score~raw": 3})

POINTER_ESCAPES = [
    pytest.param(
        [{"op": "replace", "path": "/crm~1ticket", "value": "T-2"}],
        edited(EXTENDED, **{"crm/ticket": "T-2"}),
        id="tilde-one-is-slash",
    ),
    pytest.param(
        [{"op": "remove", "path": "/score~0raw"}],
        edited(EXTENDED, drop=["score~raw"]),
        id="tilde-zero-is-tilde",
    ),
    pytest.param(
        [{"op": "add", "path": "/a~1b~0c", "value": True}],
        edited(EXTENDED, **{"a/b~c": True}),
        id="both-escapes-in-one-name",
    ),
    pytest.param(
        [{"op": "add", "path": "/x~01", "value": 1}],
        edited(EXTENDED, **{"x~1": 1}),
        id="tilde-zero-one-is-tilde-one-not-slash",
    ),
    pytest.param(
        [{"op": "move", "from": "/crm~1ticket", "path": "/crm~1case"}],
        edited(edited(EXTENDED, drop=["crm/ticket"]), **{"crm/case": "T-1"}),
        id="escapes-in-from",
    ),
]


@pytest.mark.parametrize("ops, expected", POINTER_ESCAPES)
def test_json_pointer_escapes_on_extension_attributes(ops, expected):
    outcome = apply(stored(EXTENDED), change("json-patch", ops))
    assert outcome.new == State(LATER_VERSION, expected)


# --- JSON Patch errors --------------------------------------------------------------------------

ONE_OF = "'op' must be one of add, copy, move, remove, replace, test"

JSON_PATCH_ERRORS = [
    # the body
    pytest.param(
        {"op": "remove", "path": "/description"}, "a JSON Patch is an array of operations", id="body-an-object"
    ),
    pytest.param(None, "a JSON Patch is an array of operations", id="body-missing"),
    pytest.param(["remove"], "operation 0: not an object", id="op-a-string"),
    pytest.param(
        [{"op": "test", "path": "/reason", "value": "Billing question"}, None],
        "operation 1: not an object",
        id="second-op-null",
    ),
    # op names
    pytest.param([{"op": "append", "path": "/note/-", "value": {}}], f"operation 0: {ONE_OF}", id="op-unknown"),
    pytest.param([{"op": "Add", "path": "/note/-", "value": {}}], f"operation 0: {ONE_OF}", id="op-wrong-case"),
    pytest.param([{"path": "/description"}], f"operation 0: {ONE_OF}", id="op-missing"),
    # path and from
    pytest.param([{"op": "remove"}], "operation 0: 'path' must be a JSON Pointer", id="path-missing"),
    pytest.param([{"op": "remove", "path": 3}], "operation 0: 'path' must be a JSON Pointer", id="path-a-number"),
    pytest.param([{"op": "remove", "path": None}], "operation 0: 'path' must be a JSON Pointer", id="path-null"),
    pytest.param(
        [{"op": "remove", "path": "description"}],
        "operation 0: 'path' must be a JSON Pointer",
        id="path-without-leading-slash",
    ),
    pytest.param(
        [{"op": "test", "path": "/reason", "value": "Billing question"}, {"op": "remove", "path": ["note"]}],
        "operation 1: 'path' must be a JSON Pointer",
        id="second-op-path-a-list",
    ),
    pytest.param(
        [{"op": "move", "path": "/description"}], "operation 0: 'from' must be a JSON Pointer", id="move-without-from"
    ),
    pytest.param(
        [{"op": "copy", "path": "/description"}], "operation 0: 'from' must be a JSON Pointer", id="copy-without-from"
    ),
    pytest.param(
        [{"op": "copy", "from": 1, "path": "/description"}],
        "operation 0: 'from' must be a JSON Pointer",
        id="copy-from-a-number",
    ),
    # value
    pytest.param([{"op": "add", "path": "/description"}], "operation 0: 'add' needs a 'value'", id="add-without-value"),
    pytest.param(
        [{"op": "replace", "path": "/description"}],
        "operation 0: 'replace' needs a 'value'",
        id="replace-without-value",
    ),
    pytest.param(
        [{"op": "test", "path": "/description"}], "operation 0: 'test' needs a 'value'", id="test-without-value"
    ),
    # not patchable, through path or from
    pytest.param([{"op": "replace", "path": "/id", "value": "pi-2"}], "not patchable: id", id="replace-id"),
    pytest.param([{"op": "remove", "path": "/href"}], "not patchable: href", id="remove-href"),
    pytest.param(
        [{"op": "replace", "path": "/direction", "value": "outbound"}],
        "not patchable: direction",
        id="replace-direction",
    ),
    pytest.param(
        [{"op": "add", "path": "/direction", "value": "inbound"}],
        "not patchable: direction",
        id="add-direction-even-unchanged",
    ),
    pytest.param(
        [{"op": "move", "from": "/direction", "path": "/description"}],
        "not patchable: direction",
        id="move-from-direction",
    ),
    pytest.param(
        [{"op": "move", "from": "/description", "path": "/direction"}],
        "not patchable: direction",
        id="move-to-direction",
    ),
    pytest.param([{"op": "copy", "from": "/reason", "path": "/href"}], "not patchable: href", id="copy-to-href"),
    pytest.param(
        [{"op": "replace", "path": "/id", "value": "x"}, {"op": "remove", "path": "/href"}],
        "not patchable: href, id",
        id="several-named-in-order",
    ),
    # the whole document
    pytest.param(
        [{"op": "replace", "path": "", "value": BODY}],
        "operation 0: a JSON Patch cannot replace the whole PartyInteraction",
        id="replace-whole-document",
    ),
    pytest.param(
        [{"op": "replace", "path": "", "value": ["Billing question"]}],
        "operation 0: a JSON Patch cannot replace the whole PartyInteraction",
        id="replace-whole-document-with-an-array",
    ),
    pytest.param(
        [{"op": "remove", "path": ""}],
        "operation 0: a JSON Patch cannot remove the whole PartyInteraction",
        id="remove-whole-document",
    ),
    pytest.param(
        [{"op": "move", "from": "/direction", "path": "/note"}],
        "not patchable: direction",
        id="move-away-a-not-patchable-attribute",
    ),
    # paths that are not there
    pytest.param(
        [{"op": "remove", "path": "/attachment"}],
        "JSON Patch cannot be applied: can't remove a non-existent object 'attachment'",
        id="remove-missing",
    ),
    pytest.param(
        [{"op": "replace", "path": "/attachment", "value": []}],
        "JSON Patch cannot be applied: can't replace a non-existent object 'attachment'",
        id="replace-missing",
    ),
    # a missing `from` comes out of jsonpatch as a bare KeyError or IndexError
    pytest.param(
        [{"op": "move", "from": "/attachment", "path": "/note"}],
        "JSON Patch cannot be applied: 'attachment'",
        id="move-from-missing",
    ),
    pytest.param(
        [{"op": "copy", "from": "/note/3", "path": "/note/-"}],
        "JSON Patch cannot be applied: list index out of range",
        id="copy-from-missing-index",
    ),
    pytest.param(
        [{"op": "add", "path": "/note/5", "value": {"text": "x"}}],
        "JSON Patch cannot be applied: can't insert outside of list",
        id="add-index-out-of-range",
    ),
    pytest.param(
        [{"op": "replace", "path": "/note/1", "value": {"text": "x"}}],
        "JSON Patch cannot be applied: can't replace outside of list",
        id="replace-index-out-of-range",
    ),
    pytest.param(
        [{"op": "remove", "path": "/note/1"}],
        "JSON Patch cannot be applied: can't remove a non-existent object '1'",
        id="remove-index-out-of-range",
    ),
    pytest.param(
        [{"op": "replace", "path": "/note/x", "value": {}}],
        "JSON Patch cannot be applied: 'x' is not a valid sequence index",
        id="index-not-a-number",
    ),
    pytest.param(
        [{"op": "replace", "path": "/reason/0", "value": "B"}],
        "JSON Patch cannot be applied: Cannot apply token '0' to non-container type <class 'str'>",
        id="path-into-a-string",
    ),
    pytest.param(
        [{"op": "move", "from": "/interactionDate", "path": "/interactionDate/start"}],
        "JSON Patch cannot be applied: Cannot move values into their own children",
        id="move-into-own-child",
    ),
    # test
    pytest.param(
        [{"op": "test", "path": "/status", "value": "closed"}],
        "JSON Patch cannot be applied: open (<class 'str'>) is not equal to tested value closed (<class 'str'>)",
        id="test-fails",
    ),
    # the result
    pytest.param(
        [{"op": "remove", "path": "/creationDate"}], "cannot be removed: creationDate", id="remove-creationDate"
    ),
    pytest.param([{"op": "remove", "path": "/reason"}], "reason: Field required", id="remove-reason"),
    pytest.param(
        [{"op": "replace", "path": "/channel", "value": []}],
        "channel: List should have at least 1 item after validation, not 0",
        id="empty-channel",
    ),
    pytest.param(
        [{"op": "replace", "path": "/statusChangeDate", "value": "yesterday"}],
        "statusChangeDate: must be an ISO 8601 date-time such as 2026-01-31T09:30:00Z",
        id="not-a-date-time",
    ),
    pytest.param(
        [{"op": "add", "path": "/colour", "value": "red"}],
        "unknown attribute(s): colour; extension attributes need '@type' naming the subclass",
        id="extension-without-type",
    ),
]


@pytest.mark.parametrize("ops, message", JSON_PATCH_ERRORS)
def test_json_patch_errors(ops, message):
    assert refusal(stored(), change("json-patch", ops)) == (Invalid, message)


@pytest.mark.parametrize("op", [["add"], {"name": "add"}], ids=["op-a-list", "op-an-object"])
def test_json_patch_op_name_that_is_not_a_string_is_invalid(op):
    ops = [{"op": op, "path": "/description", "value": "x"}]
    assert refusal(stored(), change("json-patch", ops)) == (Invalid, f"operation 0: {ONE_OF}")


@pytest.mark.parametrize("op", ["replace", "add"])
def test_json_patch_cannot_remove_creationDate_by_setting_it_to_null(op):
    ops = [{"op": op, "path": "/creationDate", "value": None}]
    assert refusal(stored(), change("json-patch", ops)) == (Invalid, "cannot be removed: creationDate")


def test_json_patch_may_read_what_it_may_not_change():
    ops = [{"op": "test", "path": "/id", "value": ID}, {"op": "copy", "from": "/direction", "path": "/description"}]
    outcome = apply(stored(), change("json-patch", ops))
    assert outcome.new.doc == edited(description=STORED["direction"])


# --- merge patch errors -------------------------------------------------------------------------

MERGE_ERRORS = [
    pytest.param([{"reason": "Refund"}], "a merge patch is a JSON object", id="body-an-array"),
    pytest.param("Refund", "a merge patch is a JSON object", id="body-a-string"),
    pytest.param(None, "a merge patch is a JSON object", id="body-null"),
    pytest.param({"id": "pi-2"}, "not patchable: id", id="id"),
    pytest.param({"href": "http://elsewhere/pi-1"}, "not patchable: href", id="href"),
    pytest.param({"direction": "outbound"}, "not patchable: direction", id="direction"),
    pytest.param({"direction": "inbound"}, "not patchable: direction", id="direction-even-unchanged"),
    pytest.param({"direction": None}, "not patchable: direction", id="direction-null"),
    pytest.param(
        {"reason": "Refund", "id": "pi-2", "href": "x"}, "not patchable: href, id", id="several-named-in-order"
    ),
    pytest.param({"creationDate": None}, "cannot be removed: creationDate", id="creationDate-null"),
    pytest.param({"reason": None}, "reason: Field required", id="reason-null"),
    pytest.param({"channel": None}, "channel: Field required", id="channel-null"),
    pytest.param(
        {"interactionDate": {"endDateTime": "2026-03-01T08:00:00Z"}},
        "interactionDate: endDateTime is before startDateTime",
        id="end-before-start",
    ),
    pytest.param(
        {"colour": "red"},
        "unknown attribute(s): colour; extension attributes need '@type' naming the subclass",
        id="extension-without-type",
    ),
]


@pytest.mark.parametrize("body, message", MERGE_ERRORS)
def test_merge_patch_errors(body, message):
    assert refusal(stored(), change("merge", body)) == (Invalid, message)


# --- check: what is refused whatever the state ---------------------------------------------------

REFUSED_WHATEVER_THE_STATE = [
    pytest.param(change("merge", ["x"]), "a merge patch is a JSON object", id="merge-not-an-object"),
    pytest.param(change("merge", {"id": "pi-2"}), "not patchable: id", id="merge-id"),
    pytest.param(change("json-patch", {}), "a JSON Patch is an array of operations", id="json-patch-not-an-array"),
    pytest.param(
        change("json-patch", [{"op": "move", "path": "/a"}]),
        "operation 0: 'from' must be a JSON Pointer",
        id="json-patch-malformed",
    ),
    pytest.param(
        change("json-patch", [{"op": "remove", "path": "/direction"}]),
        "not patchable: direction",
        id="json-patch-direction",
    ),
    pytest.param(change("create", ["x"], href=HREF), "a create body is a JSON object", id="create-not-an-object"),
]


@pytest.mark.parametrize("a_change, message", REFUSED_WHATEVER_THE_STATE)
def test_check_refuses_without_a_state(a_change, message):
    with pytest.raises(Invalid) as caught:
        check(a_change)
    assert caught.value.message == message


@pytest.mark.parametrize("a_change, message", REFUSED_WHATEVER_THE_STATE)
def test_what_check_refuses_comes_before_not_found_and_if_match(a_change, message):
    expecting_another_version = replace(a_change, expected_versions=(1,))
    assert refusal(ABSENT, a_change) == (Invalid, message)
    assert refusal(stored(), expecting_another_version) == (Invalid, message)


NEEDS_THE_STATE = [
    pytest.param(change("json-patch", [{"op": "remove", "path": "/attachment"}]), id="remove-missing-path"),
    pytest.param(change("json-patch", [{"op": "test", "path": "/status", "value": "closed"}]), id="failing-test"),
    pytest.param(change("json-patch", [{"op": "remove", "path": "/reason"}]), id="invalid-result"),
    pytest.param(change("merge", {"creationDate": None}), id="merge-removes-creationDate"),
    pytest.param(change("merge", {"reason": None}), id="merge-removes-reason"),
    pytest.param(change("delete"), id="delete"),
    pytest.param(change("create", BODY, href=HREF), id="create"),
]


@pytest.mark.parametrize("a_change", NEEDS_THE_STATE)
def test_check_accepts_what_depends_on_the_state(a_change):
    assert check(a_change) is None


# --- RFC 7386 merge patch semantics -----------------------------------------------------------

MERGE_RESULTS = [
    pytest.param({"reason": "Refund"}, edited(reason="Refund"), id="replace-member"),
    pytest.param(
        {"attachment": [{"url": "http://files/recording.ogg"}]},
        edited(attachment=[{"url": "http://files/recording.ogg"}]),
        id="add-member",
    ),
    pytest.param({"description": None}, edited(drop=["description"]), id="null-removes"),
    pytest.param(
        {"interactionDate": {"endDateTime": "2026-03-01T09:30:00Z"}},
        edited(interactionDate={**STORED["interactionDate"], "endDateTime": "2026-03-01T09:30:00Z"}),
        id="nested-objects-merge",
    ),
    pytest.param(
        {"interactionDate": {"endDateTime": None}},
        edited(interactionDate={"startDateTime": "2026-03-01T09:00:00Z"}),
        id="nested-null-removes",
    ),
    pytest.param(
        {"note": [{"id": "n2", "text": "Refund sent"}]},
        edited(note=[{"id": "n2", "text": "Refund sent"}]),
        id="arrays-replace",
    ),
    pytest.param({"channel": [{"id": "voice"}]}, edited(channel=[{"id": "voice"}]), id="array-items-are-not-merged"),
    pytest.param(
        {"reason": "Refund", "description": None, "note": []},
        edited(drop=["description"], reason="Refund", note=[]),
        id="several-at-once",
    ),
    pytest.param(
        {"description": None, "attachment": None},
        edited(drop=["description"]),
        id="null-for-an-absent-member-is-ignored",
    ),
]


@pytest.mark.parametrize("body, expected", MERGE_RESULTS)
def test_merge_patch(body, expected):
    outcome = apply(stored(), change("merge", body))
    assert outcome.kind == "update"
    assert outcome.new == State(LATER_VERSION, expected)


# --- versions -----------------------------------------------------------------------------------

VERSION_AT = [
    pytest.param("1970-01-01T00:00:00Z", 0, id="epoch"),
    pytest.param("1970-01-01T00:00:01.000001Z", 1_000_001, id="microseconds"),
    pytest.param(CREATED, CREATED_VERSION, id="milliseconds-z"),
    pytest.param("2026-03-01T10:15:00+01:00", CREATED_VERSION, id="offset"),
    pytest.param("2026-03-01T09:15:00", CREATED_VERSION, id="no-offset-is-utc"),
    pytest.param("2026-03-01", 1_772_323_200_000_000, id="date-only"),
    pytest.param(LATER, LATER_VERSION, id="later"),
]


@pytest.mark.parametrize("time, version", VERSION_AT)
def test_version_at_is_microseconds_since_the_epoch(time, version):
    assert version_at(time) == version
    assert Change.at("delete", ID, time).version == version


@pytest.mark.parametrize("time", ["yesterday", "20260301", "2026-03-01T25:00:00Z"])
def test_version_at_refuses_what_is_not_a_date_time(time):
    with pytest.raises(ValueError) as caught:
        version_at(time)
    assert str(caught.value) == f"not an ISO 8601 date-time: {time!r}"


NEW_VERSIONS = [
    pytest.param(LATER_VERSION - 10, LATER_VERSION, id="change-newer-takes-its-own-version"),
    pytest.param(LATER_VERSION, LATER_VERSION + 1, id="same-microsecond-adds-one"),
    pytest.param(LATER_VERSION + 500, LATER_VERSION + 501, id="lagging-clock-adds-one"),
]


@pytest.mark.parametrize("current_version, new_version", NEW_VERSIONS)
@pytest.mark.parametrize(
    "kind, body",
    [
        pytest.param("merge", {"reason": "Refund"}, id="merge"),
        pytest.param("json-patch", [{"op": "replace", "path": "/reason", "value": "Refund"}], id="json-patch"),
    ],
)
def test_a_change_that_alters_takes_the_later_of_its_version_and_current_plus_one(
    kind, body, current_version, new_version
):
    current = stored(version=current_version)
    assert apply(current, change(kind, body)) == Outcome("update", current, State(new_version, edited(reason="Refund")))


@pytest.mark.parametrize("current_version, new_version", NEW_VERSIONS)
def test_a_delete_takes_the_later_of_its_version_and_current_plus_one(current_version, new_version):
    current = stored(version=current_version)
    assert apply(current, change("delete")) == Outcome("delete", current, State(new_version, None))


UNCHANGED = [
    pytest.param(change("merge", {}), id="empty-merge"),
    pytest.param(change("merge", {"reason": "Billing question"}), id="merge-same-value"),
    pytest.param(change("merge", {"status": "open"}), id="merge-same-status"),
    pytest.param(change("merge", {"attachment": None}), id="merge-removes-absent-member"),
    pytest.param(
        change("merge", {"interactionDate": {"startDateTime": "2026-03-01T09:00:00Z"}}), id="merge-same-nested"
    ),
    pytest.param(change("json-patch", []), id="empty-json-patch"),
    pytest.param(change("json-patch", [{"op": "test", "path": "/status", "value": "open"}]), id="passing-test-only"),
    pytest.param(
        change("json-patch", [{"op": "replace", "path": "/reason", "value": "Billing question"}]), id="replace-same"
    ),
    pytest.param(change("json-patch", [{"op": "move", "from": "/reason", "path": "/reason"}]), id="move-onto-itself"),
    pytest.param(
        change(
            "json-patch",
            [
                {"op": "replace", "path": "/reason", "value": "Refund"},
                {"op": "replace", "path": "/reason", "value": "Billing question"},
            ],
        ),
        id="replace-and-back",
    ),
    pytest.param(change("create", BODY, href=HREF), id="create-same-body-later"),
]


@pytest.mark.parametrize("a_change", UNCHANGED)
def test_an_unchanged_result_keeps_the_state(a_change):
    current = stored()
    outcome = apply(current, a_change)
    assert outcome == Outcome("unchanged", current, current)
    assert outcome.changed is False


def test_a_create_of_the_stored_document_as_it_is_changes_nothing():
    current = stored()
    assert apply(current, create_change(STORED)) == Outcome("unchanged", current, current)


# --- create -----------------------------------------------------------------------------------

NEW_BODY = {
    "reason": "Refund",
    "direction": "inbound",
    "status": "open",
    "channel": [{"id": "voice"}],
    "note": [{"id": "n2", "text": "Refund sent"}],
}

# What NEW_BODY makes of STORED: attributes replaced (description, interactionDate and relatedParty
# are gone), creationDate and, the status being the same, statusChangeDate kept.
REPLACED = {
    "id": ID,
    "href": HREF,
    "creationDate": CREATED,
    "reason": "Refund",
    "status": "open",
    "statusChangeDate": CREATED,
    "channel": [{"id": "voice"}],
    "note": [{"id": "n2", "text": "Refund sent"}],
    "direction": "inbound",
}

SUPERSEDED_CREATES = [
    pytest.param(LATER_VERSION, CREATED, id="older"),
    pytest.param(LATER_VERSION + 1, LATER, id="older-by-a-microsecond"),
]


@pytest.mark.parametrize("current_version, time", SUPERSEDED_CREATES)
def test_a_create_older_than_the_stored_version_is_superseded(current_version, time):
    current = stored(version=current_version)
    outcome = apply(current, change("create", NEW_BODY, time=time, href=HREF))
    assert outcome == Outcome("superseded", current, current)
    assert outcome.changed is False


REPLACING_CREATES = [
    pytest.param(LATER_VERSION, LATER_VERSION + 1, id="equal-version"),
    pytest.param(CREATED_VERSION, LATER_VERSION, id="newer-version"),
]


@pytest.mark.parametrize("current_version, new_version", REPLACING_CREATES)
def test_a_create_at_an_equal_or_newer_version_replaces_but_keeps_creationDate(current_version, new_version):
    current = stored(version=current_version)
    outcome = apply(current, change("create", NEW_BODY, href=HREF))
    assert outcome == Outcome("update", current, State(new_version, REPLACED))
    assert outcome.changed is True


CREATE_HREFS = [
    pytest.param("http://api/pi/pi-1", None, "http://api/pi/pi-1", id="change-href"),
    pytest.param(None, "http://worker/pi/pi-1", "http://worker/pi/pi-1", id="applier-href"),
    pytest.param("http://api/pi/pi-1", "http://worker/pi/pi-1", "http://api/pi/pi-1", id="change-href-wins"),
]


@pytest.mark.parametrize("change_href, applier_href, stored_href", CREATE_HREFS)
def test_a_created_interaction_lives_at_the_change_href_else_the_appliers(change_href, applier_href, stored_href):
    outcome = apply(ABSENT, change("create", BODY, time=CREATED, href=change_href), href=applier_href)
    assert outcome == Outcome("create", ABSENT, State(CREATED_VERSION, edited(href=stored_href)))
    assert outcome.changed is True


def test_a_create_without_any_href_is_a_programming_error():
    with pytest.raises(ValueError) as caught:
        apply(ABSENT, change("create", BODY))
    assert str(caught.value) == "a create change needs an href"


def test_a_new_interaction_without_status_has_no_statusChangeDate():
    body = {"reason": "Billing question", "direction": "inbound", "channel": [{"id": "voice"}]}
    outcome = apply(ABSENT, change("create", body, href=HREF))
    assert outcome.new == State(LATER_VERSION, {**body, "id": ID, "href": HREF, "creationDate": LATER})


# --- statusChangeDate ---------------------------------------------------------------------------

EARLIER = "2026-03-02T08:00:00Z"

STATUS_CHANGE_DATES = [
    pytest.param(change("merge", {"status": "closed"}), LATER, id="merge-new-status-gets-change-time"),
    pytest.param(
        change("json-patch", [{"op": "replace", "path": "/status", "value": "closed"}]),
        LATER,
        id="json-patch-new-status-gets-change-time",
    ),
    pytest.param(change("merge", {"description": "Refunded"}), CREATED, id="status-unchanged-keeps-it"),
    pytest.param(change("merge", {"status": "closed", "statusChangeDate": EARLIER}), EARLIER, id="merge-explicit-wins"),
    pytest.param(
        change(
            "json-patch",
            [
                {"op": "replace", "path": "/status", "value": "closed"},
                {"op": "replace", "path": "/statusChangeDate", "value": EARLIER},
            ],
        ),
        EARLIER,
        id="json-patch-explicit-wins",
    ),
    pytest.param(change("merge", {"statusChangeDate": EARLIER}), EARLIER, id="explicit-without-status-change"),
    pytest.param(
        change("create", {**BODY, "status": "closed"}, href=HREF), LATER, id="create-new-status-gets-change-time"
    ),
    pytest.param(change("create", {**BODY, "reason": "Refund"}, href=HREF), CREATED, id="create-same-status-keeps-it"),
    pytest.param(
        change("create", {**BODY, "status": "closed", "statusChangeDate": EARLIER}, href=HREF),
        EARLIER,
        id="create-explicit-wins",
    ),
]


@pytest.mark.parametrize("a_change, status_change_date", STATUS_CHANGE_DATES)
def test_status_change_date(a_change, status_change_date):
    outcome = apply(stored(), a_change)
    assert outcome.kind == "update"
    assert outcome.new.doc["statusChangeDate"] == status_change_date


def test_a_status_set_for_the_first_time_gets_the_change_time():
    current = stored(edited(drop=["status", "statusChangeDate"]))
    outcome = apply(current, change("merge", {"status": "open"}))
    assert outcome.new == State(LATER_VERSION, STORED | {"statusChangeDate": LATER})


# --- If-Match: expected_versions ----------------------------------------------------------------

V = CREATED_VERSION
CHANGED = f"PartyInteraction '{ID}' has changed (its ETag is now \"{V}\")"

ACCEPTED_VERSIONS = [
    pytest.param(None, id="none-accepts-any"),
    pytest.param((V,), id="the-current-version"),
    pytest.param((V - 1, V, V + 1), id="one-of-several"),
]

REFUSED_VERSIONS = [
    pytest.param((V - 1,), id="an-older-version"),
    pytest.param((V + 1,), id="a-newer-version"),
    pytest.param((), id="empty-accepts-none"),
]

WRITES = [
    pytest.param("merge", {"reason": "Refund"}, State(LATER_VERSION, edited(reason="Refund")), id="merge"),
    pytest.param(
        "json-patch",
        [{"op": "remove", "path": "/description"}],
        State(LATER_VERSION, edited(drop=["description"])),
        id="json-patch",
    ),
    pytest.param("delete", None, State(LATER_VERSION, None), id="delete"),
]


@pytest.mark.parametrize("kind, body, applied", WRITES)
@pytest.mark.parametrize("expected_versions", ACCEPTED_VERSIONS)
def test_expected_versions_that_accept(kind, body, applied, expected_versions):
    outcome = apply(stored(), change(kind, body, expected_versions=expected_versions))
    assert outcome.new == applied


@pytest.mark.parametrize("kind, body, applied", WRITES)
@pytest.mark.parametrize("expected_versions", REFUSED_VERSIONS)
def test_expected_versions_that_refuse_leave_the_state_untouched(kind, body, applied, expected_versions):
    current = stored()
    a_change = change(kind, body, expected_versions=expected_versions)
    assert refusal(current, a_change) == (PreconditionFailed, CHANGED)
    assert current == State(V, STORED)


def test_expected_versions_are_checked_before_an_unchanged_result():
    a_change = change("merge", {"reason": "Billing question"}, expected_versions=(V - 1,))
    assert refusal(stored(), a_change) == (PreconditionFailed, CHANGED)


PATCHES = [
    pytest.param("merge", {"reason": "Refund"}, id="merge"),
    pytest.param("json-patch", [{"op": "remove", "path": "/description"}], id="json-patch"),
]


@pytest.mark.parametrize("expected_versions", [None, (V,), ()], ids=["any", "a-version", "none"])
@pytest.mark.parametrize("kind, body", PATCHES)
def test_not_found_comes_before_the_precondition(kind, body, expected_versions):
    a_change = change(kind, body, expected_versions=expected_versions)
    assert refusal(ABSENT, a_change) == (NotFound, f"no PartyInteraction with id '{ID}'")


# --- delete -------------------------------------------------------------------------------------


def test_delete_of_an_existing_interaction():
    current = stored()
    outcome = apply(current, change("delete"))
    assert outcome == Outcome("delete", current, State(LATER_VERSION, None))
    assert outcome.changed is True


@pytest.mark.parametrize("expected_versions", [None, (V,), ()], ids=["any", "a-version", "none"])
def test_delete_of_a_missing_interaction_is_unchanged(expected_versions):
    outcome = apply(ABSENT, change("delete", expected_versions=expected_versions))
    assert outcome == Outcome("unchanged", ABSENT, ABSENT)
    assert outcome.old.doc is None
    assert outcome.changed is False


@pytest.mark.parametrize("kind, body", PATCHES)
def test_patch_of_a_missing_interaction_is_not_found(kind, body):
    assert refusal(ABSENT, change(kind, body)) == (NotFound, f"no PartyInteraction with id '{ID}'")


# --- purity -------------------------------------------------------------------------------------

ANY_CHANGE = [
    pytest.param(stored(), change("create", NEW_BODY, href=HREF), id="create-replaces"),
    pytest.param(ABSENT, change("create", BODY, href=HREF), id="create-new"),
    pytest.param(stored(version=LATER_VERSION + 1), change("create", NEW_BODY, href=HREF), id="create-superseded"),
    pytest.param(
        stored(),
        change(
            "merge",
            {
                "status": "closed",
                "interactionDate": {"endDateTime": None},
                "note": [{"id": "n2", "text": "Refund sent"}],
            },
        ),
        id="merge",
    ),
    pytest.param(
        stored(),
        change(
            "json-patch",
            [
                {"op": "add", "path": "/note/-", "value": {"id": "n2", "text": "Refund sent"}},
                {"op": "move", "from": "/note/0/text", "path": "/description"},
                {"op": "copy", "from": "/channel/0", "path": "/channel/-"},
                {"op": "replace", "path": "/interactionDate/endDateTime", "value": "2026-03-01T09:40:00Z"},
                {"op": "remove", "path": "/relatedParty/1/role"},
                {"op": "replace", "path": "/status", "value": "closed"},
            ],
        ),
        id="json-patch",
    ),
    pytest.param(stored(), change("delete"), id="delete"),
    pytest.param(
        stored(),
        change(
            "json-patch",
            [
                {"op": "remove", "path": "/note/0/text"},
                {"op": "test", "path": "/status", "value": "closed"},
            ],
        ),
        id="refused-json-patch",
    ),
    pytest.param(stored(), change("merge", {"note": [{"id": "n2"}], "reason": None}), id="refused-merge"),
    pytest.param(stored(), change("merge", {"reason": "Refund"}, expected_versions=()), id="refused-precondition"),
]


def result(current, a_change):
    """What `apply` gives: the outcome, or the refusal's class and message."""
    try:
        return apply(current, a_change)
    except Refused as refused:
        return type(refused), refused.message


@pytest.mark.parametrize("current, a_change", ANY_CHANGE)
def test_apply_mutates_neither_the_current_document_nor_the_change_body(current, a_change):
    doc_before, body_before = copy.deepcopy(current.doc), copy.deepcopy(a_change.body)
    result(current, a_change)
    assert current.doc == doc_before
    assert a_change.body == body_before


@pytest.mark.parametrize("current, a_change", ANY_CHANGE)
def test_apply_gives_the_same_result_twice(current, a_change):
    first = result(current, a_change)
    assert result(current, a_change) == first


# --- refusal codes ------------------------------------------------------------------------------

CODES = [
    pytest.param("not-found", NotFound, id="not-found"),
    pytest.param("precondition-failed", PreconditionFailed, id="precondition-failed"),
    pytest.param("invalid", Invalid, id="invalid"),
    pytest.param("something-new", Invalid, id="unknown-code-is-invalid"),
]


@pytest.mark.parametrize("code, kind", CODES)
def test_refused_from_code(code, kind):
    refused = Refused.from_code(code, "the message")
    assert type(refused) is kind
    assert refused.message == "the message"
    assert str(refused) == "the message"


@pytest.mark.parametrize("kind", [NotFound, PreconditionFailed, Invalid])
def test_each_refusal_round_trips_through_its_code(kind):
    original = kind("why")
    copied = Refused.from_code(original.code, original.message)
    assert (type(copied), copied.code, copied.message) == (kind, original.code, "why")


# --- size bound -----------------------------------------------------------------------------------


def doubling(times):
    """A JSON Patch of `times` copies, each doubling the note array: 2**times notes if it ran."""
    return [{"op": "add", "path": "/note", "value": [{"text": "x" * 20}]}] + [
        {"op": "copy", "from": "/note", "path": "/note/-"} for _ in range(times)
    ]


def test_a_json_patch_is_refused_as_soon_as_it_would_pass_the_bound_without_building_the_rest():
    started = time.perf_counter()
    found = refusal(stored(), change("json-patch", doubling(22), max_bytes=1024 * 1024))
    assert time.perf_counter() - started < 1.0  # unbounded, this builds 2**22 notes: seconds and gigabytes
    assert found[0] is Invalid and found[1].endswith("the PartyInteraction would be larger than 1048576 bytes")
    assert found[1].startswith("operation ")


def copies(times):
    """A JSON Patch adding a note, then `times` copies of it."""
    return [{"op": "add", "path": "/note", "value": [{"text": "x" * 20}]}] + [
        {"op": "copy", "from": "/note/0", "path": "/note/-"} for _ in range(times)
    ]


def test_a_json_patch_within_the_bound_applies():
    outcome = apply(stored(), change("json-patch", copies(3), max_bytes=64 * 1024))
    assert outcome.new.doc is not None and outcome.new.doc["note"] == [{"text": "x" * 20}] * 4
    assert (
        refusal(stored(), change("json-patch", copies(3), max_bytes=len(orjson.dumps(outcome.new.doc)) - 1))[0]
        is Invalid
    )


def test_a_merge_patch_whose_result_passes_the_bound_is_refused():
    body = {"description": "x" * 2000}
    assert refusal(stored(), change("merge", body, max_bytes=2000)) == (
        Invalid,
        "the PartyInteraction would be larger than 2000 bytes",
    )
    assert apply(stored(), change("merge", body, max_bytes=4000)).kind == "update"


def test_without_a_bound_nothing_is_refused_for_size():
    assert apply(stored(), change("json-patch", copies(400))).kind == "update"


# -- contribute: one record's part of an interaction several records make ------------------------


def _part(time: str, status: str, note: str, external: str, start: str, end: str) -> dict:
    return {
        "@type": "EmailInteraction",
        "direction": "inbound",
        "reason": "Bill question",
        "status": status,
        "channel": [{"id": "email", "name": "Email", "role": "primary", "@referredType": "Channel"}],
        "interactionDate": {"startDateTime": start, "endDateTime": end},
        "note": [{"date": time, "text": note}],
        "externalIdentifier": [{"id": external, "owner": "mail", "externalIdentifierType": "Message-ID"}],
        "thread": {"subject": "Bill", "lastMessageId": external},
    }


FIRST = Change.at(
    "contribute",
    "thread-1",
    "2026-11-20T09:00:00Z",
    _part("2026-11-20T09:00:00Z", "inProgress", "question", "m1@x", "2026-11-20T09:00:00Z", "2026-11-20T09:00:00Z"),
    href="http://h/x/thread-1",
)
REPLY = Change.at(
    "contribute",
    "thread-1",
    "2026-11-20T10:00:00Z",
    _part("2026-11-20T10:00:00Z", "completed", "answer", "m2@x", "2026-11-20T10:00:00Z", "2026-11-20T10:00:00Z"),
    href="http://h/x/thread-1",
)


def test_a_first_contribution_creates_the_interaction():
    outcome = apply(ABSENT, FIRST)
    assert outcome.kind == "create" and outcome.new.doc is not None
    assert outcome.new.doc["note"] == [{"date": "2026-11-20T09:00:00Z", "text": "question"}]
    assert outcome.new.doc["creationDate"] == "2026-11-20T09:00:00Z"


@pytest.mark.parametrize("order", [(FIRST, REPLY), (REPLY, FIRST)], ids=["in order", "reply first"])
def test_contributions_merge_to_the_same_interaction_in_either_order(order):
    state = ABSENT
    for change in order:
        state = apply(state, change).new
    doc = state.doc
    assert doc is not None
    assert sorted(n["text"] for n in doc["note"]) == ["answer", "question"]
    assert sorted(e["id"] for e in doc["externalIdentifier"]) == ["m1@x", "m2@x"]
    # the interaction spans both records; the newer record's values win, the older only fills gaps
    assert doc["interactionDate"] == {"startDateTime": "2026-11-20T09:00:00Z", "endDateTime": "2026-11-20T10:00:00Z"}
    assert doc["status"] == "completed" and doc["thread"]["lastMessageId"] == "m2@x"


def test_the_same_contribution_twice_changes_nothing_the_second_time():
    state = apply(apply(ABSENT, FIRST).new, REPLY).new
    again = apply(state, REPLY)
    assert again.kind == "unchanged" and again.new == state


def test_a_contribution_keeps_what_may_not_change():
    state = apply(ABSENT, FIRST).new
    outbound = replace(REPLY, body={**REPLY.body, "direction": "outbound", "creationDate": "2020-01-01T00:00:00Z"})
    doc = apply(state, outbound).new.doc
    assert doc is not None and doc["direction"] == "inbound" and doc["creationDate"] == "2026-11-20T09:00:00Z"


def test_a_contribution_that_would_leave_an_invalid_interaction_is_refused():
    state = apply(ABSENT, FIRST).new
    with pytest.raises(Invalid):
        apply(state, replace(REPLY, body={**REPLY.body, "note": [{"text": 5}]}))


def test_a_contribution_to_a_full_array_keeps_what_it_holds_instead_of_refusing():
    from schemas.party_interaction import MAX_ITEMS

    full = [{"date": "2026-11-20T09:00:00Z", "text": f"n{i}"} for i in range(MAX_ITEMS["note"])]
    state = apply(ABSENT, replace(FIRST, body={**FIRST.body, "note": full})).new
    outcome = apply(state, REPLY)
    assert outcome.new.doc is not None and len(outcome.new.doc["note"]) == MAX_ITEMS["note"]
    assert outcome.new.doc["status"] == "completed"  # the rest of the record still counts


def test_contributions_gather_at_most_a_bounded_number_of_items_in_extension_arrays():
    from storage.changes import MAX_CONTRIBUTED_ITEMS

    many = {"thread": {"messages": [f"m{i}" for i in range(MAX_CONTRIBUTED_ITEMS)]}}
    state = apply(ABSENT, replace(FIRST, body={**FIRST.body, **many})).new
    more = replace(REPLY, body={**REPLY.body, "thread": {"messages": ["one more"]}})
    doc = apply(state, more).new.doc
    assert doc is not None and len(doc["thread"]["messages"]) == MAX_CONTRIBUTED_ITEMS
