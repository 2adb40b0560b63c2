"""Channel events in: the channel adapters (raw events -> changes), the publisher that puts events on
the raw topic, and the demo data."""
