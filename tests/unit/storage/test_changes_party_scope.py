"""The party rule of the change model: a change made for one party (a party-scoped token) finds only
interactions naming that party, and may not leave one that does not; the same through the log."""

from __future__ import annotations

import pytest

from ingest.adapters import adapt
from ingest.adapters.tmf683 import event_for
from storage.changes import ABSENT, Forbidden, NotFound, State, apply, names_party
from tests.unit.storage.test_changes import BODY, CREATED_VERSION, HREF, ID, STORED, change

MINE = State(CREATED_VERSION, STORED)  # names cust-3 and agent-7


def scoped(kind: str, body=None, party: str = "cust-3"):  # type: ignore[no-untyped-def]  # test helper
    return change(kind, body, party_id=party)


def test_names_party_looks_at_relatedParty_ids_only() -> None:
    assert names_party(STORED, "cust-3") and names_party(STORED, "agent-7")
    assert not names_party(STORED, "cust-4")
    assert not names_party({**STORED, "relatedParty": "cust-3"}, "cust-3")
    assert not names_party({"id": ID, "description": "cust-3"}, "cust-3")


def test_its_own_interaction_changes_as_for_anyone() -> None:
    outcome = apply(MINE, scoped("merge", {"description": "new"}))
    assert outcome.kind == "update" and outcome.new.doc is not None and outcome.new.doc["description"] == "new"
    assert apply(MINE, scoped("delete")).kind == "delete"


@pytest.mark.parametrize(("kind", "body"), [("merge", {"description": "x"}), ("json-patch", []), ("delete", None)])
def test_another_partys_interaction_is_not_found(kind: str, body) -> None:  # type: ignore[no-untyped-def]  # parametrised
    with pytest.raises(NotFound):
        apply(MINE, scoped(kind, body, party="cust-4"))


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("merge", {"relatedParty": [{"id": "cust-4", "@referredType": "Individual", "role": "customer"}]}),
        ("json-patch", [{"op": "remove", "path": "/relatedParty/0"}]),
        ("json-patch", [{"op": "replace", "path": "/relatedParty/0/id", "value": "cust-4"}]),
    ],
)
def test_a_change_that_drops_the_party_is_forbidden(kind: str, body) -> None:  # type: ignore[no-untyped-def]  # parametrised
    with pytest.raises(Forbidden):
        apply(MINE, scoped(kind, body))


def test_a_create_must_name_the_party() -> None:
    assert apply(ABSENT, change("create", BODY, href=HREF, party_id="agent-7")).kind == "create"
    with pytest.raises(Forbidden):
        apply(ABSENT, change("create", BODY, href=HREF, party_id="cust-4"))


def test_the_party_travels_through_the_log() -> None:
    created = change("create", BODY, href=HREF, party_id="cust-3")
    for original in (scoped("merge", {"description": "x"}), scoped("delete"), created):
        assert adapt(event_for(original)).party_id == "cust-3"
    assert adapt(event_for(change("delete"))).party_id is None
