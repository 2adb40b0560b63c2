"""scripts/dockerfile_check.py can fail on every rule: the project's Dockerfile passes, and each
broken variant of it (no HEALTHCHECK, root, `pip install .`, the code copied before the
dependencies, another uv, ...) fails the one rule it breaks, by name. No Docker engine: the
check reads the file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
RULES = ("non-root-user", "healthcheck", "installs-from-lock", "dependencies-layer", "uv-version")


def run_check(text: str, makefile: Path = ROOT / "Makefile") -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(ROOT / "scripts" / "dockerfile_check.py"), "-", "--makefile", str(makefile)]
    return subprocess.run(command, input=text, capture_output=True, text=True, timeout=60, check=False)


def failed(result: subprocess.CompletedProcess[str]) -> set[str]:
    return {line.split()[2].rstrip(":") for line in result.stdout.splitlines() if " FAILED " in line}


def test_the_projects_dockerfile_holds_every_rule():
    result = run_check(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    for rule in RULES:
        assert f"dockerfile-check: ok {rule}:" in result.stdout


def without_lines(text: str, start: str) -> str:
    """`text` less the instruction that starts with `start`, with its continuation lines."""
    lines, out, skipping = text.splitlines(keepends=True), [], False
    for line in lines:
        if line.startswith(start) or skipping:
            skipping = line.rstrip().endswith("\\")
            continue
        out.append(line)
    return "".join(out)


def replaced(old: str, new: str):
    def broken(text: str) -> str:
        assert old in text, f"the Dockerfile no longer has {old!r}: update this variant"
        return text.replace(old, new)

    return broken


CODE_FIRST = "COPY interaction_hub ./interaction_hub\n"
VARIANTS = {
    "no USER": ("non-root-user", lambda text: without_lines(text, "USER ")),
    "USER root": ("non-root-user", replaced("USER 10001", "USER root")),
    "USER 0:0": ("non-root-user", replaced("USER 10001", "USER 0:0")),
    "no HEALTHCHECK": ("healthcheck", lambda text: without_lines(text, "HEALTHCHECK ")),
    "HEALTHCHECK NONE": ("healthcheck", lambda text: without_lines(text, "HEALTHCHECK ") + "HEALTHCHECK NONE\n"),
    "curl in the health check": (
        "healthcheck",
        lambda text: (
            without_lines(text, "HEALTHCHECK ")
            + 'HEALTHCHECK CMD ["curl", "-f", "http://localhost:8683/health/ready"]\n'
        ),
    ),
    "a port nothing serves": ("healthcheck", replaced("localhost:8683/health/", "localhost:9999/health/")),
    "pip install . as well": (
        "installs-from-lock",
        replaced("RUN uv sync --locked --no-editable\n", "RUN uv sync --locked --no-editable\nRUN pip install .\n"),
    ),
    "uv sync free to relock": ("installs-from-lock", replaced("uv sync --locked --no-install", "uv sync --no-install")),
    "no lock copied": ("installs-from-lock", replaced("COPY pyproject.toml uv.lock ./", "COPY pyproject.toml ./")),
    "the code before the dependencies": (
        "dependencies-layer",
        lambda text: replaced(CODE_FIRST, "")(text).replace("COPY pyproject.toml", CODE_FIRST + "COPY pyproject.toml"),
    ),
    "the project with its dependencies": (
        "dependencies-layer",
        replaced(" --no-install-project", ""),
    ),
    "another uv": ("uv-version", lambda text: re.sub(r"ARG UV_VERSION=\S+", "ARG UV_VERSION=0.0.1", text)),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_broken_dockerfile_fails_the_rule_it_breaks(variant):
    rule, breaking = VARIANTS[variant]
    text = breaking(DOCKERFILE)
    assert text != DOCKERFILE
    result = run_check(text)
    assert result.returncode == 1, result.stdout
    assert failed(result) == {rule}, result.stdout


def test_a_makefile_without_the_uv_pin_fails(tmp_path):
    makefile = tmp_path / "Makefile"
    makefile.write_text("install:\n\tpip install uv\n")
    result = run_check(DOCKERFILE, makefile)
    assert result.returncode == 1
    assert failed(result) == {"uv-version"}, result.stdout
