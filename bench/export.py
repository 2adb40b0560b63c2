"""Export memory: streaming a party's interactions keeps memory flat however many there are.

Loads N interactions of one party into a fresh embedded store, then exports them as the API does
(`store.export_party`, one page in memory at a time) while tracemalloc records the peak of Python
allocations. Run: `.venv/bin/python bench/export.py [N ...]` (default 10000 100000). The peak for
100k should be about the peak for 10k: it is one page, not the export.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import tracemalloc

from storage.changes import Change
from storage.sqlite.store import SqliteStore

PARTY = "cust-export"


def change(n: int) -> Change:
    body = {
        "reason": f"reason {n % 17}",
        "direction": "inbound",
        "description": "a customer's words " * 8,
        "channel": [{"id": "voice"}],
        "interactionDate": {"startDateTime": f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T10:00:00Z"},
        "relatedParty": [{"id": PARTY, "role": "customer", "@referredType": "Individual", "name": "Ana"}],
        "note": [{"text": f"note {n}"}],
    }
    return Change.at("create", f"i-{n:07d}", "2026-01-01T00:00:00Z", body, href=f"http://h/partyInteraction/i-{n:07d}")


async def measure(total: int) -> tuple[int, int, float]:
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore(directory, synchronous="NORMAL")
        try:
            for start in range(0, total, 5000):
                await store.write_many([change(n) for n in range(start, min(total, start + 5000))], lambda o, n: [])
            tracemalloc.start()
            tracemalloc.reset_peak()
            began = time.perf_counter()
            lines = size = 0
            async for document in store.export_party(PARTY):
                line = document + b"\n"  # what the route streams
                lines += 1
                size += len(line)
            elapsed = time.perf_counter() - began
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert lines == total, (lines, total)
            return size, peak, elapsed
        finally:
            await store.close()


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [10_000, 100_000]
    for total in sizes:
        exported, peak, elapsed = asyncio.run(measure(total))
        print(
            f"export of {total:>7} interactions: {exported / 2**20:7.1f} MiB streamed,"
            f" tracemalloc peak {peak / 2**20:5.2f} MiB, {elapsed:.1f} s"
        )


if __name__ == "__main__":
    main()
