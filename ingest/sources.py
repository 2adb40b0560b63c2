"""The sources file (`IHUB_SOURCES_FILE`, TOML): the channel systems an operator points at
Interaction Hub, one table each.

    [sources.connect-eu]
    format = "amazon-connect-ctr"   # a format id (ingest/formats), or "ihub" for the project's envelope
    phone_region = "PT"             # region of phone numbers written without a country code
    api_key_env = "CONNECT_EU_KEY"  # the webhook's X-Api-Key header must equal this variable's value
    topic = "connect-eu-ctr"        # a Kafka-fed source: the workers read this topic with the format

    [sources.twilio-pt]
    format = "twilio"
    secret_env = "TWILIO_PT_AUTH_TOKEN"  # the vendor's signing secret, in this environment variable

Secrets never go in the file: it names environment variables. A format that signs its requests
needs `secret_env`, or `unsigned = true` to take unsigned requests (a test bench). A format that
does not sign is authenticated as its vendor can: `api_key_env` (the header `api_key_header`,
default X-Api-Key), `basic_env` (a variable holding `user:password` for HTTP Basic), else a bearer
token granting ingest:write; with auth off on a loopback server, nothing. Any other key of a table
is an option of its format (the format's `options` model says which it takes).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.formats import FORMATS, Format
from schemas.common import describe

ENVELOPE = "ihub"
"""The format id of the project's own envelope (ingest/adapters)."""

MAX_FILE_BYTES = 1024 * 1024
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


class SourcesError(ValueError):
    """An unusable sources file; `problems` names each problem, one line each."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.problems = problems


class SourceTable(BaseModel):
    """One `[sources.NAME]` table, less the format's own options."""

    model_config = ConfigDict(extra="allow", frozen=True)

    format: str
    phone_region: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    secret_env: str | None = Field(default=None, pattern=ENV_NAME.pattern)
    verify_token_env: str | None = Field(default=None, pattern=ENV_NAME.pattern)
    unsigned: bool = False
    api_key_env: str | None = Field(default=None, pattern=ENV_NAME.pattern)
    api_key_header: str = Field(default="X-Api-Key", pattern=r"^[A-Za-z0-9-]{1,64}$")
    basic_env: str | None = Field(default=None, pattern=ENV_NAME.pattern)
    topic: str | None = Field(default=None, pattern=TOPIC.pattern)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)


@dataclass(frozen=True)
class Source:
    name: str
    table: SourceTable
    format: Format | None  # None: the project's own envelope
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def format_id(self) -> str:
        return self.table.format

    def settings(self) -> dict[str, Any]:
        """What the adapter reads, carried in each event (ingest/formats: wrap)."""
        found: dict[str, Any] = {"name": self.name, **self.options}
        if self.table.phone_region:
            found["phone_region"] = self.table.phone_region
        return found

    def secret(self) -> str | None:
        return _env(self.table.secret_env)

    def verify_token(self) -> str | None:
        return _env(self.table.verify_token_env)

    def api_key(self) -> str | None:
        return _env(self.table.api_key_env)

    def basic(self) -> str | None:
        return _env(self.table.basic_env)


def _env(name: str | None) -> str | None:
    return os.environ.get(name) or None if name else None


def parse(text: str, where: Path | str = "sources file", *, check_env: bool = True) -> dict[str, Source]:
    """The sources a file's text defines, or SourcesError naming every problem."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(where, [f"not TOML: {exc}"]) from None
    problems: list[str] = []
    unknown = sorted(set(document) - {"sources"})
    if unknown:
        problems.append(f"unknown top-level keys: {', '.join(unknown)} (tables go under [sources.NAME])")
    tables = document.get("sources", {})
    if not isinstance(tables, dict) or not tables:
        raise SourcesError(where, [*problems, "no [sources.NAME] table"])
    sources: dict[str, Source] = {}
    topics: dict[str, str] = {}
    for name, raw in tables.items():
        found = _source(name, raw, problems, check_env=check_env)
        if found is None:
            continue
        if found.table.topic:
            if found.table.topic in topics:
                problems.append(
                    f"sources.{name}: topic {found.table.topic} is also sources.{topics[found.table.topic]}'s"
                )
            topics[found.table.topic] = name
        sources[name] = found
    if problems:
        raise SourcesError(where, problems)
    return sources


def _source(name: str, raw: Any, problems: list[str], *, check_env: bool) -> Source | None:
    here = f"sources.{name}"
    if not NAME.fullmatch(name):
        problems.append(f"{here}: a source name is 1-63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit")
        return None
    if not isinstance(raw, dict):
        problems.append(f"{here}: not a table")
        return None
    try:
        table = SourceTable.model_validate(raw)
    except ValidationError as exc:
        problems.append(f"{here}: {describe(exc.errors(include_url=False))}")
        return None
    known = sorted([ENVELOPE, *FORMATS])
    if table.format != ENVELOPE and table.format not in FORMATS:
        problems.append(f"{here}: unknown format {table.format!r}; one of {', '.join(known)}")
        return None
    vendor = FORMATS.get(table.format)
    extra = dict(table.model_extra or {})
    options: dict[str, Any] = {}
    if vendor is not None and vendor.options is not None:
        try:
            options = vendor.options.model_validate(extra).model_dump(mode="json", exclude_none=True)
        except ValidationError as exc:
            problems.append(f"{here}: {describe(exc.errors(include_url=False))}")
            return None
    elif extra:
        problems.append(f"{here}: unknown keys for format {table.format}: {', '.join(sorted(extra))}")
        return None
    before = len(problems)
    signs = vendor is not None and vendor.signs
    if signs and not table.secret_env and not table.unsigned:
        problems.append(f"{here}: format {table.format} signs its requests: set secret_env, or unsigned = true")
    if table.unsigned and not signs:
        problems.append(f"{here}: unsigned applies to formats that sign; {table.format} does not")
    if not signs and table.secret_env:
        problems.append(f"{here}: format {table.format} does not sign its requests: no secret_env")
    if vendor is not None and vendor.handshake is not None and not table.verify_token_env:
        problems.append(f"{here}: format {table.format} checks its endpoint first: set verify_token_env")
    if check_env:
        for key in ("secret_env", "verify_token_env", "api_key_env", "basic_env"):
            variable = getattr(table, key)
            if variable and not os.environ.get(variable):
                problems.append(f"{here}: {key} names {variable}, which is not set in the environment")
        if table.basic_env and ":" not in os.environ.get(table.basic_env, ":"):
            problems.append(f"{here}: {table.basic_env} must hold user:password")
    if len(problems) > before:
        return None
    return Source(name, table, vendor, options)


def load(path: Path, *, check_env: bool = True) -> dict[str, Source]:
    """The sources of the file at `path`, or SourcesError naming every problem."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SourcesError(path, [f"larger than {MAX_FILE_BYTES} bytes"])
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourcesError(path, [f"cannot read it: {exc}"]) from None
    return parse(text, path, check_env=check_env)


def feed_topics(sources: dict[str, Source]) -> list[str]:
    """The topics of the Kafka-fed sources."""
    return sorted(source.table.topic for source in sources.values() if source.table.topic)
