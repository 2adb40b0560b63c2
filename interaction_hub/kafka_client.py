"""How every Kafka client of the project connects: one place for the broker address and its security."""

from __future__ import annotations

from typing import Any

from interaction_hub.settings import Settings


def kafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
    return {"bootstrap_servers": settings.kafka_bootstrap}
