"""How every Kafka client of the project connects: one place for the broker address and its security.

aiokafka clients (producers, consumers, admin) take :func:`kafka_options`; the faust worker takes
:func:`faust_credentials` as its ``broker_credentials``. Both are built from the same settings, so
the API, the workers and the CLI always connect the same way.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from aiokafka.helpers import create_ssl_context

from interaction_hub.settings import Settings

if TYPE_CHECKING:  # only the worker needs faust; the API does not import it
    import faust


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL (brokers verified against kafka_ca_file, else the system
    CAs; host names checked), None for the plaintext protocols."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context: ssl.SSLContext = create_ssl_context(cafile=settings.kafka_ca_file)
    return context


def kafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    return options


def faust_credentials(settings: Settings) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """The same security for a faust app (its ``broker_credentials``); None for PLAINTEXT.

    faust-streaming 0.15 hands a SASLCredentials' mechanism to aiokafka as it is (SCRAM-SHA-256/512
    included) and derives the protocol from it: SASL_SSL when it has a TLS context, else
    SASL_PLAINTEXT. So no conversion beyond this one is needed."""
    import faust  # here, not at the top: only the worker needs faust

    context = ssl_context(settings)
    protocol = settings.kafka_security_protocol
    if protocol == "SSL":
        assert context is not None  # ssl_context() gives one for SSL
        return faust.SSLCredentials(context)
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    return None
