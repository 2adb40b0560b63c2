"""schemas/tmf683_v5.schema.json is what scripts/v5_schemas.py derives from TM Forum's v5 OpenAPI now."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _script():
    spec = importlib.util.spec_from_file_location("v5_schemas", ROOT / "scripts" / "v5_schemas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_checked_in_v5_schemas_are_what_the_spec_gives():
    script = _script()
    assert script.OUT.read_text() == script.derived(), "stale: run .venv/bin/python scripts/v5_schemas.py"
