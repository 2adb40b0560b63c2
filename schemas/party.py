"""The party directory's wire form: TM Forum TMF632's `ContactMedium` (what a party can be reached
by, over time) and a directory entry (a party's display name, type and contact media).

A contact medium names its identifier in `characteristic` (TMF632 v4) or beside `mediumType`
(v5's PhoneContactMedium, EmailContactMedium, SocialContactMedium): `phoneNumber`, `emailAddress`
or `socialNetworkId`. A `socialNetworkId` is typed by its `mediumType` (`messenger-psid`,
`snowplow-user-id`, `crm`, ...; or by `contactType` when the medium type is a generic
`socialNetwork`/`socialMedia`). Its `validFor` says when the party held it; no start means always
before, no end means still. Other media (postal addresses, fax) are kept but link nothing.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.common import describe, epoch_seconds
from schemas.identifiers import EMAIL, PHONE, email_key, opaque_key, phone_key, value_of
from schemas.party_interaction import TimePeriod

MAX_CONTACT_MEDIA = 100
PARTY_ID = re.compile(r"[A-Za-z0-9._~:@-]{1,256}")
"""What a party id may be: it goes into URLs and queries as it is."""
Text = Annotated[str, Field(max_length=256)]
_GENERIC_SOCIAL = {"social", "socialnetwork", "socialmedia", "social-network", "social-media"}
_IDENTIFIERS = ("phoneNumber", "emailAddress", "socialNetworkId")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Text | None = Field(default=None, alias="@type")
    baseType: Text | None = Field(default=None, alias="@baseType")
    schemaLocation: Text | None = Field(default=None, alias="@schemaLocation")


class ContactMediumCharacteristic(_Strict):
    city: Text | None = None
    contactType: Text | None = None
    country: Text | None = None
    emailAddress: Text | None = None
    faxNumber: Text | None = None
    phoneNumber: Text | None = None
    postCode: Text | None = None
    socialNetworkId: Text | None = None
    stateOrProvince: Text | None = None
    street1: Text | None = None
    street2: Text | None = None


class ContactMedium(_Strict):
    id: Text | None = None
    mediumType: Text
    preferred: bool | None = None
    contactType: Text | None = None
    characteristic: ContactMediumCharacteristic | None = None
    validFor: TimePeriod | None = None
    # TMF632 v5 puts the identifier beside mediumType
    phoneNumber: Text | None = None
    emailAddress: Text | None = None
    socialNetworkId: Text | None = None


ReferredType = Literal["Individual", "Organization"]


class Party(BaseModel):
    """A directory entry: what the directory knows of a party."""

    id: str
    name: str | None = None
    referredType: ReferredType = Field(default="Individual", alias="@referredType")
    contactMedium: list[dict[str, Any]] = Field(default_factory=list)
    mergedInto: str | None = None

    model_config = ConfigDict(populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


def medium_key(medium: dict[str, Any], region: str | None = None, *, normalised: bool = False) -> str | None:
    """The identifier key a contact medium holds, or None (a postal address). `normalised`: the
    medium is one `contact_media` stored, whose phone number and address are keys' values already."""
    found = {**(medium.get("characteristic") or {}), **{k: medium[k] for k in _IDENTIFIERS if k in medium}}
    if isinstance(found.get("phoneNumber"), str):
        return f"{PHONE}:{found['phoneNumber']}" if normalised else phone_key(found["phoneNumber"], region)
    if isinstance(found.get("emailAddress"), str):
        return f"{EMAIL}:{found['emailAddress']}" if normalised else email_key(found["emailAddress"])
    if isinstance(found.get("socialNetworkId"), str):
        medium_type = str(medium.get("mediumType") or "")
        scheme = medium_type if medium_type.lower() not in _GENERIC_SOCIAL else str(found.get("contactType") or "")
        return opaque_key(scheme, found["socialNetworkId"])
    return None


def contact_media(body: Any, region: str | None = None) -> list[dict[str, Any]]:
    """A party's contact media as a client sent them (a JSON array), validated and normalised
    (phone numbers in E.164, email addresses in their one form), or ValueError naming the problem."""
    if not isinstance(body, list):
        raise ValueError("the contact media are a JSON array of ContactMedium")
    if len(body) > MAX_CONTACT_MEDIA:
        raise ValueError(f"a party holds at most {MAX_CONTACT_MEDIA} contact media")
    media = []
    for index, item in enumerate(body):
        try:
            medium = ContactMedium.model_validate(item).model_dump(by_alias=True, exclude_none=True)
        except ValidationError as exc:
            raise ValueError(f"contactMedium[{index}]: {describe(exc.errors(include_url=False))}") from None
        media.append(_normalised(medium, index, region))
    return media


def _normalised(medium: dict[str, Any], index: int, region: str | None) -> dict[str, Any]:
    named = [k for k in _IDENTIFIERS if k in medium or k in (medium.get("characteristic") or {})]
    if not named:
        return medium
    if len(named) > 1:
        raise ValueError(f"contactMedium[{index}]: one of {', '.join(_IDENTIFIERS)} per contact medium")
    key = medium_key(medium, region)
    if key is None:
        raise ValueError(f"contactMedium[{index}].{named[0]}: not a {_WHAT[named[0]]}")
    characteristic = dict(medium.get("characteristic") or {})
    characteristic[named[0]] = value_of(key)
    medium.pop(named[0], None)
    return {**medium, "characteristic": characteristic}


_WHAT = {
    "phoneNumber": "phone number (a national number needs the region setting)",
    "emailAddress": "valid email address",
    "socialNetworkId": "platform id typed by a mediumType such as 'messenger-psid'",
}


def valid_for(medium: dict[str, Any]) -> tuple[float | None, float | None]:
    """When the party held the medium, as epoch seconds (None: open on that side)."""
    period = medium.get("validFor") or {}
    start, end = period.get("startDateTime"), period.get("endDateTime")
    return (epoch_seconds(start) if start else None, epoch_seconds(end) if end else None)


# -- TMF632 Party Management: resources and events ---------------------------------------------

PARTY_EVENT = re.compile(r"^(Individual|Organization)(Create|AttributeValueChange|StateChange|Delete)Event$")
MAX_NAME = 256


def party_from_tmf632(resource: Any, referred_type: str, region: str | None = None) -> Party:
    """A directory entry from a TMF632 Individual or Organization (ValueError naming the problem).
    Its name is `fullName` (else given and family name) or `tradingName`/`name`; without a
    `contactMedium` it has none (an event's caller decides whether to keep what was there)."""
    if not isinstance(resource, dict):
        raise ValueError(f"a TMF632 {referred_type} is a JSON object")
    party_id = resource.get("id")
    if not isinstance(party_id, str) or not PARTY_ID.fullmatch(party_id):
        raise ValueError(f"{referred_type}.id: 1 to 256 letters, digits or ._~:@- expected")
    texts = {k: v.strip() for k, v in resource.items() if isinstance(v, str) and v.strip()}  # names are text
    if referred_type == "Individual":
        given = " ".join(texts[k] for k in ("givenName", "familyName") if k in texts)
        name = texts.get("fullName") or texts.get("formattedName") or given or None
    else:
        name = texts.get("tradingName") or texts.get("name")
    media = contact_media(resource.get("contactMedium") or [], region)
    return Party.model_validate(
        {
            "id": party_id,
            "name": name[:MAX_NAME] if name else None,
            "@referredType": referred_type,
            "contactMedium": media,
        }
    )


def party_event(event: Any, region: str | None = None) -> tuple[str, Party, bool]:
    """(what, party, carries contact media) for a TMF632 event: what is `put` or `delete`."""
    if not isinstance(event, dict) or not isinstance(event.get("eventType"), str):
        raise ValueError("a TMF632 event is a JSON object with an eventType")
    match = PARTY_EVENT.match(event["eventType"])
    if match is None:
        raise ValueError(f"eventType {event['eventType'][:80]!r}: not an Individual or Organization event")
    referred_type, what = match.groups()
    payload = event.get("event")
    if not isinstance(payload, dict):
        raise ValueError("event: an object holding the party expected")
    resource = payload.get(referred_type[0].lower() + referred_type[1:])
    party = party_from_tmf632(resource, referred_type, region)
    return ("delete" if what == "Delete" else "put"), party, isinstance(resource, dict) and "contactMedium" in resource
