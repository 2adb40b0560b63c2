"""The installed package holds the data its code reads: the sample events and the web pages."""

import fnmatch
import tomllib
from importlib.resources import files
from pathlib import Path

from ingest.adapters import sample_events

ROOT = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_the_installed_package_finds_each_data_file_it_declares() -> None:
    for package, patterns in SETUPTOOLS["package-data"].items():
        names = [entry.name for entry in files(package).iterdir() if entry.is_file()]
        for pattern in patterns:
            assert fnmatch.filter(names, pattern), f"{package}: nothing matches {pattern}"
    assert len(sample_events()) == len(list((ROOT / "ingest" / "samples").glob("*.json")))
    assert {"index.html", "kpis.html", "app.js"} <= {entry.name for entry in files("query_api.ui").iterdir()}
