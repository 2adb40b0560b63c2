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
