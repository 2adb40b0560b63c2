"""How customers are named by channels, in one form: the identifier keys that link interactions to
parties (storage/identity.py).

A key is a short string, the same whichever channel or person wrote the value:
- `phone:+351912345678`: a phone number in E.164. National forms need the source's region
  (`phone_region`, e.g. "PT"); a WhatsApp `wa_id` is a number without its `+`. `tel:`, `sip:` and
  `whatsapp:` prefixes are dropped. An international number whose length its country's plan does
  not allow (test numbers, vendors' examples) is kept as its digits, `+` and 7 to 15 of them, so
  it still matches itself; anything else that is not a phone number of its region is no key.
- `email:ana@example.com`: an email address with its domain in IDNA ASCII form (`ana@exämple.pt`
  and `ana@xn--exmple-cua.pt` are one address) and the whole address in lower case. Mail servers may
  treat the local part's case as significant; in practice none does, and people type addresses in
  any case. Nothing else is folded (dots and `+tags` are kept: providers differ there).
- `<scheme>:<value>`: an opaque platform id as the platform wrote it, typed by its scheme
  (`messenger-psid:2468`, `snowplow-domain-userid:...`, `genesys-external-contact:...`); a CRM
  account or customer number has scheme `crm`.

Anything else (an empty value, control characters, an overlong value, a scheme that is not a short
lower-case name) is no key: it links nothing and fails nothing.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

import idna
import phonenumbers

PHONE = "phone"
EMAIL = "email"
CRM = "crm"

MAX_VALUE = 256
_SCHEME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,39}$")
_PREFIXES = ("tel:", "sip:", "whatsapp:")
_REGION = re.compile(r"^[A-Z]{2}$")
_SEPARATORS = re.compile(r"[\s().-]")
_INTERNATIONAL = re.compile(r"^\+[1-9][0-9]{6,14}$")


def phone_key(text: str, region: str | None = None) -> str | None:
    """`phone:<E.164>` for a phone number as anyone writes it, or None."""
    value = _clean(text)
    if value is None:
        return None
    lowered = value.lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            value = value[len(prefix) :].split("@", 1)[0].split(";", 1)[0]
            break
    if value.isdigit() and len(value) > 10 and region is None:
        value = "+" + value  # international digits without their '+' (WhatsApp's wa_id)
    try:
        number = phonenumbers.parse(value, region.upper() if region and _REGION.match(region.upper()) else None)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_possible_number(number):
        return f"{PHONE}:{phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)}"
    digits = _SEPARATORS.sub("", value)
    return f"{PHONE}:{digits}" if _INTERNATIONAL.match(digits) else None


def email_key(text: str) -> str | None:
    """`email:<address>` for an email address as anyone writes it (see the module's rule), or None."""
    value = _clean(text)
    if value is None:
        return None
    value = unicodedata.normalize("NFC", value.strip("<> "))
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or len(local) > 64 or any(c.isspace() for c in local):
        return None
    ascii_domain = _ascii_domain(domain.rstrip("."))
    return None if ascii_domain is None else f"{EMAIL}:{local.lower()}@{ascii_domain}"


@lru_cache(maxsize=4096)  # a few mail domains serve most customers
def _ascii_domain(domain: str) -> str | None:
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    return ascii_domain.lower() if "." in ascii_domain else None


def opaque_key(scheme: str, text: str) -> str | None:
    """`<scheme>:<value>` for a platform's own id, or None."""
    value = _clean(text)
    if value is None or not isinstance(scheme, str) or not _SCHEME.match(scheme) or scheme in (PHONE, EMAIL):
        return None
    return f"{scheme}:{value}"


def identifier_key(entry: Any, region: str | None = None) -> str | None:
    """The key of a `customerIdentifier` entry ({kind, value, scheme}, ingest/formats), or None."""
    if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
        return None
    kind, value, scheme = entry.get("kind"), entry["value"], entry.get("scheme")
    if kind == PHONE:
        if scheme == "whatsapp" and value.strip().isdigit():
            return phone_key("+" + value.strip())  # a wa_id: international digits without their '+'
        return phone_key(value, region)
    if kind == EMAIL:
        return email_key(value)
    if kind == CRM:
        scheme = scheme or CRM
    elif kind not in ("platform", "web") or not isinstance(scheme, str):
        return None
    if value.lower().startswith(f"{scheme}:"):  # a SIP address written as a URI: its scheme once
        value = value[len(scheme) + 1 :]
    return opaque_key(scheme, value)


def contact_key(text: str, region: str | None = None) -> str | None:
    """The key of a contact as a person types it into a search box: an email address if it has an
    `@`, else a phone number, else (`scheme:value`) an opaque id; None if it is none of them."""
    if not isinstance(text, str):
        return None
    if "@" in text and not text.lower().startswith(("tel:", "sip:", "whatsapp:")):
        return email_key(text)
    found = phone_key(text, region)
    if found is not None:
        return found
    scheme, colon, value = text.strip().partition(":")
    return opaque_key(scheme.lower(), value) if colon else None


def kind_of(key: str) -> str:
    """`phone`, `email` or the scheme of an opaque id."""
    return key.split(":", 1)[0]


def value_of(key: str) -> str:
    return key.split(":", 1)[1]


def _clean(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    value = text.strip()
    if not value or len(value) > MAX_VALUE:
        return None
    if value.isascii():  # ASCII has no format characters, and its only unprintable ones are controls
        return value if value.isprintable() else None
    return None if any(unicodedata.category(c) in ("Cc", "Cf") for c in value) else value
