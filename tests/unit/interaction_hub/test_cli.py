"""The `ihub` command line: what its help says, and how its commands treat the embedded store's directory."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from interaction_hub.cli import app
from storage.changes import Change
from storage.query import Query
from storage.sqlite.store import SqliteStore

IHUB = str(Path(sys.executable).with_name("ihub"))

COMMAND = typer.main.get_command(app)
assert isinstance(COMMAND, typer.core.TyperGroup)


@pytest.mark.parametrize("name", ["", *COMMAND.commands])
def test_help_shows_boolean_flags_as_switches(name: str) -> None:
    command = COMMAND.commands[name] if name else COMMAND
    flags = [param for param in command.params if getattr(param, "is_flag", False)]
    result = CliRunner().invoke(app, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    for flag in flags:  # `--dry-run`, `--access-log / --no-access-log`: the names, then the help, no <bool>
        switch = " / ".join([*flag.opts, *flag.secondary_opts])
        assert f"  {switch}  " in result.output, result.output
    assert "<bool>" not in result.output


@pytest.fixture(autouse=True)
def embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded store in ./data unless a test says otherwise, whatever this shell has set."""
    monkeypatch.setenv("IHUB_STORE", "embedded")
    monkeypatch.delenv("IHUB_DATA_DIR", raising=False)
    monkeypatch.delenv("IHUB_RETENTION_DAYS", raising=False)


def create(store: SqliteStore, interaction_id: str, end: str) -> None:
    body = {
        "reason": "billing",
        "direction": "inbound",
        "channel": [{"id": "voice"}],
        "interactionDate": {"startDateTime": end, "endDateTime": end},
        "relatedParty": [{"id": "cust-1", "role": "customer", "@referredType": "Individual"}],
    }
    change = Change.at("create", interaction_id, end, body, href=f"http://h/partyInteraction/{interaction_id}")
    asyncio.run(store.write(change, lambda old, new: []))


@pytest.fixture
def served(tmp_path: Path):
    """A store directory held open, as a running `ihub serve` holds it (by this process, here)."""
    store = SqliteStore(tmp_path / "data", synchronous="NORMAL")
    yield store
    asyncio.run(store.close())


def test_a_second_server_on_a_served_directory_says_so_in_one_line(served: SqliteStore) -> None:
    with socket.socket() as probe:  # a free port, should the server start after all
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    done = subprocess.run(
        [IHUB, "serve", "--port", port, "--data-dir", str(served.data_dir)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"ihub: the store in {served.data_dir} is in use by another process (pid {os.getpid()});"
        " stop it first, or serve another directory with --data-dir\n"
    )


@pytest.mark.parametrize(
    ("command", "advice"),
    [
        (["demo", "--events", "1"], "stop it first (the demo writes into the store itself)"),
        (["retention", "--days", "30"], "a server purges on its own schedule"),
    ],
)
def test_a_writer_on_a_served_directory_says_so_in_one_line(
    served: SqliteStore, command: list[str], advice: str
) -> None:
    result = CliRunner().invoke(app, [*command, "--data-dir", str(served.data_dir)])
    assert result.exit_code == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"ihub: the store in {served.data_dir} is in use by another process (pid {os.getpid()}); ")
    assert advice in line


@pytest.mark.parametrize("command", [["retention", "--dry-run"], ["retention", "--dry-run", "--ids"], ["retention"]])
def test_a_command_on_a_missing_data_directory_says_so_and_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [*command, "--days", "730"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"ihub: no data directory {tmp_path.resolve() / 'data'}; name the store's with --data-dir or IHUB_DATA_DIR"
        " (only `ihub serve` and `ihub demo` create one)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_directory_without_a_store_is_no_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["retention", "--dry-run", "--days", "730", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"ihub: {tmp_path.resolve()} holds no embedded store (no interactions.sqlite3)")
    assert list(tmp_path.iterdir()) == []


def test_demo_creates_the_data_directory_it_is_given(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--events", "3", "--data-dir", str(tmp_path / "new")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new" / "interactions.sqlite3").is_file()


def test_a_dry_run_reads_a_served_store_which_goes_on_writing(served: SqliteStore) -> None:
    create(served, "ended-2020", "2020-01-01T10:00:00Z")
    create(served, "ended-2099", "2099-01-01T10:00:00Z")
    result = CliRunner().invoke(
        app, ["retention", "--dry-run", "--ids", "--days", "365", "--data-dir", str(served.data_dir)]
    )
    assert result.exit_code == 0, result.output
    head, *rest = result.stdout.splitlines()
    assert head.startswith("1 interactions ended before") and head.endswith("nothing purged (dry run)")
    assert rest == ["  2020-01  1", "ended-2020"]
    create(served, "ended-2021", "2021-01-01T10:00:00Z")
    assert asyncio.run(served.list(Query(limit=0))).total == 3
