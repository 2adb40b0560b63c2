"""All configuration, from IHUB_* environment variables (CLI flags override them)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, IPvAnyNetwork, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IHUB_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8683, ge=1, le=65535)
    store: Literal["embedded", "search"] = Field(
        default="embedded", description="embedded: SQLite in data_dir; search: Kafka + search engine"
    )
    data_dir: Path = Path("./data")
    base_path: str = Field(
        default="/tmf-api/partyInteraction/v4",
        description="Prefix of the TMF683 routes (the field also uses /partyInteractionManagement/v1)",
    )
    public_url: str | None = Field(
        default=None,
        description="Scheme://host[:port] of the API as clients reach it, used in href and Location;"
        " default: http://<host>:<port> of this server",
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1, description="Larger bodies get 413")
    # 1000 holds the official CTK's unpaged lists whole on its test stores (about 400 interactions)
    default_page_size: int = Field(
        default=1000, ge=1, description="Items in a list page when the client gives no limit"
    )
    max_page_size: int = Field(default=1000, ge=1, description="Largest list page; a larger limit is lowered to it")
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL", description="FULL survives power loss; NORMAL only process crashes"
    )
    notify_max_attempts: int = Field(default=8, ge=1)
    notify_timeout_s: float = Field(default=5.0, gt=0)
    notify_backoff_s: float = Field(default=0.5, gt=0, description="First retry delay; doubles each time")
    hub_allowed_networks: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = Field(
        default=(),
        description="Networks hub callbacks may reach besides public addresses, comma-separated CIDRs (127.0.0.0/8)",
    )
    hub_max_subscriptions: int = Field(
        default=1000, ge=1, le=10000, description="More subscriptions are refused (full mode reads at most 10000)"
    )
    hub_max_pending: int = Field(
        default=10000, ge=1, description="Notifications waiting per subscriber; past it the oldest are dropped"
    )
    access_log: bool = False
    header_timeout_s: float = Field(
        default=10.0, gt=0, description="A connection that sends no complete request head within it is closed"
    )
    max_connections: int = Field(default=1000, ge=1, description="Open connections at most; past it, 503")

    # full mode (store=search, workers)
    kafka_bootstrap: str = "127.0.0.1:9092"
    search_url: str = "http://127.0.0.1:9200"
    search_engine: Literal["elasticsearch", "opensearch"] = "elasticsearch"
    index_alias: str = "ihub-interactions"
    worker_group: str = Field(default="ihub-worker", description="Consumer group (faust app id) of the workers")
    topic_partitions: int = Field(default=6, ge=1, description="Partitions of the topics ihub creates")
    worker_batch_size: int = Field(default=2000, ge=1)
    worker_batch_seconds: float = Field(default=0.05, gt=0, description="Longest wait to fill a batch")
    write_timeout_s: float = Field(default=10.0, gt=0, description="API wait for its write to be indexed")

    @field_validator("hub_allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: Any) -> Any:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("base_path")
    @classmethod
    def _normalise_base_path(cls, value: str) -> str:
        return "/" + value.strip("/") if value.strip("/") else ""

    def resource_root(self) -> str:
        """Where hrefs point: public_url, else this server's own address (a wildcard bind address
        names this machine). Never a request's Host header: a stored href is served to everyone."""
        if self.public_url:
            return self.public_url
        host = self.host if self.host not in ("0.0.0.0", "::", "") else socket.gethostname()
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value
