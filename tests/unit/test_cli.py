"""The `ihub` command line: what its help says, and how its commands treat the embedded store's directory."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from interaction_hub.cli import app

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
