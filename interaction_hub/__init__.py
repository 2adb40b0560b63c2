"""Interaction Hub: the `ihub` command, its settings, and what the API and the workers share
(the change model, the Kafka topics and the notifications a change causes)."""
