"""Vendor deliveries for `ihub demo`: what the demo company's channel systems send Interaction Hub,
each in its vendor's own format, reproducible from a seed and an anchor (the same seed and anchor
give the same bytes).

Every delivery comes from a demo source (`SOURCES`: `demo-connect` sends Amazon Connect contact
records, `demo-twilio` Twilio's webhooks, ...) and is meant for the webhook's own path,
query_api.routes.ingest.adapted, with the in-memory sources of `sources()`. Only the formats
ingest/formats holds are used.

The customers are the demo's (ingest.demo.party), named as their channels name them: a phone
number, an e-mail address, a Messenger or Instagram id, a web visitor id, each derived from the
party id, so that a customer keeps the same ones across channels and runs. No vendor record carries
a party id: until identity resolution links those identifiers to parties, these interactions count
in the KPIs and show on their agents' timelines, not in their customers' histories.
"""

from __future__ import annotations

import base64
import json
import random
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, formataddr
from typing import Any
from urllib.parse import urlencode

from ingest.demo import REASONS, STORE_WEIGHTS, STORES, party
from ingest.formats import FORMATS
from ingest.sources import Source, SourceTable

PHONE_REGION = "PT"
COMPANY_DOMAIN = "telco.example"
SUPPORT = f"support@{COMPANY_DOMAIN}"
NAMESPACE = uuid.UUID("6b0f3c1e-2d4a-4c5e-9f70-8a1b2c3d4e5f")
"""Fixed ids (queues, agents, visitors) are uuid5 of their name in this namespace: the same in every run."""

SOURCES: dict[str, tuple[str, dict[str, Any]]] = {
    # source name: (format id, the format's options in the source's table)
    "demo-connect": ("amazon-connect-ctr", {"reason_attribute": "intent"}),
    "demo-connect-events": ("amazon-connect-event", {"reason_attribute": "intent"}),
    "demo-genesys": ("genesys-cloud", {}),
    "demo-twilio": ("twilio", {}),
    "demo-twilio-streams": ("twilio-event-streams", {}),
    "demo-whatsapp": ("whatsapp-cloud", {}),
    "demo-messenger": ("messenger", {}),
    "demo-mail": ("email-mime", {"own_addresses": [COMPANY_DOMAIN]}),
    "demo-snowplow": ("snowplow", {}),
    "demo-crm": (
        "debezium",
        {
            "table": "crm.contact_history",
            "key": ["id"],
            "columns": {
                "startDateTime": "started_at",
                "endDateTime": "ended_at",
                "channel": "channel",
                "direction": "direction",
                "reason": "subject",
                "description": "notes",
                "status": "outcome",
                "customer": "customer_no",
                "agent": "agent_login",
            },
            "channel_values": {"SHOP": "store", "PHONE": "voice"},
            "direction_values": {"IN": "inbound", "OUT": "outbound"},
            "status_values": {"OPEN": "inProgress", "DONE": "completed", "NO_ANSWER": "cancelled"},
            "timestamps": {"started_at": "micros", "ended_at": "micros"},
        },
    ),
}


def sources() -> dict[str, Source]:
    """The demo's sources whose format is present, as a sources file would define them (signed
    formats unsigned: the demo signs nothing)."""
    found = {}
    for name, (format_id, options) in SOURCES.items():
        vendor = FORMATS.get(format_id)
        if vendor is None:
            continue
        settings = (
            vendor.options.model_validate(options).model_dump(mode="json", exclude_none=True) if vendor.options else {}
        )
        table = SourceTable(format=format_id, phone_region=PHONE_REGION, unsigned=vendor.signs)
        found[name] = Source(name, table, vendor, settings)
    return found


@dataclass(frozen=True, slots=True)
class Delivery:
    source: str
    media_type: str
    body: bytes
    at: datetime  # when it arrives

    @property
    def received(self) -> str:
        """When it arrives, ISO 8601: the time of the records that carry none (Twilio's messages)."""
        return _ms(self.at)


@dataclass(slots=True)
class Story:
    """One customer's contact with one channel system: the interactions it makes, its deliveries."""

    interactions: int = 0
    deliveries: list[Delivery] = field(default_factory=list)

    def send(self, source: str, media_type: str, body: bytes, at: datetime) -> None:
        self.deliveries.append(Delivery(source, media_type, body, at))

    def send_json(self, source: str, document: Any, at: datetime) -> None:
        self.send(source, "application/json", json.dumps(document, ensure_ascii=False).encode(), at)


# -- stories ------------------------------------------------------------------------------------

# When contacts begin: hardly at night, busiest mid-morning and mid-afternoon
HOUR_WEIGHTS = [0.2] * 7 + [1, 3, 5, 6, 6, 5, 5, 6, 6, 5, 4, 3, 2, 1.5, 1, 0.5, 0.3]


def stories(count: int, seed: int = 1, parties: int = 2000, anchor: datetime | None = None) -> Iterator[Story]:
    """Stories making about `count` interactions over the 90 days before `anchor` (default: now).
    Deliveries that would arrive after `anchor` are left out: those contacts are still under way."""
    rng = random.Random(f"vendor-demo:{seed}")
    anchor = (anchor or datetime.now(UTC)).replace(microsecond=0)
    present = sources()
    tellers = [(teller, weight) for source, weight, teller in TELLERS if source in present]
    if not tellers:
        return
    produced = 0
    while produced < count:
        day = anchor - timedelta(days=rng.randrange(90))
        hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
        began = day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))
        teller = rng.choices([t for t, _ in tellers], [w for _, w in tellers])[0]
        story = teller(rng, party(rng, parties), began)
        story.deliveries = [d for d in story.deliveries if d.source in present and d.at <= anchor]
        if not story.deliveries or story.deliveries[0].at > anchor:
            continue
        produced += story.interactions
        yield story


def deliveries(count: int, seed: int = 1, parties: int = 2000, anchor: datetime | None = None) -> Iterator[Delivery]:
    for story in stories(count, seed, parties, anchor):
        yield from story.deliveries


# -- how channels name the demo's customers -------------------------------------------------------


def _number(customer: dict[str, Any]) -> int:
    return int(customer["id"].rpartition("-")[2])


def phone(customer: dict[str, Any]) -> str:
    """A Portuguese mobile number, E.164."""
    return f"+35191{_number(customer):07d}"


def email_address(customer: dict[str, Any]) -> str:
    number = _number(customer)
    if customer["@referredType"] == "Organization":
        local = f"accounts.{number}"
    else:
        plain = unicodedata.normalize("NFKD", customer["name"]).encode("ascii", "ignore").decode()
        local = f"{plain.lower().replace(' ', '.')}.{number}"
    return f"{local}@{('example.com', 'example.net', 'example.org')[number % 3]}"


def page_scoped_id(customer: dict[str, Any]) -> str:
    """The customer's Messenger PSID for the company's page."""
    return str(2_400_000_000_000_000 + _number(customer) * 7_919)


def instagram_id(customer: dict[str, Any]) -> str:
    return str(17_841_400_000_000_000 + _number(customer) * 104_729)


def visitor_id(customer: dict[str, Any], kind: str) -> str:
    """A web visitor's cookie id (`domain` or `network`) on the company's site."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{customer['id']}"))


# -- what customers write and what the company answers ---------------------------------------------

ASKS = {
    "Billing question": "Hi, what is the 4.99 charge on my last bill?",
    "Bill higher than expected": "My bill this month is almost double the usual. Can you check it please?",
    "Upgrade mobile plan": "I'd like a plan with more data. What can I move to?",
    "Buy TV and internet bundle": "Do you have a TV and internet bundle for my address?",
    "Report broadband outage": "My internet has been down since this morning, the router light is red.",
    "Roaming activation": "I travel to Brazil next week. How do I turn roaming on?",
    "SIM replacement": "I lost my phone and need a new SIM with the same number.",
    "Porting request": "I want to bring my number over from my current operator.",
    "Cancel subscription": "Please cancel my TV subscription at the end of the month.",
    "Device repair": "My phone screen cracked. Can I send it in for repair?",
    "Change of address": "I'm moving next month. Can I take my internet with me?",
    "Payment arrangement": "Could I pay this month's bill in two parts?",
}
ANSWERS = {
    "Billing question": "That is the monthly fee of the cloud backup you added in September.",
    "Bill higher than expected": "We found roaming charges from 12 October: 18.40 EUR is credited on your next bill.",
    "Upgrade mobile plan": "The Unlimited 5G plan is 5 EUR more a month; reply YES and we switch you today.",
    "Buy TV and internet bundle": "Fibre 1 Gbps with 120 channels is available at your address for 49.99 EUR.",
    "Report broadband outage": "There is an outage in your area; the technicians expect to fix it by 18:00.",
    "Roaming activation": "Roaming is now active on your line; Brazil is in zone 3.",
    "SIM replacement": "A new SIM is on its way and your old one is blocked.",
    "Porting request": "Your number moves to us on Thursday between 10:00 and 12:00.",
    "Cancel subscription": "Your TV subscription ends on the last day of the month.",
    "Device repair": "Drop the phone at any of our stores; the repair takes about five days.",
    "Change of address": "We booked the move of your internet for the 3rd; a technician will call you.",
    "Payment arrangement": "Done: half is due on the 15th and half on the 30th.",
}
FOLLOW_UPS = [
    "Thanks. Does this change anything in my contract?",
    "Sorry, the app still shows the old amount.",
    "One more question: is there a fee for this?",
]
THANKS = ["Thanks!", "Great, thank you.", "Perfect, thanks a lot", "Ok 👍", "Thank you, that helps."]


# -- Amazon Connect: contact records (demo-connect) and contact events (demo-connect-events) -------

CONNECT_ACCOUNT = "111122223333"
CONNECT_INSTANCE = f"arn:aws:connect:eu-west-1:{CONNECT_ACCOUNT}:instance/6f0c3f4e-9c52-4d47-9a38-2b1e5c7d8a90"
CONNECT_LINE = "+351210000100"
CONNECT_AGENTS = {
    # username: typical minutes with a caller (agents differ in handling time)
    "marta.costa": 4,
    "rui.ferreira": 6,
    "ines.almeida": 5,
    "tiago.sousa": 9,
    "catarina.lopes": 4,
    "joao.pereira": 7,
    "sofia.martins": 5,
    "pedro.rodrigues": 11,
    "beatriz.gomes": 6,
    "miguel.carvalho": 8,
}
QUEUE_OF = {
    "Billing question": "Billing",
    "Bill higher than expected": "Billing",
    "Payment arrangement": "Billing",
    "Upgrade mobile plan": "Sales",
    "Buy TV and internet bundle": "Sales",
    "Porting request": "Sales",
    "Report broadband outage": "Technical Support",
    "Device repair": "Technical Support",
    "SIM replacement": "Technical Support",
    "Cancel subscription": "Retention",
}


def _connect_queue(name: str) -> dict[str, Any]:
    return {"ARN": f"{CONNECT_INSTANCE}/queue/{uuid.uuid5(NAMESPACE, 'connect-queue:' + name)}", "Name": name}


def _connect_agent_arn(username: str) -> str:
    return f"{CONNECT_INSTANCE}/agent/{uuid.uuid5(NAMESPACE, 'connect-agent:' + username)}"


def _connect(rng: random.Random, customer: dict[str, Any], began: datetime) -> Story:
    """A call or a chat; some calls are transferred to another queue, some leave a follow-up task."""
    story = Story()
    reason = rng.choice(REASONS)
    channel = rng.choices(["VOICE", "CHAT"], [3, 1])[0]
    first = _contact(rng, customer, channel, began, reason, QUEUE_OF.get(reason, "Customer Care"))
    contacts = [first]
    if channel == "VOICE" and first["Agent"] and rng.random() < 0.1:  # the agent hands over to specialists
        second = _contact(
            rng,
            customer,
            channel,
            _time(first["DisconnectTimestamp"]),
            reason,
            rng.choice(["Technical Support", "Retention"]),
            method="TRANSFER",
            previous=first["ContactId"],
        )
        first["NextContactId"] = second["ContactId"]
        first["TransferCompletedTimestamp"] = first["DisconnectTimestamp"]
        contacts.append(second)
    last = contacts[-1]
    if channel == "VOICE" and last["Agent"] and rng.random() < 0.1:  # something to do after the call
        done = _time(last["Agent"]["AfterContactWorkEndTimestamp"])
        contacts.append(
            _contact(
                rng,
                customer,
                "TASK",
                done + timedelta(minutes=rng.uniform(1, 5)),
                reason,
                "Back Office",
                related=last["ContactId"],
            )
        )
    for record in contacts:
        story.interactions += 1
        if "amazon-connect-event" in FORMATS and rng.random() < 0.6:  # the instance's EventBridge rule
            for event in _contact_events(rng, record):
                story.send_json("demo-connect-events", event, _time(event["time"]) + timedelta(seconds=1))
        # Kinesis Data Streams: one stream record per contact record, as soon as it is written
        story.send_json(
            "demo-connect", record, _time(record["LastUpdateTimestamp"]) + timedelta(seconds=rng.uniform(1, 30))
        )
    return story


def _contact(
    rng: random.Random,
    customer: dict[str, Any],
    channel: str,
    began: datetime,
    reason: str,
    queue: str,
    *,
    method: str = "INBOUND",
    previous: str | None = None,
    related: str | None = None,
) -> dict[str, Any]:
    """A contact record as Connect writes it (contact record data model, format 2017-03-10)."""
    contact_id = _uuid(rng)
    voice = channel == "VOICE"
    # a flow spends a while identifying the caller; a transfer or a task is queued at once
    enqueued = began + timedelta(seconds=1 + (rng.uniform(15, 90) if voice and not previous else rng.uniform(1, 5)))
    if channel == "TASK":
        waited = rng.lognormvariate(9, 0.8)  # tasks wait hours for a free agent
    else:
        waited = min(900, rng.lognormvariate(3.4, 0.9))
    dequeued = enqueued + timedelta(seconds=waited)
    abandoned = voice and not previous and rng.random() < 0.07  # the caller hangs up in the queue
    agent = None
    if abandoned:
        disconnected, updated = dequeued, dequeued + timedelta(seconds=rng.uniform(5, 60))
    else:
        username = rng.choice(list(CONNECT_AGENTS))
        if voice:
            talk = max(40.0, rng.gauss(CONNECT_AGENTS[username] * 60, 70))
        else:
            talk = rng.uniform(3, 15) * 60  # chats and tasks: the agent does other things meanwhile
        holds = rng.choices([0, 1, 2], [6, 3, 1])[0] if voice else 0
        hold_times = [round(rng.uniform(15, 150)) for _ in range(holds)]
        disconnected = dequeued + timedelta(seconds=talk + sum(hold_times))
        work_ended = disconnected + timedelta(seconds=rng.uniform(10, 150))
        updated = work_ended + timedelta(seconds=rng.uniform(1, 20))
        team = "Team Tejo" if username < "m" else "Team Douro"
        agent = {
            "ARN": _connect_agent_arn(username),
            "AfterContactWorkDuration": round((work_ended - disconnected).total_seconds()),
            "AfterContactWorkEndTimestamp": _z(work_ended),
            "AfterContactWorkStartTimestamp": _z(disconnected),
            "AgentInteractionDuration": round(talk),
            "ConnectedToAgentTimestamp": _z(dequeued),
            "CustomerHoldDuration": sum(hold_times),
            "HierarchyGroups": {
                "Level1": {
                    "ARN": f"{CONNECT_INSTANCE}/agent-group/{uuid.uuid5(NAMESPACE, 'Lisbon')}",
                    "GroupName": "Lisbon",
                },
                "Level2": {"ARN": f"{CONNECT_INSTANCE}/agent-group/{uuid.uuid5(NAMESPACE, team)}", "GroupName": team},
            },
            "LongestHoldDuration": max(hold_times, default=0),
            "NumberOfHolds": holds,
            "RoutingProfile": {
                "ARN": f"{CONNECT_INSTANCE}/routing-profile/{uuid.uuid5(NAMESPACE, 'Voice and chat')}",
                "Name": "Voice and chat",
            },
            "Username": username,
        }
    by_phone = {"Address": phone(customer), "Type": "TELEPHONE_NUMBER"}
    record: dict[str, Any] = {
        "AWSAccountId": CONNECT_ACCOUNT,
        "AWSContactTraceRecordFormatVersion": "2017-03-10",
        "Agent": agent,
        "AgentConnectionAttempts": 0 if abandoned else 1,
        "Attributes": {"intent": reason, "language": "pt_PT", "segment": customer["@referredType"].lower()},
        "Campaign": {"CampaignId": None},
        "Channel": channel,
        "ConnectedToSystemTimestamp": _z(began + timedelta(seconds=1)),
        "ContactDetails": {},
        "ContactId": contact_id,
        "CustomerEndpoint": by_phone if voice else None,
        # the flow found the caller's account (a chat's customer is signed in): the CRM's number
        "CustomerId": customer["id"] if not voice or rng.random() < 0.5 else None,
        "CustomerVoiceActivity": None,
        "DisconnectReason": "CUSTOMER_DISCONNECT" if abandoned or rng.random() < 0.6 else "AGENT_DISCONNECT",
        "DisconnectTimestamp": _z(disconnected),
        "InitialContactId": previous,
        "InitiationMethod": "API" if channel != "VOICE" else method,
        "InitiationTimestamp": _z(began),
        "InstanceARN": CONNECT_INSTANCE,
        "LastUpdateTimestamp": _z(updated),
        "MediaStreams": [{"Type": {"VOICE": "AUDIO"}.get(channel, channel)}],
        "NextContactId": None,
        "PreviousContactId": previous,
        "Queue": {
            **_connect_queue(queue),
            "DequeueTimestamp": _z(dequeued),
            "Duration": round(waited),
            "EnqueueTimestamp": _z(enqueued),
        },
        "Recording": None,
        "Recordings": None,
        "References": [],
        "RelatedContactId": related,
        "ScheduledTimestamp": None,
        "SystemEndpoint": {"Address": CONNECT_LINE, "Type": "TELEPHONE_NUMBER"} if voice else None,
        "TransferCompletedTimestamp": None,
        "TransferredToEndpoint": None,
        "VoiceIdResult": None,
    }
    if channel == "TASK":
        record["Name"] = f"Follow-up: {reason}"
        record["Description"] = f"Call the customer back about: {ASKS.get(reason, reason)}"
    if voice and agent:
        folder = f"connect-recordings-eu/connect/telco/CallRecordings/{began:%Y/%m/%d}"
        location = f"{folder}/{contact_id}_{began:%Y%m%dT%H:%M}_UTC.wav"
        recording = {"Location": location, "Status": "AVAILABLE", "Type": "AUDIO", "DeletionReason": None}
        record["Recording"] = recording
        record["Recordings"] = [
            {
                **recording,
                "MediaStreamType": "AUDIO",
                "ParticipantType": "AGENT",
                "StorageType": "S3",
                "StartTimestamp": agent["ConnectedToAgentTimestamp"],
                "StopTimestamp": record["DisconnectTimestamp"],
            }
        ]
    return record


def _contact_events(rng: random.Random, record: dict[str, Any]) -> list[dict[str, Any]]:
    """The contact's EventBridge events, as the contact events data model writes them."""
    detail: dict[str, Any] = {
        "contactId": record["ContactId"],
        "initialContactId": record["InitialContactId"],
        "previousContactId": record["PreviousContactId"],
        "relatedContactId": record["RelatedContactId"],
        "channel": record["Channel"],
        "instanceArn": CONNECT_INSTANCE,
        "initiationMethod": record["InitiationMethod"],
        "initiationTimestamp": _ms(_time(record["InitiationTimestamp"])),
    }
    steps: list[tuple[str, str, dict[str, Any]]] = [("INITIATED", record["InitiationTimestamp"], {})]
    queue = {
        "queueArn": record["Queue"]["ARN"],
        "queueType": "STANDARD",
        "enqueueTimestamp": _ms(_time(record["Queue"]["EnqueueTimestamp"])),
    }
    system = {"connectedToSystemTimestamp": _ms(_time(record["ConnectedToSystemTimestamp"]))}
    steps.append(("QUEUED", record["Queue"]["EnqueueTimestamp"], {**system, "queueInfo": queue}))
    agent = record["Agent"]
    with_agent: dict[str, Any] = {}
    if agent:
        with_agent = {
            "agentArn": agent["ARN"],
            "connectedToAgentTimestamp": _ms(_time(agent["ConnectedToAgentTimestamp"])),
        }
        steps.append(
            (
                "CONNECTED_TO_AGENT",
                agent["ConnectedToAgentTimestamp"],
                {**system, "queueInfo": queue, "agentInfo": with_agent},
            )
        )
    ended = {**system, "queueInfo": queue, "disconnectTimestamp": _ms(_time(record["DisconnectTimestamp"]))}
    steps.append(
        ("DISCONNECTED", record["DisconnectTimestamp"], {**ended, **({"agentInfo": with_agent} if agent else {})})
    )
    if agent:
        work = {
            **with_agent,
            "afterContactWorkStartTimestamp": _ms(_time(agent["AfterContactWorkStartTimestamp"])),
            "afterContactWorkEndTimestamp": _ms(_time(agent["AfterContactWorkEndTimestamp"])),
        }
        steps.append(("COMPLETED", agent["AfterContactWorkEndTimestamp"], {**ended, "agentInfo": work}))
    return [
        {
            "version": "0",
            "id": _uuid(rng),
            "detail-type": "Amazon Connect Contact Event",
            "source": "aws.connect",
            "account": CONNECT_ACCOUNT,
            "time": _z(_time(at)),
            "region": "eu-west-1",
            "resources": [CONNECT_INSTANCE, f"{CONNECT_INSTANCE}/contact/{record['ContactId']}"],
            "detail": {"eventType": event_type, **detail, **more},
        }
        for event_type, at, more in steps
    ]


# -- Genesys Cloud: conversation detail records (demo-genesys) -----------------------------------

GENESYS_LINE = "tel:+351210000300"
GENESYS_QUEUES = ("Home Services", "Mobile Services", "Business Line")
GENESYS_AGENTS = ("Laura Mendes", "Nuno Santos", "Rita Oliveira", "Hugo Pinto", "Carla Rocha", "Bruno Teixeira")
GENESYS_DIVISION = str(uuid.uuid5(NAMESPACE, "genesys-division:Home"))


def _genesys_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"genesys-{kind}:{name}"))


def _genesys(rng: random.Random, customer: dict[str, Any], began: datetime) -> Story:
    """A call or a web messaging chat handled by the contact centre that runs on Genesys Cloud, as
    the analytics conversation details job returns it once the conversation has ended."""
    story = Story(interactions=1)
    voice = rng.random() < 0.75
    media = "voice" if voice else "message"
    queue = rng.choice(GENESYS_QUEUES)
    agent = rng.choice(GENESYS_AGENTS)
    menu_end = began + timedelta(seconds=rng.uniform(20, 70) if voice else 0)
    answered = menu_end + timedelta(seconds=min(600, rng.lognormvariate(3.2, 0.9)))
    talk = rng.uniform(120, 700) if voice else rng.uniform(240, 1200)
    held = rng.choice([0, 0, 0, rng.uniform(20, 120)]) if voice else 0
    hung_up = answered + timedelta(seconds=talk + held)
    wrapped = hung_up + timedelta(seconds=rng.uniform(10, 90))

    def session(segments: list[dict[str, Any]], metrics: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        shape = {"mediaType": media, "sessionId": _uuid(rng), "direction": "inbound"}
        if voice:
            shape |= {"ani": f"tel:{phone(customer)}", "dnis": GENESYS_LINE, "provider": "Edge"}
        else:
            shape |= {"messageType": "webmessaging", "provider": "PureCloud Messaging"}
        return {**shape, "segments": segments, "metrics": metrics or []}

    def segment(kind: str, start: datetime, end: datetime, **fields: Any) -> dict[str, Any]:
        return {"segmentStart": _ms(start), "segmentEnd": _ms(end), "segmentType": kind, "conference": False, **fields}

    def metric(name: str, seconds: float, at: datetime) -> dict[str, Any]:
        return {
            "name": name,
            "value": round(seconds * 1000) if name.startswith("t") else round(seconds),
            "emitDate": _ms(at),
        }

    queue_id = _genesys_id("queue", queue)
    customer_part: dict[str, Any] = {
        "participantId": _uuid(rng),
        "participantName": customer["name"],
        "purpose": "customer",
        "sessions": [session([segment("interact", began, hung_up, disconnectType=rng.choice(["endpoint", "peer"]))])],
    }
    if not voice:  # a signed-in visitor of the site: the web messenger names the customer's contact
        customer_part["externalContactId"] = _genesys_id("contact", customer["id"])
    participants = [customer_part]
    if voice:
        participants.append(
            {
                "participantId": _uuid(rng),
                "participantName": "Main menu",
                "purpose": "ivr",
                "sessions": [session([segment("ivr", began, menu_end)])],
            }
        )
    participants.append(
        {
            "participantId": _uuid(rng),
            "participantName": queue,
            "purpose": "acd",
            "sessions": [
                session(
                    [segment("interact", menu_end, answered, queueId=queue_id, disconnectType="transfer")],
                    [metric("nOffered", 1, menu_end), metric("tAcd", (answered - menu_end).total_seconds(), answered)],
                )
            ],
        }
    )
    segments = [
        segment("alert", answered - timedelta(seconds=8), answered, queueId=queue_id),
        segment("interact", answered, hung_up - timedelta(seconds=held), queueId=queue_id),
    ]
    if held:
        segments.append(segment("hold", hung_up - timedelta(seconds=held), hung_up, queueId=queue_id))
    wrap_up: dict[str, Any] = {"wrapUpNote": rng.choice(list(ANSWERS.values()))} if rng.random() < 0.4 else {}
    segments.append(segment("wrapup", hung_up, wrapped, queueId=queue_id, **wrap_up))
    metrics = [metric("tAlert", 8, answered), metric("tAnswered", 8, answered), metric("tTalk", talk, hung_up)]
    if held:
        metrics.append(metric("tHeld", held, hung_up))
    handled = (wrapped - answered).total_seconds()
    metrics += [metric("tTalkComplete", talk, hung_up), metric("tAcw", (wrapped - hung_up).total_seconds(), wrapped)]
    metrics.append(metric("tHandle", handled, wrapped))
    participants.append(
        {
            "participantId": _uuid(rng),
            "participantName": agent,
            "purpose": "agent",
            "userId": _genesys_id("user", agent),
            "sessions": [session(segments, metrics)],
        }
    )
    record = {
        "conversationId": _uuid(rng),
        "conversationStart": _ms(began),
        "conversationEnd": _ms(hung_up),
        "originatingDirection": "inbound",
        "divisionIds": [GENESYS_DIVISION],
        **({"mediaStatsMinConversationMos": round(rng.uniform(3.9, 4.5), 2)} if voice else {}),
        "participants": participants,
    }
    story.send_json("demo-genesys", record, wrapped + timedelta(minutes=rng.uniform(5, 30)))
    return story


# -- Twilio: messaging and voice webhooks (demo-twilio), Event Streams (demo-twilio-streams) -------

FORM = "application/x-www-form-urlencoded"
TWILIO_ACCOUNT = "AC3f9e2b7c1d4a5e6f708192a3b4c5d6e7"
TWILIO_SERVICE = "MG5b1e0c9d8a7f6e5d4c3b2a1908f7e6d5"
TWILIO_NUMBER = "+351930000100"
UNDELIVERED = ("30003", "30005", "30006")  # unreachable handset, unknown number, landline


def _sid(rng: random.Random, prefix: str) -> str:
    return prefix + _hex(rng, 32)


def _twilio_sms(rng: random.Random, customer: dict[str, Any], began: datetime) -> Story:
    """A customer texts the company's number; an agent answers; the customer often thanks."""
    story = Story()
    reason = rng.choice(REASONS)
    number = phone(customer)
    story.interactions += 1
    story.send("demo-twilio", FORM, _sms_received(rng, number, ASKS[reason]), began + timedelta(seconds=1))
    answered = began + timedelta(minutes=rng.uniform(2, 40))
    story.interactions += 1
    sid = _sid(rng, "SM")
    fate = "undelivered" if rng.random() < 0.04 else "delivered"
    for status, after in (("sent", 1), (fate, rng.uniform(2, 12))):
        fields = [("SmsSid", sid), ("SmsStatus", status), ("MessageStatus", status), ("To", number)]
        fields += [("MessagingServiceSid", TWILIO_SERVICE), ("MessageSid", sid), ("AccountSid", TWILIO_ACCOUNT)]
        fields += [("From", TWILIO_NUMBER), ("ApiVersion", "2010-04-01")]
        if status == "delivered":
            fields.append(("RawDlrDoneDate", f"{answered:%y%m%d%H%M}"))
        if status == "undelivered":
            fields.append(("ErrorCode", rng.choice(UNDELIVERED)))
        story.send("demo-twilio", FORM, urlencode(fields).encode(), answered + timedelta(seconds=after))
    if fate == "delivered" and rng.random() < 0.4:
        story.interactions += 1
        thanked = answered + timedelta(minutes=rng.uniform(1, 30))
        story.send("demo-twilio", FORM, _sms_received(rng, number, rng.choice(THANKS)), thanked)
    return story


def _sms_received(rng: random.Random, sender: str, text: str) -> bytes:
    """Twilio's incoming message webhook, its fields in Twilio's order."""
    sid = _sid(rng, "SM")
    fields = [
        ("ToCountry", "PT"),
        ("ToState", ""),
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("ToCity", ""),
        ("FromZip", ""),
        ("SmsSid", sid),
        ("FromState", ""),
        ("SmsStatus", "received"),
        ("FromCity", ""),
        ("Body", text),
        ("FromCountry", "PT"),
        ("To", TWILIO_NUMBER),
        ("MessagingServiceSid", TWILIO_SERVICE),
        ("ToZip", ""),
        ("NumSegments", "1"),
        ("ReferralNumMedia", "0"),
        ("MessageSid", sid),
        ("AccountSid", TWILIO_ACCOUNT),
        ("From", sender),
        ("ApiVersion", "2010-04-01"),
    ]
    return urlencode(fields).encode()


def _twilio_call(rng: random.Random, customer: dict[str, Any], began: datetime) -> Story:
    """A call to the company's Twilio number: the incoming call webhook, then the status callback
    when it ends."""
    story = Story(interactions=1)
    sid, number = _sid(rng, "CA"), phone(customer)
    sides = [("Called", TWILIO_NUMBER), ("CalledCountry", "PT"), ("Caller", number), ("CallerCountry", "PT")]
    sides += [("From", number), ("FromCountry", "PT"), ("To", TWILIO_NUMBER), ("ToCountry", "PT")]
    ringing = [("AccountSid", TWILIO_ACCOUNT), ("ApiVersion", "2010-04-01"), ("CallSid", sid)]
    ringing += [("CallStatus", "ringing"), ("Direction", "inbound"), *sides]
    story.send("demo-twilio", FORM, urlencode(ringing).encode(), began)
    seconds = round(rng.uniform(40, 600))
    ended = began + timedelta(seconds=seconds + 5)
    completed = [("AccountSid", TWILIO_ACCOUNT), ("ApiVersion", "2010-04-01"), ("CallSid", sid)]
    completed += [("CallStatus", "completed"), ("CallDuration", str(seconds)), ("Duration", str(-(-seconds // 60)))]
    completed += [("Direction", "inbound"), *sides, ("CallbackSource", "call-progress-events")]
    completed += [("SequenceNumber", "0"), ("Timestamp", format_datetime(ended))]
    story.send("demo-twilio", FORM, urlencode(completed).encode(), ended + timedelta(seconds=1))
    return story


NOTICES = [
    "Your invoice for {month} is ready: 34.90 EUR, due on the 20th. Details in the app.",
    "Your technician visit is confirmed for tomorrow between 09:00 and 13:00.",
    "You have used 80% of your mobile data this month.",
    "Your repair is ready for pickup at your store.",
    "Your new SIM card has been shipped.",
]


def _twilio_notice(rng: random.Random, customer: dict[str, Any], began: datetime) -> Story:
    """A notification texted to the customer, its progress told by Event Streams' webhook sink
    (each event in its own batch: they come seconds apart)."""
    story = Story(interactions=1)
    sid = _sid(rng, "SM")
    text = rng.choice(NOTICES).format(month=f"{began:%B}")
    at = began
    for status in ("queued", "sent", "delivered"):
        at += timedelta(seconds=rng.uniform(0.2, 6))
        event = {
            "specversion": "1.0",
            "type": f"com.twilio.messaging.message.{status}",
            "source": f"/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Messages/{sid}.json",
            "id": _sid(rng, "EZ"),
            "dataschema": "https://events-schemas.twilio.com/Messaging.MessageStatus/5",
            "datacontenttype": "application/json",
            "time": _ms(at),
            "data": {
                "messageSid": sid,
                "timestamp": _ms(at),
                "accountSid": TWILIO_ACCOUNT,
                "messagingServiceSid": TWILIO_SERVICE,
                "eventName": f"com.twilio.messaging.message.{status}",
                "apiVersion": "2010-04-01",
                "from": TWILIO_NUMBER,
                "to": phone(customer),
                "messageStatus": status.upper(),
                "body": text,
                "numberOfSegments": 1,
            },
        }
        story.send_json("demo-twilio-streams", [event], at + timedelta(seconds=rng.uniform(1, 4)))
    return story


# -- WhatsApp Cloud API (demo-whatsapp) -----------------------------------------------------------

WHATSAPP_ACCOUNT = "102938475610293"
WHATSAPP_DISPLAY = "351930000200"
WHATSAPP_PHONE_ID = "109876543210987"


def _wamid(rng: random.Random, wa_id: str) -> str:
    """A message id as the Cloud API writes them: base64 of the number and a random hex id."""
    raw = b"\x18\x0c" + wa_id.encode() + b"\x15\x02\x00\x12\x18\x14" + _hex(rng, 20).upper().encode() + b"\x00"
    return "wamid." + base64.b64encode(raw).decode()


def _whatsapp_change(value: dict[str, Any]) -> dict[str, Any]:
    shared = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": WHATSAPP_DISPLAY, "phone_number_id": WHATSAPP_PHONE_ID},
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WHATSAPP_ACCOUNT, "changes": [{"value": {**shared, **value}, "field": "messages"}]}],
    }


def _whatsapp(rng: random.Random, customer: dict[str, Any], began: datetime) -> Story:
    """A customer writes (now and then a photo); an agent answers; the answer's statuses follow."""
    story = Story(interactions=2)
    reason = rng.choice(REASONS)
    wa_id = phone(customer).removeprefix("+")
    message: dict[str, Any] = {"from": wa_id, "id": _wamid(rng, wa_id), "timestamp": str(int(began.timestamp()))}
    if rng.random() < 0.2:
        image = {
            "caption": ASKS[reason],
            "mime_type": "image/jpeg",
            "sha256": base64.b64encode(rng.randbytes(32)).decode(),
        }
        message |= {"type": "image", "image": {**image, "id": str(rng.randrange(10**15, 10**16))}}
    else:
        message |= {"type": "text", "text": {"body": ASKS[reason]}}
    contact = {"profile": {"name": customer["name"]}, "wa_id": wa_id}
    story.send_json(
        "demo-whatsapp", _whatsapp_change({"contacts": [contact], "messages": [message]}), began + timedelta(seconds=1)
    )
    answer = _wamid(rng, wa_id)
    at = began + timedelta(minutes=rng.uniform(1, 30))
    conversation = {
        "id": _hex(rng, 32),
        "expiration_timestamp": str(int((at + timedelta(hours=24)).timestamp())),
        "origin": {"type": "service"},
    }
    pricing = {"billable": True, "pricing_model": "CBP", "category": "service"}
    for status in ("sent", "delivered", "read")[: rng.choice([2, 3, 3])]:
        at += timedelta(seconds=rng.uniform(1, 90 if status == "read" else 5))
        item: dict[str, Any] = {
            "id": answer,
            "status": status,
            "timestamp": str(int(at.timestamp())),
            "recipient_id": wa_id,
        }
        if status != "read":
            item |= {"conversation": conversation, "pricing": pricing}
        story.send_json("demo-whatsapp", _whatsapp_change({"statuses": [item]}), at + timedelta(seconds=1))
    return story


# -- Messenger and Instagram messaging (demo-messenger) ------------------------------------------

FACEBOOK_PAGE = "104859263370001"
INSTAGRAM_ACCOUNT = "17841400000000001"
MESSENGER_APP = 1517776481860111


def _mid(rng: random.Random) -> str:
    return "m_" + base64.urlsafe_b64encode(rng.randbytes(63)).decode()


def _messenger(rng: random.Random, customer: dict[str, Any], began: datetime) -> Story:
    """A customer writes to the company's Facebook page or Instagram account; an agent answers
    from the inbox (the page's echo); the answer is delivered and read."""
    story = Story(interactions=2)
    instagram = rng.random() < 0.3
    kind, own = ("instagram", INSTAGRAM_ACCOUNT) if instagram else ("page", FACEBOOK_PAGE)
    person = instagram_id(customer) if instagram else page_scoped_id(customer)
    reason = rng.choice(REASONS)

    def entry(at: datetime, item: dict[str, Any]) -> dict[str, Any]:
        return {"object": kind, "entry": [{"id": own, "time": _epoch_ms(at) + 800, "messaging": [item]}]}

    asked = {"mid": _mid(rng), "text": ASKS[reason]}
    customer_says = {
        "sender": {"id": person},
        "recipient": {"id": own},
        "timestamp": _epoch_ms(began),
        "message": asked,
    }
    story.send_json("demo-messenger", entry(began, customer_says), began + timedelta(seconds=1))
    at = began + timedelta(minutes=rng.uniform(2, 45))
    mid = _mid(rng)
    echo = {"mid": mid, "is_echo": True, "app_id": MESSENGER_APP, "text": ANSWERS[reason]}
    story.send_json(
        "demo-messenger",
        entry(at, {"sender": {"id": own}, "recipient": {"id": person}, "timestamp": _epoch_ms(at), "message": echo}),
        at + timedelta(seconds=1),
    )
    at += timedelta(seconds=rng.uniform(1, 20))
    if instagram:  # Instagram names the message read; Messenger tells its delivery, then a read watermark
        receipts = [{"timestamp": _epoch_ms(at), "read": {"mid": mid}}]
    else:
        receipts = [{"delivery": {"mids": [mid], "watermark": _epoch_ms(at)}}]
        if rng.random() < 0.7:
            receipts.append({"timestamp": _epoch_ms(at) + 30_000, "read": {"watermark": _epoch_ms(at)}})
    for receipt in receipts:
        story.send_json(
            "demo-messenger",
            entry(at, {"sender": {"id": person}, "recipient": {"id": own}, **receipt}),
            at + timedelta(seconds=2),
        )
    return story


# -- mail (demo-mail): raw RFC 5322 messages, as the MTA pipes them ---------------------------------

MAIL_AGENTS = ("Marta Costa", "Rui Ferreira", "Inês Almeida", "Sofia Martins")
RFC822 = "message/rfc822"


def _email(rng: random.Random, customer: dict[str, Any], began: datetime) -> Story:
    """A customer writes to support; an agent answers; sometimes the customer replies and the
    agent answers again. One thread, one interaction; the latest word decides if it is open."""
    story = Story(interactions=1)
    reason = rng.choice(REASONS)
    address = email_address(customer)
    them = formataddr((customer["name"], address), charset="utf-8")
    us = formataddr((f"{rng.choice(MAIL_AGENTS)} (Telco Support)", SUPPORT), charset="utf-8")
    thread: list[str] = []
    at = began
    turns = rng.choices([1, 2, 3, 4], [1, 6, 1, 2])[0]  # sometimes still waiting for an answer
    for turn in range(turns):
        ours = turn % 2 == 1
        domain = COMPANY_DOMAIN if ours else "mail.example.com"
        message_id = f"{_hex(rng, 24)}@{domain}"
        if ours:
            text = f"Hello {customer['name'].split()[0]},\n\n{ANSWERS[reason]}\n\nKind regards,\nTelco Support"
        elif turn == 0:
            text = f"Hello,\n\n{ASKS[reason]}\n\nBest regards,\n{customer['name']}"
        else:
            text = f"{rng.choice(FOLLOW_UPS)}\n\n{customer['name']}"
        headers = [
            ("Return-Path", f"<{SUPPORT if ours else address}>"),
            ("From", us if ours else them),
            ("To", them if ours else formataddr(("Telco Support", SUPPORT))),
            ("Subject", f"Re: {reason}" if turn else reason),
            ("Date", format_datetime(at)),
            ("Message-ID", f"<{message_id}>"),
        ]
        if thread:
            headers += [("In-Reply-To", f"<{thread[-1]}>"), ("References", " ".join(f"<{m}>" for m in thread))]
        attachment = None
        if turn == 0 and rng.random() < 0.15:
            attachment = ("invoice.pdf", "application/pdf", b"%PDF-1.4\n% demo invoice\n" + rng.randbytes(96))
        story.send(
            "demo-mail", RFC822, _mail(rng, headers, text, attachment), at + timedelta(seconds=rng.uniform(2, 20))
        )
        thread.append(message_id)
        at += timedelta(hours=rng.uniform(0.5, 20) if not ours else rng.uniform(0.2, 48))
    return story


def _mail(
    rng: random.Random, headers: list[tuple[str, str]], text: str, attachment: tuple[str, str, bytes] | None
) -> bytes:
    lines = [f"{name}: {value}" for name, value in headers] + ["MIME-Version: 1.0"]
    plain = ['Content-Type: text/plain; charset="UTF-8"', "Content-Transfer-Encoding: 8bit", "", *text.split("\n")]
    if attachment is None:
        lines += plain
    else:
        name, media_type, payload = attachment
        boundary = f"000000000000{_hex(rng, 16)}"
        encoded = base64.b64encode(payload).decode()
        lines += [f'Content-Type: multipart/mixed; boundary="{boundary}"', "", f"--{boundary}", *plain, f"--{boundary}"]
        lines += [f'Content-Type: {media_type}; name="{name}"', f'Content-Disposition: attachment; filename="{name}"']
        lines += ["Content-Transfer-Encoding: base64", "", *(encoded[i : i + 76] for i in range(0, len(encoded), 76))]
        lines += [f"--{boundary}--"]
    return ("\r\n".join(lines) + "\r\n").encode()


# -- Snowplow: enriched events of web sessions (demo-snowplow) ------------------------------------

TSV = "text/tab-separated-values"
SITE = "www.telco.example"
PAGES = [
    ("/", "Telco | Mobile, TV and Internet"),
    ("/mobile/plans", "Mobile plans | Telco"),
    ("/tv-internet", "TV and Internet bundles | Telco"),
    ("/shop/phones", "Phones | Telco shop"),
    ("/support/billing", "Billing help | Telco"),
    ("/support/outage-map", "Service status | Telco"),
    ("/account/invoices", "My invoices | Telco"),
    ("/stores", "Find a store | Telco"),
]
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
]
ROBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SNOWPLOW = "com.snowplowanalytics.snowplow"


def _snowplow(rng: random.Random, customer: dict[str, Any], began: datetime) -> Story:
    """A visit to the company's site: page views, the pings of the pages read (the source leaves
    them out), a plan compared or a link followed. Now and then a crawler, which the source drops."""
    from ingest.formats.snowplow import FIELDS

    robot = rng.random() < 0.05
    story = Story(interactions=0 if robot else 1)
    signed_in = not robot and rng.random() < 0.6
    session = _uuid(rng)
    agent = ROBOT if robot else rng.choice(BROWSERS)
    common = {
        "app_id": "telco-web",
        "platform": "web",
        "name_tracker": "sp",
        "v_tracker": "js-3.24.2",
        "v_collector": "ssc-3.2.0-kafka",
        "v_etl": "snowplow-enrich-kafka-5.1.2",
        "user_id": customer["id"] if signed_in else "",
        "user_ipaddress": f"203.0.113.{rng.randrange(1, 255)}",
        "domain_userid": "" if robot else visitor_id(customer, "domain"),
        "domain_sessionidx": str(rng.randrange(1, 40)),
        "network_userid": "" if robot else visitor_id(customer, "network"),
        "geo_country": "PT",
        "geo_region": "11",
        "geo_city": rng.choice(["Lisbon", "Porto", "Braga", "Coimbra", "Faro"]),
        "geo_timezone": "Europe/Lisbon",
        "useragent": agent,
        "br_lang": "pt-PT",
        "br_cookies": "1",
        "br_colordepth": "24",
        "os_timezone": "Europe/Lisbon",
        "doc_charset": "UTF-8",
        "domain_sessionid": session,
        "event_vendor": SNOWPLOW,
        "event_format": "jsonschema",
    }
    lines = []
    at = began
    for _ in range(rng.randrange(2, 7)):
        path, title = rng.choice(PAGES)
        view = _uuid(rng)
        page = {
            "page_url": f"https://{SITE}{path}",
            "page_title": title,
            "page_urlscheme": "https",
            "page_urlhost": SITE,
            "page_urlport": "443",
            "page_urlpath": path,
            "contexts": _contexts(("web_page/jsonschema/1-0-0", {"id": view})),
        }
        lines.append(
            _enriched(
                FIELDS,
                rng,
                at,
                {**common, **page, "event": "page_view", "event_name": "page_view", "event_version": "1-0-0"},
            )
        )
        for _ in range(rng.randrange(0, 3)):  # the visitor reads on: a ping every 10 s
            at += timedelta(seconds=10)
            ping = {
                "event": "page_ping",
                "event_name": "page_ping",
                "event_version": "1-0-0",
                "pp_yoffset_max": str(rng.randrange(200, 3000)),
            }
            lines.append(_enriched(FIELDS, rng, at, {**common, **page, **ping}))
        at += timedelta(seconds=rng.uniform(5, 120))
        if path == "/mobile/plans" and rng.random() < 0.5:
            plan = rng.choice(["unlimited-5g", "30gb", "family-4"])
            compared = {"event": "struct", "event_name": "event", "event_version": "1-0-0"}
            compared |= {"se_category": "plans", "se_action": "compare", "se_label": plan, "se_value": "1"}
            lines.append(_enriched(FIELDS, rng, at, {**common, **page, **compared}))
        elif path.startswith("/support") and rng.random() < 0.4:
            target = f"https://{SITE}/support/contact"
            click = {"targetUrl": target, "elementId": "contact-us"}
            link = {"event": "unstruct", "event_name": "link_click", "event_version": "1-0-1"}
            link["unstruct_event"] = _self_describing("link_click/jsonschema/1-0-1", click)
            lines.append(_enriched(FIELDS, rng, at, {**common, **page, **link}))
    story.send("demo-snowplow", TSV, "".join(lines).encode(), at + timedelta(seconds=rng.uniform(5, 30)))
    return story


def _enriched(names: tuple[str, ...], rng: random.Random, at: datetime, values: dict[str, Any]) -> str:
    """One enriched event as a TSV line: its fields in the order of the canonical event model."""
    created = at - timedelta(milliseconds=rng.randrange(50, 900))
    times = {
        "collector_tstamp": _snowplow_time(at),
        "etl_tstamp": _snowplow_time(at + timedelta(seconds=rng.uniform(1, 5))),
        "dvce_created_tstamp": _snowplow_time(created),
        "dvce_sent_tstamp": _snowplow_time(created + timedelta(milliseconds=20)),
        "derived_tstamp": _snowplow_time(at - timedelta(milliseconds=20)),
        "event_id": _uuid(rng),
        "event_fingerprint": _hex(rng, 32),
    }
    row = {**values, **times}
    return "\t".join(str(row.get(name, "")) for name in names) + "\n"


def _contexts(*entities: tuple[str, dict[str, Any]]) -> str:
    data = [{"schema": f"iglu:{SNOWPLOW}/{schema}", "data": entity} for schema, entity in entities]
    return json.dumps({"schema": f"iglu:{SNOWPLOW}/contexts/jsonschema/1-0-0", "data": data}, separators=(",", ":"))


def _self_describing(schema: str, data: dict[str, Any]) -> str:
    inner = {"schema": f"iglu:{SNOWPLOW}/{schema}", "data": data}
    return json.dumps(
        {"schema": f"iglu:{SNOWPLOW}/unstruct_event/jsonschema/1-0-0", "data": inner}, separators=(",", ":")
    )


def _snowplow_time(moment: datetime) -> str:
    """`2026-11-20 09:00:00.123`: Snowplow writes UTC without a zone."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


# -- Debezium: the retail CRM's contact-history table (demo-crm) ------------------------------------

CRM_STAFF = ("lcosta", "apinto", "mrocha", "jsilva", "fneves", "cmoura", "rdias", "tbarros")


def _crm(rng: random.Random, customer: dict[str, Any], began: datetime) -> Story:
    """A store visit, or a retention call from the back office, as the CRM records it in its
    contact-history table and Debezium's PostgreSQL connector streams the row's changes. This CRM
    names its customers by party id: these interactions are in the customers' histories."""
    story = Story(interactions=1)
    visit = rng.random() < 0.7
    reason = rng.choice(REASONS) if visit else "Cancel subscription"
    minutes = rng.uniform(8, 45) if visit else rng.uniform(3, 15)
    ended = began + timedelta(minutes=minutes)
    outcome = "DONE" if visit or rng.random() < 0.7 else "NO_ANSWER"
    row: dict[str, Any] = {
        "id": rng.randrange(10**8, 10**9),
        "customer_no": customer["id"],
        "channel": "SHOP" if visit else "PHONE",
        "direction": "IN" if visit else "OUT",
        "subject": reason,
        "notes": None,
        "outcome": "OPEN",
        "started_at": _micros(began),
        "ended_at": None,
        "agent_login": rng.choice(CRM_STAFF),
        "branch": rng.choices(STORES, STORE_WEIGHTS)[0] if visit else "back-office",
    }
    changes = []
    if rng.random() < 0.5:  # some staff open the contact when it begins, and close it after
        changes.append(("c", dict(row), began + timedelta(seconds=rng.uniform(5, 60))))
    closed = {
        **row,
        "outcome": outcome,
        "ended_at": _micros(ended),
        "notes": ANSWERS[reason] if outcome == "DONE" else "No answer",
    }
    changes.append(("u" if changes else "c", closed, ended + timedelta(seconds=rng.uniform(5, 120))))
    for op, after, committed in changes:
        source = {
            "version": "2.7.3.Final",
            "connector": "postgresql",
            "name": "crm",
            "ts_ms": _micros(committed) // 1000,
            "snapshot": "false",
            "db": "crm",
            "sequence": f'[null,"{_micros(committed) // 10}"]',
            "ts_us": _micros(committed),
            "ts_ns": _micros(committed) * 1000,
            "schema": "crm",
            "table": "contact_history",
            "txId": _micros(committed) // 10**9,
            "lsn": _micros(committed) // 10,  # the write-ahead log only grows
            "xmin": None,
        }
        handled = committed + timedelta(milliseconds=rng.randrange(20, 400))
        payload = {
            "before": None,  # the table's default replica identity: updates carry no old row
            "after": after,
            "source": source,
            "transaction": None,
            "op": op,
            "ts_ms": _micros(handled) // 1000,
            "ts_us": _micros(handled),
            "ts_ns": _micros(handled) * 1000,
        }
        story.send_json("demo-crm", payload, handled)
    return story


# -- the mix -----------------------------------------------------------------------------------------

Teller = Callable[[random.Random, dict[str, Any], datetime], Story]
TELLERS: list[tuple[str, float, Teller]] = [
    # the source a story needs, how often it is told, the story
    ("demo-connect", 30, _connect),
    ("demo-genesys", 12, _genesys),
    ("demo-twilio", 6, _twilio_sms),
    ("demo-twilio", 4, _twilio_call),
    ("demo-twilio-streams", 8, _twilio_notice),
    ("demo-whatsapp", 7, _whatsapp),
    ("demo-messenger", 5, _messenger),
    ("demo-mail", 9, _email),
    ("demo-snowplow", 9, _snowplow),
    ("demo-crm", 8, _crm),
]


# -- ids and times ------------------------------------------------------------------------------------


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ms(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond
