"""How the settings turn into connection options for Kafka (aiokafka, faust) and the search engine."""

from __future__ import annotations

import ssl
import sys
from pathlib import Path

import faust
import pytest
from pydantic import ValidationError

from interaction_hub.kafka_client import faust_credentials, kafka_options
from interaction_hub.search_client import search_client_options
from interaction_hub.settings import Settings
from storage.search.engine import client_options

CA = str(Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"))


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]  # pydantic-settings' init-only argument


@pytest.fixture(autouse=True)
def _no_connection_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes counts, not the IHUB_* variables of the shell that runs the tests."""
    for name in (
        "KAFKA_BOOTSTRAP",
        "KAFKA_SECURITY_PROTOCOL",
        "KAFKA_SASL_MECHANISM",
        "KAFKA_SASL_USERNAME",
        "KAFKA_SASL_PASSWORD",
        "KAFKA_CA_FILE",
        "SEARCH_URL",
        "SEARCH_ENGINE",
        "SEARCH_USERNAME",
        "SEARCH_PASSWORD",
        "SEARCH_API_KEY",
        "SEARCH_CA_FILE",
    ):
        monkeypatch.delenv(f"IHUB_{name}", raising=False)


def test_plaintext_kafka_is_the_default_and_carries_no_credentials() -> None:
    assert kafka_options(settings(kafka_bootstrap="k:9092")) == {
        "bootstrap_servers": "k:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert faust_credentials(settings()) is None


def test_sasl_ssl_gives_aiokafka_the_mechanism_the_user_and_a_verifying_tls_context() -> None:
    s = settings(
        kafka_bootstrap="k:9094",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="ihub",
        kafka_sasl_password="secret",
        kafka_ca_file=CA,
    )
    options = kafka_options(s)
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": "k:9094",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "ihub",
        "sasl_plain_password": "secret",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_faust_gets_the_same_security_and_passes_scram_to_aiokafka_unchanged() -> None:
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    s = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="ihub",
        kafka_sasl_password="secret",
    )
    credentials = faust_credentials(s)
    assert isinstance(credentials, faust.SASLCredentials)
    auth = credentials_to_aiokafka_auth(credentials)
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-256"
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("ihub", "secret")
    assert isinstance(auth["ssl_context"], ssl.SSLContext)

    plain = credentials_to_aiokafka_auth(
        faust_credentials(
            settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u", kafka_sasl_password="p")
        )
    )
    assert plain["security_protocol"] == "SASL_PLAINTEXT" and plain["ssl_context"] is None
    tls_only = credentials_to_aiokafka_auth(faust_credentials(settings(kafka_security_protocol="SSL")))
    assert tls_only["security_protocol"] == "SSL" and isinstance(tls_only["ssl_context"], ssl.SSLContext)


def test_kafka_settings_that_cannot_work_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValidationError, match="SASL_SSL needs IHUB_KAFKA_SASL_USERNAME and IHUB_KAFKA_SASL_PASSWORD"):
        settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="ihub")
    with pytest.raises(ValidationError, match="IHUB_KAFKA_CA_FILE needs IHUB_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL"):
        settings(kafka_ca_file=CA)
    with pytest.raises(ValidationError, match="kafka_sasl_mechanism"):
        settings(kafka_sasl_mechanism="GSSAPI")


def test_the_password_is_not_shown_by_the_settings() -> None:
    s = settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u", kafka_sasl_password="hunter2")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())


def test_search_credentials_from_settings() -> None:
    assert search_client_options(settings()) == {}
    basic = settings(search_username="ihub", search_password="pw", search_ca_file=CA)
    assert search_client_options(basic) == {"basic_auth": ("ihub", "pw"), "ca_certs": CA}
    assert search_client_options(settings(search_api_key="a2V5")) == {"api_key": "a2V5"}
    # opensearch-py names them differently
    assert search_client_options(settings(search_engine="opensearch", search_username="u", search_password="p")) == {
        "http_auth": ("u", "p")
    }
    assert client_options(api_key="a2V5", engine="opensearch") == {"headers": {"Authorization": "ApiKey a2V5"}}


def test_search_settings_that_cannot_work_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValidationError, match="IHUB_SEARCH_USERNAME and IHUB_SEARCH_PASSWORD go together"):
        settings(search_username="ihub")
    with pytest.raises(ValidationError, match="IHUB_SEARCH_USERNAME and IHUB_SEARCH_PASSWORD go together"):
        settings(search_password="pw")
    with pytest.raises(ValidationError, match=r"either .* or IHUB_SEARCH_API_KEY, not both"):
        settings(search_username="ihub", search_password="pw", search_api_key="a2V5")


def test_the_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IHUB_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("IHUB_KAFKA_SASL_USERNAME", "ihub")
    monkeypatch.setenv("IHUB_KAFKA_SASL_PASSWORD", "secret")
    monkeypatch.setenv("IHUB_KAFKA_CA_FILE", CA)
    monkeypatch.setenv("IHUB_SEARCH_USERNAME", "ihub")
    monkeypatch.setenv("IHUB_SEARCH_PASSWORD", "pw")
    s = Settings()
    assert s.kafka_ca_file == Path(CA) and s.kafka_sasl_password is not None
    assert kafka_options(s)["sasl_plain_password"] == "secret"
    assert search_client_options(s)["basic_auth"] == ("ihub", "pw")


def test_empty_variables_leave_a_setting_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """compose.yaml and the helm chart pass optional settings as empty variables."""
    for name in ("KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_CA_FILE", "SEARCH_API_KEY", "SEARCH_CA_FILE"):
        monkeypatch.setenv(f"IHUB_{name}", "")
    s = Settings()
    assert (s.kafka_sasl_username, s.kafka_sasl_password, s.kafka_ca_file) == (None, None, None)
    assert (s.search_api_key, s.search_ca_file) == (None, None)
    assert kafka_options(s) == {"bootstrap_servers": s.kafka_bootstrap, "security_protocol": "PLAINTEXT"}


def test_each_engine_gets_its_own_client_and_a_missing_opensearch_client_names_its_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from storage.search.engine import close, create_client

    async def kinds() -> list[str]:
        made = [create_client("http://127.0.0.1:9", engine=name) for name in ("elasticsearch", "opensearch")]
        for client in made:
            await close(client)
        return [type(client).__name__ for client in made]

    assert asyncio.run(kinds()) == ["AsyncElasticsearch", "AsyncOpenSearch"]
    monkeypatch.setitem(sys.modules, "opensearchpy", None)  # as if interaction-hub[opensearch] were not installed
    with pytest.raises(RuntimeError, match=r"make install ENGINE=opensearch .*interaction-hub\[opensearch\]"):
        create_client("http://127.0.0.1:9", engine="opensearch")
