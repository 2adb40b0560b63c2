"""Gaps between a contact's interactions (full mode's first-contact resolution)."""

from storage.search.contacts import contact_id, member, with_gaps


def test_each_member_gets_the_time_to_the_next_strictly_later_one():
    members = [{"id": i, "at": at} for i, at in (("c", 50.0), ("a", 10.0), ("b", 10.0), ("d", 95.0))]
    gaps = {m["id"]: m["gap"] for m in with_gaps(members)}
    assert gaps == {"a": 40.0, "b": 40.0, "c": 45.0, "d": None}  # a tie is no follow-up
    assert [m["id"] for m in with_gaps(members)] == ["a", "b", "c", "d"]


def test_a_member_is_keyed_by_customer_and_reason_and_carries_its_group_keys():
    doc = {
        "id": "x",
        "creationDate": "2026-03-01T10:00:00Z",
        "reason": "Billing",
        "status": "completed",
        "direction": "inbound",
        "channel": [{"id": "voice"}, {"id": "chat"}],
        "relatedParty": [{"id": "cust-1", "role": "customer"}, {"id": "agent-7", "role": "agent"}],
    }
    cid, customer, reason, found = member("x", 4, doc)
    assert (customer, reason) == ("cust-1", "Billing")
    assert cid == contact_id("cust-1", "Billing") != contact_id("cust-1", "Other") != contact_id("cust-2", "Billing")
    assert found["channel"] == ["voice", "chat"] and found["agent"] == ["agent-7"] and found["version"] == 4
    assert member("x", 4, {**doc, "relatedParty": [{"id": "agent-7", "role": "agent"}]}) is None
