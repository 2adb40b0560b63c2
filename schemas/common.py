"""Building blocks shared by every TMF model: polymorphism attributes, date-times, strictness."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

# ISO 8601 date or date-time, optional fraction and offset. Stricter than datetime.fromisoformat,
# which would also take "20260101" and make every eight-digit id look like a date. ASCII digits
# (what fromisoformat reads), so the same pattern holds in the OpenAPI (ECMA-262 regular expressions).
DATE_TIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?)?"
    r"(?:Z|z|[+-][0-9]{2}:?[0-9]{2})?$"
)
_DATE_TIME = re.compile(DATE_TIME_PATTERN)
DATE_TIME_DESCRIPTION = "An ISO 8601 date or date-time that exists, e.g. 2026-01-31T09:30:00Z"


# the longest string DATE_TIME_PATTERN matches: 2026-01-31T09:30:00.123456789+01:00
_LONGEST_DATE_TIME = 35


def parse_date_time(text: str) -> datetime | None:
    """The instant a TMF date-time string denotes (UTC when it has no offset), or None."""
    # one event's times are read several times over (adapter, model, version, index fields, KPIs):
    # recent ones are remembered; only short strings, so the cache stays small whatever comes in
    return _parse_date_time(text) if len(text) <= _LONGEST_DATE_TIME else None


@functools.lru_cache(maxsize=4096)
def _parse_date_time(text: str) -> datetime | None:
    if not _DATE_TIME.match(text):
        return None
    try:
        parsed = datetime.fromisoformat(text[:-1] + "Z" if text.endswith("z") else text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def epoch_seconds(text: str) -> float | None:
    """The instant a TMF date-time string denotes, as seconds since the epoch (parse_date_time), or None."""
    moment = parse_date_time(text)
    return None if moment is None else moment.timestamp()


def _check_date_time(text: str) -> str:
    if parse_date_time(text) is None:
        raise ValueError("must be an ISO 8601 date-time such as 2026-01-31T09:30:00Z")
    return text


# Kept as the client wrote it (returned as sent), but validated as a real instant.
DateTime = Annotated[
    str,
    AfterValidator(_check_date_time),
    WithJsonSchema({"type": "string", "pattern": DATE_TIME_PATTERN, "description": DATE_TIME_DESCRIPTION}),
]


def utc_now() -> str:
    """Server timestamps: UTC, millisecond precision, 'Z'."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


MAX_DEPTH = 64
"""How many levels of objects and arrays a PartyInteraction, or a change to one, may nest: far more
than any real document, and far from the ~255 levels past which the serializers (orjson, pydantic)
give up; a notification wraps an interaction in two more."""


def deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` nests more than `limit` levels of objects and arrays: `json_depth(value) > limit`,
    but it stops at the first branch past the limit and recurses at most `limit` + 1 deep (~4x faster
    on a typical interaction, and on every write path)."""
    if isinstance(value, dict):
        children: Iterable[Any] = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return False
    if limit <= 0:
        return True
    for child in children:  # noqa: SIM110  # a loop, not any(): no generator frame per level (measured ~2x)
        if isinstance(child, (dict, list)) and deeper_than(child, limit - 1):
            return True
    return False


def json_depth(value: Any) -> int:
    """How many levels of objects and arrays `value` nests (a scalar: 0); a loop, not recursion."""
    depth = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        depth = max(depth, level)
        stack.extend((child, level + 1) for child in children)
    return depth


# what pydantic puts before the message of a ValueError raised by one of the models' validators
_VALUE_ERROR = "Value error, "


def describe(errors: Iterable[Mapping[str, Any]]) -> str:
    """pydantic errors as one readable line: `channel.0.id: Field required; reason: ...`. The
    messages of the models' own checks read as written, without pydantic's "Value error, "."""
    parts = []
    for error in errors:
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        message = str(error["msg"]).removeprefix(_VALUE_ERROR)
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)


def extension_rule(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """TmfModel's rule for extension attributes in its JSON schema: unless `@type` names a
    subclass, only the attributes the model declares."""
    name = getattr(model, "tmf_name", "") or model.__name__
    declared = sorted(info.alias or field for field, info in model.model_fields.items())
    schema["if"] = {"properties": {"@type": {"enum": [None, name]}}}
    schema["then"] = {"propertyNames": {"enum": declared}}


class TmfModel(BaseModel):
    """Base of every TMF resource and sub-resource.

    Extension attributes are accepted only when `@type` names a subclass (TMF polymorphism);
    otherwise an unknown attribute is most likely a typo and is refused rather than dropped.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, strict=False, json_schema_extra=extension_rule)

    # The name a client would use in @type for this class itself (no extension allowed then).
    tmf_name: ClassVar[str] = ""

    type: str | None = Field(default=None, alias="@type")
    baseType: str | None = Field(default=None, alias="@baseType")
    schemaLocation: str | None = Field(default=None, alias="@schemaLocation")

    @model_validator(mode="after")
    def _extensions_need_a_subclass(self) -> TmfModel:
        extra = self.model_extra
        if extra and (self.type is None or self.type == (self.tmf_name or type(self).__name__)):
            names = ", ".join(sorted(extra))
            raise ValueError(f"unknown attribute(s): {names}; extension attributes need '@type' naming the subclass")
        return self

    def to_json_dict(self) -> dict[str, Any]:
        """The wire form: aliases, nothing the client did not send, no nulls."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)
