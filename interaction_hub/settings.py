"""All configuration, from IHUB_* environment variables (CLI flags override them)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The token signatures the API may be told to accept: RSA (RS*, PS*) and EC (ES*) public keys only.
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


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
    base_path_v5: str = Field(
        default="/tmf-api/partyInteraction/v5",
        description="Prefix of the TMF683 v5.0.0 routes (the same interactions, in the v5 shape)",
    )
    public_url: str | None = Field(
        default=None,
        description="Scheme://host[:port] of the API as clients reach it, used in href and Location;"
        " default: the address each request reached (notifications: http://<host>:<port> of this server)",
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1, description="Larger bodies get 413")
    sources_file: Path | None = Field(
        default=None,
        description="The channel systems that send their own formats (TOML, ingest/sources.py); the server"
        " refuses to start on an invalid one",
    )
    # 1000 holds the official CTK's unpaged lists whole on its test stores (about 400 interactions)
    default_page_size: int = Field(
        default=1000, ge=1, description="Items in a list page when the client gives no limit"
    )
    max_page_size: int = Field(default=1000, ge=1, description="Largest list page; a larger limit is lowered to it")
    partial_content_206: bool = Field(
        default=False,
        description="Answer a list page that holds only part of the matches with 206 Partial Content (TMF630)"
        " rather than 200; TMF683's OpenAPI declares only 200, and clients generated from it get nothing from a 206",
    )
    # where the links of an interaction's references point (interaction_hub/references.py)
    party_api_url: str | None = Field(
        default=None,
        description="Party Management API (TMF632) of related parties' links: <url>/individual/{id},"
        " <url>/organization/{id}; default <resource root>/tmf-api/partyManagement/v4",
    )
    party_role_api_url: str | None = Field(
        default=None,
        description="Party Role Management API (TMF669) of PartyRole related parties' links: <url>/partyRole/{id};"
        " default <resource root>/tmf-api/partyRoleManagement/v4",
    )
    channel_api_url: str | None = Field(
        default=None,
        description="API of channels' links: <url>/channel/{id}; default <resource root>/tmf-api/channelManagement/v4",
    )
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
    hub_loopback_callbacks: bool | None = Field(
        default=None,
        description="Whether hub callbacks may reach this machine's loopback addresses; unset: only when the"
        " embedded store is served on a loopback address without authentication",
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

    # operating (README "Operating"): health, metrics, logs, shutdown
    log_format: Literal["text", "json"] = Field(
        default="text", description="text: for people; json: one JSON object per line (API and workers)"
    )
    metrics_public: bool = Field(default=True, description="/metrics without a token; false: any valid token")
    worker_http_port: int = Field(
        default=8684, ge=0, le=65535, description="The worker's health and metrics port; 0: none"
    )
    worker_http_host: str = Field(
        default="0.0.0.0", description="Interface of the worker's health and metrics port (probes come from outside)"
    )
    shutdown_timeout_s: float = Field(
        default=10.0, gt=0, description="After SIGTERM, the longest the API or a worker takes to exit"
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="OpenTelemetry: spans go over OTLP/HTTP to <endpoint>/v1/traces;"
        " default: OTEL_EXPORTER_OTLP_ENDPOINT, else no tracing",
    )

    # authentication: on when a key source (JWKS URL or PEM file) is set (query_api/auth.py)
    auth: Literal["on", "off"] | None = Field(
        default=None,
        description="Unset: on with a key source, else off on a loopback address only; off: no tokens anywhere",
    )
    auth_jwks_url: str | None = Field(default=None, description="The identity provider's JWKS URL")
    auth_public_key_file: Path | None = Field(default=None, description="A PEM public key, instead of a JWKS URL")
    auth_issuer: str | None = Field(default=None, description="The `iss` every token must carry")
    auth_audience: str | None = Field(default=None, description="The `aud` every token must name")
    auth_algorithms: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("RS256", "PS256", "ES256"), description="Signature algorithms accepted (asymmetric only)"
    )
    auth_leeway_s: float = Field(default=30.0, ge=0, le=300, description="Clock skew allowed on exp and nbf")
    auth_scope_claim: str = Field(default="scope", description="Claim with space-separated permissions")
    auth_role_claims: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("roles", "realm_access.roles"), description="Claims (dotted paths) with lists of permissions"
    )
    auth_party_claim: str = Field(default="party_id", description="Claim that limits a token to one party")
    auth_public_docs: bool = Field(default=True, description="/docs and /openapi.json without a token")
    auth_jwks_min_refresh_s: float = Field(
        default=5.0, ge=0, description="An unknown kid refetches the JWKS at most this often"
    )
    auth_jwks_max_age_s: float = Field(default=3600.0, gt=0, description="Cached keys are refreshed after this")
    auth_ui_client_id: str = Field(default="ihub-console", description="OIDC client the built-in pages sign in with")

    # full mode (store=search, workers)
    kafka_bootstrap: str = "127.0.0.1:9092"
    search_url: str = "http://127.0.0.1:9200"
    search_engine: Literal["elasticsearch", "opensearch"] = "elasticsearch"
    index_alias: str = "ihub-interactions"
    worker_group: str = Field(default="ihub-worker", description="Consumer group (faust app id) of the workers")
    topic_partitions: int = Field(default=6, ge=1, description="Partitions of the topics ihub creates")
    topic_replication: int = Field(default=1, ge=1, description="Replication factor of the topics ihub creates")
    topic_min_insync: int = Field(
        default=1, ge=1, description="min.insync.replicas of the topics ihub creates (at most their replication factor)"
    )
    index_replicas: int = Field(default=0, ge=0, description="Replicas of each shard of the indices ihub creates")
    index_shards: int = Field(
        default=1, ge=1, le=64, description="Primary shards of each period's index (keep shards at 10-50 GB)"
    )
    index_period: Literal["day", "month", "year"] = Field(
        default="month", description="The period of the interactions' start each index holds"
    )
    worker_batch_size: int = Field(default=2000, ge=1)
    worker_batch_seconds: float = Field(default=0.05, gt=0, description="Longest wait to fill a batch")
    write_timeout_s: float = Field(default=10.0, gt=0, description="API wait for its write to be indexed")

    # identity resolution (storage/identity.py, README "Identity resolution")
    phone_region: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}$",
        description="Region (ISO 3166 alpha-2) of phone numbers typed or imported without a country code",
    )
    party_events_topic: str | None = Field(
        default=None,
        description="Full mode: the topic of TMF632 Party Management events the workers keep the party directory from",
    )

    # privacy (docs/privacy.md): retention is off unless a number of days is set
    retention_days: int | None = Field(
        default=None,
        ge=1,
        description="Purge interactions whose end (else start, else creationDate) is older than this many days;"
        " also the raw topic's retention in full mode. Unset: kept forever",
    )
    retention_interval_s: float = Field(default=3600.0, gt=0, description="How often the retention purge runs")
    erase_timeout_s: float = Field(
        default=120.0, gt=0, description="Full mode: API wait for every worker to apply an erasure or purge"
    )

    # how full mode authenticates to Kafka and the search engine (every client: API, workers, CLI)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How Kafka clients connect: TLS (SSL, SASL_SSL) and/or SASL"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism (with SASL_PLAINTEXT or SASL_SSL)"
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user (needed with SASL_*)")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="SASL password (needed with SASL_*)")
    kafka_ca_file: Path | None = Field(
        default=None, description="PEM CA bundle that verifies the brokers (SSL, SASL_SSL); default: the system CAs"
    )
    search_username: str | None = Field(default=None, description="Search engine user (HTTP basic auth)")
    search_password: SecretStr | None = Field(default=None, description="Password of search_username")
    search_api_key: SecretStr | None = Field(
        default=None, description="Search engine API key (encoded form); instead of a user and password"
    )
    search_ca_file: Path | None = Field(
        default=None, description="PEM CA bundle that verifies an https search_url; default: the system CAs"
    )

    @field_validator(
        "kafka_sasl_username",
        "kafka_sasl_password",
        "kafka_ca_file",
        "search_username",
        "search_password",
        "search_api_key",
        "search_ca_file",
        "auth",
        "auth_jwks_url",
        "auth_public_key_file",
        "auth_issuer",
        "auth_audience",
        "hub_loopback_callbacks",
        "party_api_url",
        "party_role_api_url",
        "channel_api_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # deployment files pass optional settings as empty variables (an empty path would be ".")
        return None if value == "" else value

    @model_validator(mode="after")
    def _check_credentials(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"IHUB_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs IHUB_KAFKA_SASL_USERNAME"
                " and IHUB_KAFKA_SASL_PASSWORD"
            )
        if self.kafka_ca_file and self.kafka_security_protocol not in ("SSL", "SASL_SSL"):
            raise ValueError("IHUB_KAFKA_CA_FILE needs IHUB_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL")
        if bool(self.search_username) != bool(self.search_password and self.search_password.get_secret_value()):
            raise ValueError("IHUB_SEARCH_USERNAME and IHUB_SEARCH_PASSWORD go together: set both or neither")
        if self.search_username and self.search_api_key and self.search_api_key.get_secret_value():
            raise ValueError(
                "set either IHUB_SEARCH_USERNAME/IHUB_SEARCH_PASSWORD (basic auth) or IHUB_SEARCH_API_KEY, not both"
            )
        return self

    @model_validator(mode="after")
    def _two_base_paths(self) -> Settings:
        if self.base_path_v5 == self.base_path:
            raise ValueError("IHUB_BASE_PATH and IHUB_BASE_PATH_V5 must differ: each version has its own routes")
        return self

    @field_validator("hub_allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: Any) -> Any:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("auth_algorithms", "auth_role_claims", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("auth_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # an HMAC algorithm would let anyone holding the public key sign tokens; `none` signs nothing
        refused = [alg for alg in value if alg not in ASYMMETRIC_ALGORITHMS]
        if refused or not value:
            raise ValueError(
                f"only these algorithms may be accepted: {', '.join(ASYMMETRIC_ALGORITHMS)}; not {refused}"
            )
        return value

    @field_validator("base_path", "base_path_v5")
    @classmethod
    def _normalise_base_path(cls, value: str) -> str:
        return "/" + value.strip("/") if value.strip("/") else ""

    def resource_root(self) -> str:
        """Where links point when no request says (notifications, the references' APIs, the href
        a store keeps): public_url, else this server's own address (a wildcard bind address names
        this machine). An answer's own href: query_api/interactions.py `answer_root`."""
        if self.public_url:
            return self.public_url
        host = self.host if self.host not in ("0.0.0.0", "::", "") else socket.gethostname()
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("party_api_url", "party_role_api_url", "channel_api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        # served in every answer: an absolute http(s) URL, nothing a client could not follow
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"must be an absolute http(s) URL without query or fragment, got {value!r}")
        return value.rstrip("/")
