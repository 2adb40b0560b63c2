"""Retail store visits: `ihub.store.visit`, published by the queue-management system when a visit
closes (a served customer, a no-show, or someone who left the queue).

Native `data`:
    visitId, storeCode, storeName, ticketNumber, serviceType, serviceName, csr {id, name},
    arrivedAt, calledAt, completedAt, waitMinutes, serviceMinutes, result, remarks,
    customer {name, segment}
"""

from __future__ import annotations

from ingest.adapters.common import (
    agent,
    customer,
    first_id,
    humanize,
    interaction,
    note,
    one_of,
    optional,
    party,
    required,
    timestamp,
    upsert,
)
from schemas.channel_event import ChannelEvent
from storage.changes import Change

RESULTS = {"served": "completed", "no-show": "cancelled", "left-queue": "cancelled"}


def visit(event: ChannelEvent) -> Change:
    data = event.data
    visit_id = required(data, "visitId")
    store_code = required(data, "storeCode")
    store_name = optional(data, "storeName")
    ticket = required(data, "ticketNumber")
    service = optional(data, "serviceName") or humanize(required(data, "serviceType"))
    wait, served = required(data, "waitMinutes", int), required(data, "serviceMinutes", int)
    end = timestamp(data, "completedAt")
    csr = agent(data, "csr")
    document = interaction(
        type_name="StoreVisitInteraction",
        kind="store",
        reason=service,
        direction="inbound",
        status=one_of(data, "result", RESULTS),
        description=f"{store_name or store_code}, ticket {ticket}: waited {wait} min, served in {served} min",
        start=timestamp(data, "arrivedAt"),
        end=end,
        parties=customer(event, optional(data, "customer.segment"), optional(data, "customer.name"))
        + csr
        + [party(store_code, "store", "Organization", store_name)],
        notes=note(optional(data, "remarks"), first_id(csr), end),
        visit={
            "visitId": visit_id,
            "storeCode": store_code,
            "ticketNumber": ticket,
            "serviceType": required(data, "serviceType"),
            "calledAt": timestamp(data, "calledAt", needed=False),
            "waitMinutes": wait,
            "serviceMinutes": served,
            "result": required(data, "result"),
        },
    )
    return upsert(event, visit_id, document)
