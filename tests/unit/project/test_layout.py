"""Imports go one way: the API and the workers never import each other, what both use lives below
them, and the `ihub` command that starts them sits above everything (README, "How it is built")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

# The `ihub` command is the top layer: it starts the API, the workers and everything else, so it may
# import any package, and no package imports it (which would make the API or the workers depend on
# what starts them).
CLI = "interaction_hub.cli"

# layer -> the layers it may import
MAY_IMPORT = {
    "schemas": {"schemas"},
    "storage": {"storage", "schemas"},
    "ingest": {"ingest", "storage", "schemas"},
    "interaction_hub": {"interaction_hub", "storage", "schemas"},
    "query_api": {"query_api", "interaction_hub", "ingest", "storage", "schemas"},
    "stream_workers": {"stream_workers", "interaction_hub", "ingest", "storage", "schemas"},
    CLI: {CLI, "query_api", "stream_workers", "interaction_hub", "ingest", "storage", "schemas"},
}
PROJECT = {layer.split(".")[0] for layer in MAY_IMPORT}  # the top-level packages


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to (None: not the project's)."""
    if module == CLI or module.startswith(CLI + "."):
        return CLI
    top = module.split(".")[0]
    return top if top in PROJECT else None


def imported_layers(path: Path) -> set[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from interaction_hub import cli` imports the CLI too
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return {layer for layer in map(layer_of, names) if layer is not None}


def modules(layer: str) -> list[Path]:
    paths = sorted((ROOT / layer.replace(".", "/")).rglob("*.py"))
    return [p for p in paths if layer_of(".".join(p.relative_to(ROOT).with_suffix("").parts)) == layer]


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT))
def test_each_layer_imports_only_what_lies_below_it(layer):
    wrong = {str(path.relative_to(ROOT)): sorted(imported_layers(path) - MAY_IMPORT[layer]) for path in modules(layer)}
    assert {name: found for name, found in wrong.items() if found} == {}
    assert modules(layer), f"no modules found in {layer}"


def test_nothing_but_the_cli_imports_the_cli():
    assert [layer for layer, allowed in MAY_IMPORT.items() if CLI in allowed] == [CLI]
    # the CLI's modules are checked as the CLI, not as interaction_hub
    assert not any("cli" in path.relative_to(ROOT).parts for path in modules("interaction_hub"))
    assert all("cli" in path.relative_to(ROOT).parts for path in modules(CLI))


def test_no_bare_generic_top_level_modules_are_installed():
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py-modules" not in setuptools
    # packages are found under these top-level names only (with their subpackages: `name*`)
    assert {pattern.split(".")[0].rstrip("*") for pattern in setuptools["packages"]["find"]["include"]} == PROJECT
