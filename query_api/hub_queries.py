"""What a listener's query may name: the attributes of the events the hub sends, as the models
define them (schemas/events.py and schemas/party_interaction.py for v4; v5 events are made from
those by schemas/party_interaction_v5.py).

A condition on an attribute no event has can never hold (`nonsense.path=1`, or a path without
`event.partyInteraction.`), and one on an object rather than a value neither: either would leave
its listener waiting for nothing, so registration refuses it. An object that takes extension
attributes (a TmfModel, when its `@type` names a subclass) may have attributes of any name, and
so may they: the interaction itself, for one, as channel events write it.
"""

from __future__ import annotations

import copy
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from schemas.events import PartyInteractionEvent
from schemas.party_interaction_v5 import v5_event
from storage.query import Query
from storage.tmf630 import QueryError

# In a specimen: this object takes extension attributes. No attribute is named so (a segment of a
# query path cannot be: storage/tmf630.py).
_EXTENSIBLE = "*"
_ANYTHING = object()  # below an extension attribute: anything


def _specimen(model: type[BaseModel]) -> dict[str, Any]:
    """An instance of `model` with every attribute it declares, models inside likewise and arrays of
    one item: every instance's attributes are among its own."""
    found: dict[str, Any] = {_EXTENSIBLE: ""} if model.model_config.get("extra") == "allow" else {}
    for name, info in model.model_fields.items():
        found[info.alias or name] = _value(info.annotation)
    return found


def _value(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _specimen(annotation)
    if get_origin(annotation) is list:
        return [_value(get_args(annotation)[0])]
    for part in get_args(annotation):  # `X | None`, `Annotated[X, ...]`: the part that is not a plain value
        value = _value(part)
        if value != "":
            return value
    return ""  # a value, without attributes


def _v5_specimen(v4: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(v4)
    # a party v5 gives by value (or a reference v4 cannot tell apart) is kept in the v4 item's
    # extension attribute `partyOrPartyRole` and shown whole there in v5: it has any attributes
    interaction = event["event"]["partyInteraction"]
    for party in (interaction["relatedParty"][0], interaction["interactionItem"][0]["relatedParty"][0]):
        party["partyOrPartyRole"] = {_EXTENSIBLE: ""}
    return v5_event(event, href_base="")


V4_EVENT = _specimen(PartyInteractionEvent)
V5_EVENT = _v5_specimen(V4_EVENT)


def check_attributes(query: Query, *, v5: bool) -> None:
    """QueryError, naming the attribute, unless every condition of a listener's query is on a value
    an event (of v5's shape, or v4's) can have."""
    kind = "TMF683 v5 event" if v5 else "TMF683 event"
    for condition in query.conditions:
        node: Any = V5_EVENT if v5 else V4_EVENT
        at = ""
        for name in condition.path.split("."):
            if isinstance(node, list):
                node = node[0]
            if node is _ANYTHING:
                continue
            if not isinstance(node, dict):
                raise QueryError(f"'{condition.path}': '{at}' is a value of a {kind}, without attributes")
            if name in node:
                node = node[name]
            elif _EXTENSIBLE in node:
                node = _ANYTHING
            else:
                known = ", ".join(key for key in node if key != _EXTENSIBLE)
                hint = "" if at else " (the interaction's attributes are under event.partyInteraction.)"
                raise QueryError(
                    f"'{condition.path}' is not an attribute of a {kind}: {at or 'an event'} has {known}{hint}"
                )
            at = f"{at}.{name}" if at else name
        if isinstance(node, list):
            node = node[0]
        if isinstance(node, dict):
            known = ", ".join(key for key in node if key != _EXTENSIBLE)
            raise QueryError(f"'{condition.path}' is an object of a {kind}, not a value: its attributes are {known}")
