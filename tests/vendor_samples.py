"""The vendors' own published example payloads, read where they lie: shared/vendor-samples beside
this checkout, or beside the checkout it was cloned from, or $IHUB_VENDOR_SAMPLES (they are never
copied into the repository; shared/vendor-samples/SOURCES.md says where each comes from)."""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@cache
def samples_dir() -> Path:
    candidates = [Path(os.environ["IHUB_VENDOR_SAMPLES"])] if os.environ.get("IHUB_VENDOR_SAMPLES") else []
    candidates.append(ROOT.parent / "shared" / "vendor-samples")
    origin = subprocess.run(
        ["git", "-C", str(ROOT), "remote", "get-url", "origin"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        candidates.append(Path(origin).resolve().parent / "shared" / "vendor-samples")
    for folder in candidates:
        if (folder / "SOURCES.md").is_file():
            return folder
    raise FileNotFoundError(f"no vendor samples in {', '.join(map(str, candidates))}; set IHUB_VENDOR_SAMPLES")


def sample(relative: str) -> bytes:
    """The bytes of one sample, e.g. sample("amazon-connect/ctr-voice-inbound-case1.json")."""
    return (samples_dir() / relative).read_bytes()
