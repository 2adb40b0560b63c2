"""All configuration, from IHUB_* environment variables (CLI flags override them)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IHUB_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8683, ge=1, le=65535)
    store: Literal["embedded"] = "embedded"
    data_dir: Path = Path("./data")
    base_path: str = Field(
        default="/tmf-api/partyInteraction/v4",
        description="Prefix of the TMF683 routes (the field also uses /partyInteractionManagement/v1)",
    )
    public_url: str | None = Field(
        default=None,
        description="Scheme://host[:port] used in href; default: taken from each request",
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1, description="Larger bodies get 413")
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL", description="FULL survives power loss; NORMAL only process crashes"
    )
    notify_max_attempts: int = Field(default=8, ge=1)
    notify_timeout_s: float = Field(default=5.0, gt=0)
    notify_backoff_s: float = Field(default=0.5, gt=0, description="First retry delay; doubles each time")
    access_log: bool = False

    @field_validator("base_path")
    @classmethod
    def _normalise_base_path(cls, value: str) -> str:
        return "/" + value.strip("/") if value.strip("/") else ""

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value
