"""Imports go one way: the API and the workers never import each other, and what both use lives
below them (README, "How it is built")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package -> the project's packages it may import (the `ihub` command, interaction_hub.cli, is the
# one place that starts both sides)
MAY_IMPORT = {
    "schemas": {"schemas"},
    "storage": {"storage", "schemas"},
    "ingest": {"ingest", "storage", "schemas"},
    "interaction_hub": {"interaction_hub", "storage", "schemas"},
    "query_api": {"query_api", "interaction_hub", "ingest", "storage", "schemas"},
    "stream_workers": {"stream_workers", "interaction_hub", "ingest", "storage", "schemas"},
}
PROJECT = set(MAY_IMPORT)


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & PROJECT


def modules(package: str) -> list[Path]:
    return [p for p in sorted((ROOT / package).rglob("*.py")) if "cli" not in p.relative_to(ROOT).parts]


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_each_package_imports_only_what_lies_below_it(package):
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) - MAY_IMPORT[package]) for path in modules(package)
    }
    assert {name: found for name, found in wrong.items() if found} == {}
    assert modules(package), f"no modules found in {package}"


def test_no_bare_generic_top_level_modules_are_installed():
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py-modules" not in setuptools
    # packages are found under these top-level names only (with their subpackages: `name*`)
    assert {pattern.split(".")[0].rstrip("*") for pattern in setuptools["packages"]["find"]["include"]} == PROJECT
