"""Models follow the conformance profile: what the CTK sends is accepted, the rest is checked."""

import random

import pytest
from pydantic import ValidationError

from schemas import EventSubscriptionInput, PartyInteraction, PartyInteractionCreate
from schemas.common import MAX_DEPTH, deeper_than, describe, epoch_seconds, json_depth, parse_date_time

CTK_BODY = {
    "channel": [{"id": "555"}],
    "direction": "inbounds",
    "reason": "The user wanted to buy TV and internet plan",
}


def test_the_ctk_body_is_accepted_as_sent():
    assert PartyInteractionCreate.model_validate(CTK_BODY).to_json_dict() == CTK_BODY


@pytest.mark.parametrize("missing", ["reason", "direction", "channel"])
def test_mandatory_attributes_are_named_when_missing(missing):
    body = {k: v for k, v in CTK_BODY.items() if k != missing}
    with pytest.raises(ValidationError) as error:
        PartyInteractionCreate.model_validate(body)
    assert [e["loc"] for e in error.value.errors()] == [(missing,)]


def test_channel_needs_at_least_one_item_with_an_id():
    with pytest.raises(ValidationError, match="channel"):
        PartyInteractionCreate.model_validate({**CTK_BODY, "channel": []})
    with pytest.raises(ValidationError, match=r"channel\.0\.id"):
        PartyInteractionCreate.model_validate({**CTK_BODY, "channel": [{"name": "web"}]})


def test_related_party_needs_id_and_referred_type():
    with pytest.raises(ValidationError, match="@referredType"):
        PartyInteractionCreate.model_validate({**CTK_BODY, "relatedParty": [{"id": "1"}]})
    ok = {**CTK_BODY, "relatedParty": [{"id": "1", "@referredType": "Individual", "role": "customer"}]}
    assert PartyInteractionCreate.model_validate(ok).to_json_dict() == ok


def test_interaction_item_needs_type_and_role():
    item = {"reason": "r", "item": {"id": "o1", "role": "order"}}
    with pytest.raises(ValidationError, match="@type"):
        PartyInteractionCreate.model_validate({**CTK_BODY, "interactionItem": [item]})
    item["item"]["@type"] = "ProductOrderRef"
    assert PartyInteractionCreate.model_validate({**CTK_BODY, "interactionItem": [item]})


def test_wrong_types_are_refused():
    for bad in ({"reason": 5}, {"channel": {"id": "1"}}, {"status": ["open"]}, {"interactionDate": "today"}):
        with pytest.raises(ValidationError):
            PartyInteractionCreate.model_validate({**CTK_BODY, **bad})


def test_date_times_are_validated_but_kept_as_written():
    period = {"startDateTime": "2026-03-01T10:00:00.123+02:00", "endDateTime": "2026-03-01T09:30:00Z"}
    doc = PartyInteractionCreate.model_validate({**CTK_BODY, "interactionDate": period}).to_json_dict()
    assert doc["interactionDate"] == period
    with pytest.raises(ValidationError, match="ISO 8601"):
        PartyInteractionCreate.model_validate({**CTK_BODY, "interactionDate": {"startDateTime": "yesterday"}})
    with pytest.raises(ValidationError, match="before"):
        PartyInteractionCreate.model_validate(
            {
                **CTK_BODY,
                "interactionDate": {"startDateTime": "2026-03-02T00:00:00Z", "endDateTime": "2026-03-01T00:00:00Z"},
            }
        )


def test_extension_attributes_need_a_subclass_in_type():
    with pytest.raises(ValidationError, match=r"unknown attribute.*queue"):
        PartyInteractionCreate.model_validate({**CTK_BODY, "queue": "billing"})
    with pytest.raises(ValidationError, match="unknown attribute"):
        PartyInteractionCreate.model_validate({**CTK_BODY, "@type": "PartyInteraction", "queue": "billing"})
    voice = {
        **CTK_BODY,
        "@type": "VoicePartyInteraction",
        "@baseType": "PartyInteraction",
        "queue": "billing",
        "handling": {"talkSeconds": 300, "holdSeconds": [10, 20]},
    }
    assert PartyInteractionCreate.model_validate(voice).to_json_dict() == voice


def test_extension_rule_applies_to_sub_resources_too():
    with pytest.raises(ValidationError, match=r"unknown attribute.*colour"):
        PartyInteractionCreate.model_validate({**CTK_BODY, "channel": [{"id": "1", "colour": "red"}]})
    channel = [{"id": "1", "@type": "StoreChannel", "storeCode": "S-12"}]
    assert PartyInteractionCreate.model_validate({**CTK_BODY, "channel": channel}).to_json_dict()["channel"] == channel


def test_error_messages_read_as_the_models_own_checks_wrote_them():
    body = {**CTK_BODY, "reason": None, "interactionDate": {"startDateTime": "soon"}}
    with pytest.raises(ValidationError) as error:
        PartyInteractionCreate.model_validate(body)
    assert describe(error.value.errors(include_url=False)) == (
        "reason: Input should be a valid string; "
        "interactionDate.startDateTime: must be an ISO 8601 date-time such as 2026-01-31T09:30:00Z"
    )
    with pytest.raises(ValidationError) as error:
        PartyInteractionCreate.model_validate({**CTK_BODY, "colour": "red"})
    assert describe(error.value.errors(include_url=False)) == (
        "unknown attribute(s): colour; extension attributes need '@type' naming the subclass"
    )


def test_the_stored_resource_requires_server_attributes():
    with pytest.raises(ValidationError) as error:
        PartyInteraction.model_validate(CTK_BODY)
    assert {e["loc"] for e in error.value.errors()} == {("id",), ("href",)}


def test_subscription_callback_must_be_an_absolute_http_url():
    assert EventSubscriptionInput(callback="http://127.0.0.1:9/listener").query is None
    for bad in ("ftp://x/y", "/relative", "not a url"):
        with pytest.raises(ValidationError):
            EventSubscriptionInput(callback=bad)


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2026-01-01T00:00:00Z", 1767225600.0),
        ("2026-01-01T02:00:00+02:00", 1767225600.0),
        ("2026-01-01T00:00:00.500Z", 1767225600.5),
        ("2026-01-01", 1767225600.0),
        ("2026-01-01T00:00", 1767225600.0),
    ],
)
def test_date_times_denote_instants(text, epoch):
    assert parse_date_time(text).timestamp() == epoch_seconds(text) == epoch


@pytest.mark.parametrize("text", ["20260101", "2026", "42", "2026-13-01", "tomorrow", "2026-01-01T25:00:00Z"])
def test_other_strings_are_not_date_times(text):
    assert parse_date_time(text) is None and epoch_seconds(text) is None


def test_deeper_than_agrees_with_json_depth_and_stops_early_on_any_depth():
    rng = random.Random(64)

    def value(depth: int):
        roll = rng.random()
        if depth > 6 or roll < 0.3:
            return rng.choice([1, "x", None, True])
        if roll < 0.65:
            return {str(i): value(depth + 1) for i in range(rng.randint(0, 3))}
        return [value(depth + 1) for _ in range(rng.randint(0, 3))]

    for _ in range(1000):
        sample = value(0)
        for limit in range(9):
            assert deeper_than(sample, limit) == (json_depth(sample) > limit)
    far = inner = []
    for _ in range(5000):  # far deeper than the interpreter's recursion limit
        inner.append([])
        inner = inner[0]
    assert deeper_than(far, MAX_DEPTH)
