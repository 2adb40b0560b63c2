"""The installed package holds the data its code reads (the sample events and the web pages), and
what is installed is what uv.lock holds, the lock being the one pyproject.toml's dependencies give."""

import fnmatch
import shutil
import subprocess
import sys
import tomllib
from importlib.resources import files
from pathlib import Path

from ingest.adapters import sample_events

ROOT = Path(__file__).resolve().parents[3]
UV = Path(sys.executable).with_name("uv")  # installed with the venv, at the Makefile's UV_VERSION
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_the_installed_package_finds_each_data_file_it_declares() -> None:
    for package, patterns in SETUPTOOLS["package-data"].items():
        names = [entry.name for entry in files(package).iterdir() if entry.is_file()]
        for pattern in patterns:
            assert fnmatch.filter(names, pattern), f"{package}: nothing matches {pattern}"
    assert len(sample_events()) == len(list((ROOT / "ingest" / "samples").glob("*.json")))
    assert {"index.html", "kpis.html", "app.js"} <= {entry.name for entry in files("query_api.ui").iterdir()}


def lock_check(project: Path) -> subprocess.CompletedProcess[str]:
    """`uv lock --check` offline: it compares the inputs the lock recorded (every dependency and
    extra of pyproject.toml, requires-python) with pyproject.toml, and needs no index for that."""
    assert UV.exists(), f"no {UV}: `make install` puts uv in the venv"
    return subprocess.run(
        [str(UV), "lock", "--check", "--offline", "--directory", str(project)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_lock_is_the_one_pyproject_gives() -> None:
    result = lock_check(ROOT)
    assert result.returncode == 0, (
        "uv.lock does not match pyproject.toml: run `.venv/bin/uv lock` and commit uv.lock (README, "
        f"Dependencies)\n{result.stderr}"
    )


def test_a_dependency_changed_without_relocking_is_caught(tmp_path: Path) -> None:
    shutil.copy(ROOT / "uv.lock", tmp_path / "uv.lock")
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"orjson>=3.10,<4"' in pyproject
    (tmp_path / "pyproject.toml").write_text(pyproject.replace('"orjson>=3.10,<4"', '"orjson>=3.10,<3.99"'))
    assert lock_check(tmp_path).returncode != 0
