"""Webhook ingress (`POST /ingest/v1/sources/{name}`): what vendor deliveries cost, and how fast
the ingress makes them durable.

    .venv/bin/python bench/ingress.py cpu [--records 2000]
    .venv/bin/python bench/ingress.py embedded [--requests 1000] [--connections 1,8,16]
    eval "$(scripts/services env)"
    .venv/bin/python bench/ingress.py full [--seconds 6] [--connections 8,32,64] [--apis 1] [--worker]

cpu: for every vendor format (ingest.formats.FORMATS) and the project's own envelope, the CPU per
record of what the ingress does to a delivery before it is stored (split, the source's keep, wrap,
adapt: query_api.routes.ingest.adapted), over --records distinct deliveries built from the vendors'
published examples (tests/vendor_samples.py reads them where they lie; nothing is copied here).

embedded: one `ihub serve` on a fresh SQLite store in a temporary directory, with a sources file of
two signed sources (twilio, whatsapp-cloud; their secrets in environment variables) and an API-key
source (amazon-connect-ctr). For each delivery kind and each connection count, --requests signed
deliveries of distinct records (each one writes) from that many concurrent keep-alive connections:
requests/s, p50 and p99 (client side, after the answer), and the CPU per request of the server and
of this client, which share the machine, and how busy other processes kept it.

full: `ihub init` and --apis `ihub serve --store search` processes with their own index alias (a
fresh name, deleted at the end), the same sources; for --seconds per kind and connection count,
signed webhooks answered after Kafka's acknowledgement (acks=all): requests/s, p50, p99, and the CPU
per request of the API processes, this client, the broker and the engine. With --worker, an `ihub worker` (a
fresh group committed at the raw topic's end first) started afterwards: how long until every
interaction made is searchable.

Figures are printed, never asserted. Exit status 1 when a request fails or a server dies.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode
from uuid import uuid4

import httpx
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline import ServiceCpu, channel_event, cpu_seconds, percentile

from ingest.formats import FORMATS
from ingest.sources import ENVELOPE, Source, SourceTable
from query_api.routes.ingest import INGEST_PREFIX, adapted
from tests.support.services import drop_deployment
from tests.vendor_samples import sample, samples_dir

IHUB = str(Path(sys.executable).with_name("ihub"))
RECEIVED = "2026-11-20T10:00:00Z"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
PUBLIC_URL = "https://ihub.example.com"  # what the vendors call; the servers sign-check against it


# -- deliveries -------------------------------------------------------------------------------


def varied(template: bytes, ids: tuple[str, ...], n: int) -> bytes:
    """The template with each of its ids made the n-th: its last 8 characters become n in hex, so
    the ids keep their length and shape (UUIDs stay UUIDs, Twilio SIDs stay SIDs)."""
    for old in ids:
        template = template.replace(old.encode(), (old[:-8] + f"{n:08x}").encode())
    return template


def from_sample(path: str, ids: tuple[str, ...], form: bool = False) -> Callable[[int], bytes]:
    """Deliveries made of a vendor's published example, distinct by `ids` (read once, lazily)."""
    template: list[bytes] = []

    def body(n: int) -> bytes:
        if not template:
            raw = sample(path)
            # the Twilio samples are {headers, form}: the form is what goes on the wire, url-encoded
            template.append(urlencode(json.loads(raw)["form"]).encode() if form else raw)
        return varied(template[0], ids, n)

    return body


def event_streams_message(n: int) -> bytes:
    """A delivered outbound message, in the shape of Event Streams' Messaging.MessageStatus (as
    tests/unit/ingest/formats/test_twilio_event_streams.py writes it: the vendor's published example is a
    Verify event, which the format does not map)."""
    sid = f"SM0123456789abcdef0123456789{n:06x}"
    return json.dumps(
        [
            {
                "specversion": "1.0",
                "type": "com.twilio.messaging.message.delivered",
                "source": f"/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/{sid}.json",
                "id": f"EZdelivered{n:022d}",
                "dataschema": "https://events-schemas.twilio.com/Messaging.MessageStatus/8",
                "datacontenttype": JSON,
                "time": "2026-11-20T10:00:05.000Z",
                "data": {
                    "messageSid": sid,
                    "timestamp": "2026-11-20T10:00:05.000Z",
                    "accountSid": "AC0123456789abcdef0123456789abcdef",
                    "eventName": "com.twilio.messaging.message.delivered",
                    "apiVersion": "2010-04-01",
                    "from": "+15005550006",
                    "to": "+351912345678",
                    "messageStatus": "DELIVERED",
                    "body": "Your bill is ready",
                    "numberOfSegments": 1,
                },
            }
        ]
    ).encode()


def envelope(n: int) -> bytes:
    return channel_event(n, "ingress").to_bytes()


# A CRM's contact-history table as a debezium source maps it (tests/unit/ingest/formats/test_debezium.py):
# the published Debezium events are of a table with no time column, which no source could map.
CONTACT_HISTORY = {
    "table": "public.contact_history",
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
    "channel_values": {"PHONE": "voice", "EMAIL": "email", "SHOP": "store"},
    "direction_values": {"IN": "inbound", "OUT": "outbound"},
    "status_values": {"DONE": "completed", "OPEN": "inProgress"},
    "timestamps": {"started_at": "micros", "ended_at": "iso", "follow_up_on": "days"},
}
ROW_SCHEMA = [
    {"type": "int32", "optional": False, "field": "id"},
    {
        "type": "int64",
        "optional": False,
        "name": "io.debezium.time.MicroTimestamp",
        "version": 1,
        "field": "started_at",
    },
    {"type": "string", "optional": True, "name": "io.debezium.time.ZonedTimestamp", "version": 1, "field": "ended_at"},
    *({"type": "string", "optional": True, "field": name} for name in ("channel", "direction", "subject", "notes")),
    *({"type": "string", "optional": True, "field": name} for name in ("outcome", "customer_no", "agent_login")),
    {"type": "int32", "optional": True, "name": "io.debezium.time.Date", "version": 1, "field": "follow_up_on"},
]


def debezium_insert(n: int) -> bytes:
    """An insert into the contact-history table as the PostgreSQL connector writes it, schema part
    included (JsonConverter's default, schemas.enable=true)."""
    row_struct = {"type": "struct", "fields": ROW_SCHEMA, "optional": True, "name": "crm.public.contact_history.Value"}
    commit_us = 1_795_165_800_000_000 + n
    source = {"version": "3.6.1.Final", "connector": "postgresql", "name": "crm", "ts_ms": commit_us // 1000}
    source |= {"snapshot": "false", "db": "crm", "ts_us": commit_us, "schema": "public", "table": "contact_history"}
    source |= {"txId": 771 + n, "lsn": 24_023_128 + 64 * n}
    after = {"id": n, "started_at": 1_795_165_200_000_000, "ended_at": "2026-11-20T09:07:30.250000Z"}
    after |= {"channel": "PHONE", "direction": "IN", "subject": "Bill dispute", "outcome": "DONE"}
    after |= {"notes": "Customer disputes the October invoice; credit note issued", "follow_up_on": 20_412}
    after |= {"customer_no": f"C-{n % 10_000:06d}", "agent_login": "asilva"}
    schema = {
        "type": "struct",
        "fields": [
            {**row_struct, "field": "before"},
            {**row_struct, "field": "after"},
            {"type": "struct", "fields": [], "optional": False, "name": "io.debezium.connector.postgresql.Source"}
            | {"field": "source"},
            {"type": "string", "optional": False, "field": "op"},
            {"type": "int64", "optional": True, "field": "ts_ms"},
        ],
        "optional": False,
        "name": "crm.public.contact_history.Envelope",
    }
    payload = {"before": None, "after": after, "source": source, "op": "c", "ts_ms": commit_us // 1000 + 120}
    return json.dumps({"schema": schema, "payload": payload}).encode()


@dataclass(frozen=True)
class Kind:
    """One kind of delivery of a format: its media type and the n-th delivery's body."""

    format_id: str
    name: str
    media_type: str
    body: Callable[[int], bytes]
    options: dict[str, Any] = field(default_factory=dict)
    """The source's keys of the format (e.g. debezium's column mapping)."""


SESSION_IDS = ("2a2e92cb-d65b-4978-bf65-498850bd8c08", "64af7b17-c715-4560-acf4-b68c8f3a1acc")
MAIL_IDS = (
    "AANLkTikbSvKnE9RjZLNrpupmNMKChv2Kz8qB3HAagmSw",  # Message-ID
    "AANLkTi=1ANR2FzeeQ-vK3-_ty0gUrOsAxMRYkob6CL-c",  # the thread's root (References)
    "AANLkTinUdYK2NpEiYCKGnCEp_OXKqst_bWNdBVHsfDVh",  # In-Reply-To
)
CONTACT_RECORD = Kind(
    "amazon-connect-ctr",
    "voice contact record",
    JSON,
    from_sample("amazon-connect/ctr-voice-inbound-case1.json", ("6fe40d2a-1a89-4d73-bfcf-5d9c33894f47",)),
)
TWILIO_SMS = Kind(
    "twilio",
    "inbound SMS",
    FORM,
    from_sample("twilio/inbound-sms-webhook.json", ("SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",), form=True),
)
WHATSAPP_TEXT = Kind(
    "whatsapp-cloud", "text message", JSON, from_sample("whatsapp/pywa-fixture-message-text.json", ("xyzxyz",))
)
KINDS = [
    Kind(ENVELOPE, "channel event (ihub.*, bench/pipeline.py)", JSON, envelope),
    CONTACT_RECORD,
    Kind(
        "amazon-connect-event",
        "contact event (CONNECTED_TO_AGENT)",
        JSON,
        from_sample(
            "amazon-connect/contact-event-voice-connected-to-agent.json", ("11111111-1111-1111-1111-111111111111",)
        ),
    ),
    Kind("debezium", "row insert (with its schema)", JSON, debezium_insert, CONTACT_HISTORY),
    Kind(
        "email-mime",
        "message (RFC 822, multipart)",
        "message/rfc822",
        from_sample("email/flanker-multi-received-headers.eml", MAIL_IDS),
    ),
    Kind(
        "email-mime",
        "SES notification (MIME inside)",
        JSON,
        from_sample(
            "email/ses-inbound-sns-action-notification.json",
            ("d6iitobk75ur44p8kdnnp7g2n800", "61967230-7A45-4A9D-BEC9-87CBCF2211C9"),
        ),
    ),
    Kind(
        "genesys-cloud",
        "conversation event (EventBridge)",
        JSON,
        from_sample("genesys-cloud/eventbridge-customer-start-chat.json", ("2f7bf00a-0fc2-4d6a-9b56-92238191433e",)),
    ),
    Kind(
        "genesys-cloud",
        "conversation detail record",
        JSON,
        from_sample(
            "genesys-cloud/analytics-conversation-detail-chat-1.json", ("1bc96a39-6725-40c4-9345-db72aa67b8c6",)
        ),
    ),
    Kind(
        "messenger",
        "text message",
        JSON,
        from_sample("messenger/fbmessenger-api-hackage-wsTextMessageRequest.json", ("41d102a3e1ae206a38",)),
    ),
    Kind(
        "snowplow",
        "page_view (enriched TSV line)",
        "text/tab-separated-values",
        from_sample("snowplow/web-page_view-line.tsv", SESSION_IDS),
    ),
    TWILIO_SMS,
    Kind(
        "twilio",
        "incoming call",
        FORM,
        from_sample("twilio/incoming-call-webhook.json", ("CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",), form=True),
    ),
    Kind("twilio-event-streams", "message delivered (CloudEvent)", JSON, event_streams_message),
    WHATSAPP_TEXT,
    Kind(
        "whatsapp-cloud",
        "status (delivered)",
        JSON,
        from_sample("whatsapp/pywa-fixture-status-delivered.json", ("xyzxyz",)),
    ),
]


def bench_source(kind: Kind) -> Source:
    """A source of the kind's format as the ingress holds it (authentication plays no part in
    adapting); its options as the sources file's reading leaves them."""
    vendor = FORMATS.get(kind.format_id)
    options = kind.options
    if vendor is not None and vendor.options is not None:
        options = vendor.options.model_validate(options).model_dump(mode="json", exclude_none=True)
    table = SourceTable(format=kind.format_id, phone_region="US")
    return Source(f"bench-{kind.format_id}", table, vendor, options)


# -- CPU per record ---------------------------------------------------------------------------


def print_adapter_cpu(records: int) -> None:
    """For each format (and the envelope), the CPU per record of split + keep + wrap + adapt."""
    try:
        samples_dir()
    except FileNotFoundError as exc:
        print(f"adapter CPU per record: not measured: {exc}")
        return
    print(
        f"adapter CPU per record: split + wrap + adapt as the ingress runs them (query_api.routes.ingest.adapted),"
        f" {records} distinct deliveries per kind, time.process_time"
    )
    print(f"  {'format':22} {'delivery':42} {'bytes':>6} {'records':>8} {'us/record':>10}")
    for kind in KINDS:
        if kind.format_id != ENVELOPE and kind.format_id not in FORMATS:
            continue  # a format not in this checkout
        source = bench_source(kind)
        bodies = [kind.body(n) for n in range(records)]
        for body in bodies[:50]:  # warm-up: first-call costs (imports, caches) are not per record
            adapted(source, body, kind.media_type, RECEIVED)
        made = 0
        started = time.process_time()
        for body in bodies:
            made += len(adapted(source, body, kind.media_type, RECEIVED))
        cpu = time.process_time() - started
        size = round(statistics.mean(len(b) for b in bodies))
        print(f"  {kind.format_id:22} {kind.name:42} {size:6} {made / records:8.2f} {cpu * 1e6 / max(made, 1):10.0f}")
    missing = sorted(set(FORMATS) - {k.format_id for k in KINDS})
    if missing:
        print(f"  no deliveries built here for: {', '.join(missing)}")


# -- the webhook over HTTP --------------------------------------------------------------------


@dataclass(frozen=True)
class Webhook:
    """A delivery kind as a vendor sends it: to which source, authenticated how."""

    label: str
    source: str
    kind: Kind
    auth: str  # "twilio" (X-Twilio-Signature), "meta" (X-Hub-Signature-256) or "api-key"


WEBHOOKS = {
    "twilio": Webhook("twilio SMS, signed form", "bench-twilio", TWILIO_SMS, "twilio"),
    "whatsapp": Webhook("whatsapp-cloud text, signed JSON", "bench-whatsapp", WHATSAPP_TEXT, "meta"),
    "ctr": Webhook("amazon-connect-ctr record, API key", "bench-connect", CONTACT_RECORD, "api-key"),
}
SOURCES_FILE = """\
[sources.bench-twilio]
format = "twilio"
phone_region = "US"
secret_env = "BENCH_TWILIO_AUTH_TOKEN"

[sources.bench-whatsapp]
format = "whatsapp-cloud"
secret_env = "BENCH_META_APP_SECRET"
verify_token_env = "BENCH_META_VERIFY_TOKEN"

[sources.bench-connect]
format = "amazon-connect-ctr"
phone_region = "US"
api_key_env = "BENCH_CONNECT_API_KEY"
"""
SECRETS = {
    name: secrets.token_hex(16)
    for name in ("BENCH_TWILIO_AUTH_TOKEN", "BENCH_META_APP_SECRET", "BENCH_META_VERIFY_TOKEN", "BENCH_CONNECT_API_KEY")
}


def request(webhook: Webhook, n: int) -> tuple[str, bytes, dict[str, str]]:
    """Path, body and headers of the n-th delivery, signed as its vendor signs it."""
    path = f"{INGEST_PREFIX}/{webhook.source}"
    body = webhook.kind.body(n)
    headers = {"content-type": webhook.kind.media_type}
    if webhook.auth == "twilio":
        # Twilio: Base64 HMAC-SHA1 of the URL it called followed by each field's name and value, sorted
        signed = PUBLIC_URL + path + "".join(k + v for k, v in sorted(parse_qsl(body.decode(), keep_blank_values=True)))
        digest = hmac.new(SECRETS["BENCH_TWILIO_AUTH_TOKEN"].encode(), signed.encode(), hashlib.sha1).digest()
        headers["x-twilio-signature"] = base64.b64encode(digest).decode()
    elif webhook.auth == "meta":
        digest = hmac.new(SECRETS["BENCH_META_APP_SECRET"].encode(), body, hashlib.sha256).hexdigest()
        headers["x-hub-signature-256"] = f"sha256={digest}"
    else:
        headers["x-api-key"] = SECRETS["BENCH_CONNECT_API_KEY"]
    return path, body, headers


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    elapsed: float = 0.0


class Connection:
    """One keep-alive HTTP/1.1 connection that sends a request and reads its answer. The load
    generator shares the 2 cores with the server: httpx's async client takes about 840 us of CPU
    per request on this machine (the server about 290 us for /health/live), this one 45-170 us,
    signing included."""

    def __init__(self, base: str):
        self.host, _, port = base.removeprefix("http://").partition(":")
        self.port = int(port)

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        lines = [f"POST {path} HTTP/1.1", f"host: {self.host}", f"content-length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = next(
            (int(line[15:]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")), None
        )
        if length is None:
            raise SystemExit(f"an answer without content-length: {head[:300]!r}")
        return int(head[9:12]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def drive(
    bases: list[str], webhook: Webhook, connections: int, numbers: itertools.count[int], count: int, seconds: float
) -> Run:
    """`connections` clients, each on its own keep-alive connection (spread over the servers in
    `bases`), sending deliveries one after the other until `count` are sent or `seconds` passed."""
    run = Run()
    opened = [Connection(bases[i % len(bases)]) for i in range(connections)]
    sent = 0

    async def client(connection: Connection) -> None:
        nonlocal sent
        while sent < count and time.perf_counter() < deadline:
            sent += 1
            path, body, headers = request(webhook, next(numbers))
            started = time.perf_counter()
            status, answer = await connection.post(path, body, headers)
            run.latencies.append(time.perf_counter() - started)
            if status != 200:
                run.failures.append(f"{status} {answer[:200]!r}")

    try:
        # connections opened first: the runs measure deliveries, not TCP handshakes
        await asyncio.gather(*(connection.open() for connection in opened))
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(client(connection) for connection in opened))
        run.elapsed = time.perf_counter() - started
    finally:
        for connection in opened:
            connection.close()
    return run


class Servers:
    """`ihub serve` processes on free ports, with the bench's sources file and secrets."""

    def __init__(self, count: int, env: dict[str, str], workdir: Path, extra: list[str]):
        self.processes: list[subprocess.Popen[bytes]] = []
        self.bases: list[str] = []
        self.logs = [workdir / f"serve-{n}.log" for n in range(count)]
        for log in self.logs:
            port = free_port()
            cmd = [IHUB, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log", *extra]
            self.processes.append(subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT))
            self.bases.append(f"http://127.0.0.1:{port}")
        for process, base, log in zip(self.processes, self.bases, self.logs, strict=True):
            wait_ready(process, base, log)

    def cpu(self) -> tuple[float, float]:
        """CPU seconds of the servers, and of their main threads alone: the event loop (HTTP,
        authentication, adapting, Kafka's client) apart from the threads the SQLite store writes in."""
        loop = 0.0
        for process in self.processes:
            fields = Path(f"/proc/{process.pid}/task/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            loop += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return sum(cpu_seconds(p.pid) for p in self.processes), loop

    def check(self) -> None:
        for process, log in zip(self.processes, self.logs, strict=True):
            if process.poll() is not None:
                raise SystemExit(f"a server exited ({process.returncode}); see {log}")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited ({process.returncode}); see {log}")
        try:
            if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server was not ready within 60 s; see {log}")


def measure(
    servers: Servers,
    webhook: Webhook,
    connections: int,
    numbers: itertools.count[int],
    count: int,
    seconds: float,
    services: ServiceCpu | None = None,
    *,
    quiet: bool = False,
) -> dict[str, float]:
    """One run: its figures, printed on one line (unless `quiet`: a warm-up)."""
    (server_before, loop_before), client_before, machine_before = servers.cpu(), time.process_time(), machine_cpu()
    services_before = services.sample() if services else {}
    run = uvloop.run(drive(servers.bases, webhook, connections, numbers, count, seconds))
    machine = machine_cpu() - machine_before
    servers.check()
    server, loop = servers.cpu()
    done = len(run.latencies)
    services_us = services.since(services_before, done) if services else {}
    figures = {
        "requests": done,
        "per_s": round(done / run.elapsed),
        "p50_ms": round(statistics.median(run.latencies) * 1e3, 2),
        "p99_ms": round(percentile(run.latencies, 99) * 1e3, 2),
        "server_cpu_us": round((server - server_before) / done * 1e6),
        "loop_cpu_us": round((loop - loop_before) / done * 1e6),
        "client_cpu_us": round((time.process_time() - client_before) / done * 1e6),
        **{f"{name}_cpu_us": us for name, us in services_us.items()},
    }
    if run.failures:
        print(f"  {webhook.label}: {len(run.failures)} of {done} failed, e.g. {run.failures[0]}")
        raise SystemExit(1)
    if quiet:
        return figures
    ours = sum(v for k, v in figures.items() if k.endswith("_cpu_us") and k != "loop_cpu_us") * done / 1e6
    figures["others_cores"] = round(max(machine - ours, 0) / run.elapsed, 1)
    cpu = f"server {figures['server_cpu_us']}"
    if figures["loop_cpu_us"] < 0.95 * figures["server_cpu_us"]:  # the embedded store writes in threads of its own
        cpu += f" (its event loop {figures['loop_cpu_us']})"
    cpu += f", client {figures['client_cpu_us']}"
    cpu += "".join(f", {name} {us}" for name, us in services_us.items())
    print(
        f"  {webhook.label:36} c={connections:<3} {figures['per_s']:6} req/s  p50 {figures['p50_ms']:6.2f} ms"
        f"  p99 {figures['p99_ms']:6.2f} ms  ({done} requests; CPU us/request: {cpu};"
        f" other processes: {figures['others_cores']} cores)",
        flush=True,
    )
    return figures


def machine_cpu() -> float:
    """CPU seconds the whole machine has been busy, every core: other processes move the figures
    (on 2 cores, one busy neighbour halves what is left), so each run says how busy they were."""
    # the first line's user nice system idle iowait irq softirq steal: all but idle and iowait
    ticks = [int(n) for n in Path("/proc/stat").read_text().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def bench_env(workdir: Path) -> dict[str, str]:
    sources = workdir / "sources.toml"
    sources.write_text(SOURCES_FILE)
    return {
        **os.environ,
        **SECRETS,
        "IHUB_SOURCES_FILE": str(sources),
        "IHUB_PUBLIC_URL": PUBLIC_URL,
        "IHUB_WORKER_HTTP_PORT": "0",  # beside whatever else runs here
    }


def run_embedded(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="ihub-ingress-"))
    env = bench_env(workdir)
    servers = Servers(1, env, workdir, ["--data-dir", str(workdir / "data")])
    numbers = itertools.count()
    try:
        sync = env.get("IHUB_SQLITE_SYNCHRONOUS", "FULL")
        print(
            f"embedded store (SQLite, synchronous={sync}) in {workdir}, one `ihub serve`, {os.cpu_count()} cores;"
            f" {args.requests} distinct deliveries per run (target: p50 <= 5 ms)"
        )
        for name in args.kinds:
            webhook = WEBHOOKS[name]
            measure(servers, webhook, 1, numbers, 50, 60, quiet=True)  # warm-up
            for connections in args.connections:
                measure(servers, webhook, connections, numbers, args.requests, 60)
    finally:
        servers.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def run_full(args: argparse.Namespace) -> None:
    from pipeline import engine_http

    from interaction_hub.topics import start_group_at_end

    bootstrap, search = os.environ.get("IHUB_KAFKA_BOOTSTRAP"), os.environ.get("IHUB_SEARCH_URL")
    if not bootstrap or not search:
        raise SystemExit('needs the services: eval "$(scripts/services env)" first')
    tag = uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix="ihub-ingress-"))
    env = {
        **bench_env(workdir),
        "IHUB_STORE": "search",
        "IHUB_INDEX_ALIAS": f"bench-ingress-{tag}",
        "IHUB_WORKER_GROUP": f"bench-ingress-{tag}",
    }
    subprocess.run([IHUB, "init"], env=env, check=True, capture_output=True)
    if args.worker:  # the group sees only what this run sends
        asyncio.run(start_group_at_end({"bootstrap_servers": bootstrap}, env["IHUB_WORKER_GROUP"]))
    numbers = itertools.count()
    services = ServiceCpu()
    sent = 0
    try:
        for apis in args.apis:
            servers = Servers(apis, env, workdir, ["--store", "search"])
            try:
                print(
                    f"full mode: {apis} `ihub serve --store search` (index alias {env['IHUB_INDEX_ALIAS']}),"
                    f" answers after Kafka acks=all; {os.cpu_count()} cores; {args.seconds:g} s per run"
                    " (target: >= 2000 signed webhooks/s)",
                    flush=True,
                )
                for name in args.kinds:
                    webhook = WEBHOOKS[name]
                    sent += measure(servers, webhook, 4, numbers, 200, 60, quiet=True)["requests"]  # warm-up
                    for connections in args.connections:
                        figures = measure(servers, webhook, connections, numbers, 10**9, args.seconds, services)
                        sent += figures["requests"]
            finally:
                servers.stop()
        if args.worker:
            queryable(env, search, sent, engine_http)
    finally:
        alias = env["IHUB_INDEX_ALIAS"]
        drop_deployment(search, alias)
        shutil.rmtree(workdir, ignore_errors=True)


def queryable(env: dict[str, str], search: str, expected: int, engine_http: Callable[[], dict]) -> None:
    """Starts a worker on what the runs sent (each delivery made its own interaction): seconds
    until the first and until all of them are searchable, and the rate in between (start-up apart)."""
    log = Path(env["IHUB_SOURCES_FILE"]).with_name("worker.log")
    worker = subprocess.Popen([IHUB, "worker"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    started = time.perf_counter()
    first: tuple[float, int] | None = None
    found = 0
    try:
        with httpx.Client(**engine_http()) as engine:
            while time.perf_counter() - started < 300 and worker.poll() is None:
                response = engine.get(f"{search}/{env['IHUB_INDEX_ALIAS']}/_count")
                found = response.json().get("count", 0) if response.status_code == 200 else 0
                if found and first is None:
                    first = (time.perf_counter() - started, found)
                if found >= expected:
                    break
                time.sleep(0.25)
        elapsed = time.perf_counter() - started
        if first is None:
            raise SystemExit(f"the worker made nothing searchable in {elapsed:.0f} s; see {log}")
        rate = (found - first[1]) / max(elapsed - first[0], 1e-3)
        print(
            f"worker: {found} of {expected} interactions searchable {elapsed:.1f} s after `ihub worker` started;"
            f" the first after {first[0]:.1f} s (start-up), then {rate:.0f}/s"
        )
    finally:
        worker.terminate()
        worker.wait(30)


def numbers_list(text: str) -> list[int]:
    return [int(n) for n in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    cpu = commands.add_parser("cpu", help="adapter CPU per record, per format")
    cpu.add_argument("--records", type=int, default=2000, help="deliveries per kind")
    embedded = commands.add_parser("embedded", help="webhook latency on the embedded store")
    embedded.add_argument("--requests", type=int, default=1000, help="deliveries per kind and connection count")
    embedded.add_argument("--connections", type=numbers_list, default=[1, 8, 16])
    embedded.add_argument("--kinds", type=lambda t: t.split(","), default=list(WEBHOOKS), help=",".join(WEBHOOKS))
    full = commands.add_parser("full", help="signed webhooks/s in full mode (Kafka acks=all)")
    full.add_argument("--seconds", type=float, default=6, help="per kind and connection count")
    full.add_argument("--connections", type=numbers_list, default=[8, 32, 64])
    full.add_argument("--apis", type=numbers_list, default=[1], help="API processes, e.g. 1,2")
    full.add_argument("--kinds", type=lambda t: t.split(","), default=["twilio", "whatsapp"], help=",".join(WEBHOOKS))
    full.add_argument("--worker", action="store_true", help="then: how long until a worker made them searchable")
    args = parser.parse_args()
    if args.command == "cpu":
        print_adapter_cpu(args.records)
    elif args.command == "embedded":
        run_embedded(args)
    else:
        run_full(args)


if __name__ == "__main__":
    main()
