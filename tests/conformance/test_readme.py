"""The README's examples run as written: every curl command of its API sections, in the README's
order, by the real curl in one shell, against a real `ihub serve` on the embedded store with the
defaults `make run` serves with. Each must exit 0 with a 2xx answer; the README's address
(127.0.0.1:8683) becomes the test server's."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import Server

README = Path(__file__).resolve().parents[2] / "README.md"
README_ADDRESS = "127.0.0.1:8683"
# the sections whose examples a newcomer runs first, in the README's order (the erasure last: it
# removes the customer the others write about)
SECTIONS = (
    "Using the API",
    "TMF683 v5.0.0 beside v4",
    "Customer 360 timeline",
    "KPIs for contact centres and stores",
    "Web pages",
    "Identity resolution",
    "Erasure, export and retention",
)
_HEADING = re.compile(r"^(#{1,6}) (.+)$|^```", re.MULTILINE)  # a fence too: a shell comment is no heading
_BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
_PLAIN_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=[^\s$`'\"();&|]+")
_STATUS = re.compile(r"^README example answered (\d{3})$", re.MULTILINE)


def section(markdown: str, title: str) -> str:
    """The text under the heading `title`, up to the next heading of its level or above."""
    headings, fenced = [], False
    for match in _HEADING.finditer(markdown):
        if match.group(0).startswith("```"):
            fenced = not fenced
        elif not fenced:
            headings.append(match)
    start = next((h for h in headings if h.group(2).strip() == title), None)
    assert start is not None, f"README has no section {title!r}"
    level = len(start.group(1))
    end = next((h.start() for h in headings if h.start() > start.start() and len(h.group(1)) <= level), len(markdown))
    return markdown[start.end() : end]


def shell_commands(script: str) -> list[str]:
    """The commands of a shell script, one a string: a command ends at a newline outside quotes and
    `$(...)`, unless the line ends with a backslash; comments are dropped."""
    commands, current, quote, depth, i = [], "", "", 0, 0
    while i < len(script):
        char = script[i]
        if quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"':
                current, i = current + script[i : i + 2], i + 2
                continue
        elif char in "'\"":
            quote = char
        elif script.startswith("$(", i):
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif char == "\\" and script.startswith("\\\n", i):
            current, i = current + "\\\n", i + 2
            continue
        elif char == "#" and (not current or current[-1].isspace()):
            i = script.find("\n", i) if "\n" in script[i:] else len(script)
            continue
        elif char == "\n" and not depth:
            commands.append(current.strip())
            current, i = "", i + 1
            continue
        current, i = current + char, i + 1
    commands.append(current.strip())
    return [command for command in commands if command]


def readme_examples() -> list[str]:
    """The curl commands of SECTIONS, and the variables they set for one another (`B=...`)."""
    markdown = README.read_text()
    examples = []
    for title in SECTIONS:
        for block in _BASH_BLOCK.findall(section(markdown, title)):
            for command in shell_commands(block):
                if re.search(r"\bcurl\b", command) or _PLAIN_ASSIGNMENT.fullmatch(command):
                    examples.append(command)
    return examples


def run_in_shell(examples: list[str], port: int, cwd: Path) -> list[str]:
    """Run `examples` in order in one bash, each curl with --fail-with-body and its status written
    out; stops at the first failure. The status codes, one a curl command."""
    lines = [
        "set -euo pipefail",  # an unset variable (an id the README never set) or a failed pipe stops it
        'curl() { command curl --no-progress-meter --fail-with-body "$@" '
        "--write-out '%{stderr}README example answered %{http_code}\\n'; }",
    ]
    for number, example in enumerate(examples):
        lines.append(f"echo 'README example {number}' >&2")
        lines.append(example.replace(README_ADDRESS, f"127.0.0.1:{port}"))
    run = subprocess.run(
        ["bash", "-c", "\n".join(lines)], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    if run.returncode != 0:
        reached = re.findall(r"^README example (\d+)$", run.stderr, re.MULTILINE)
        failed = examples[int(reached[-1])] if reached else examples[0]
        pytest.fail(f"README example failed:\n{failed}\n\nstderr:\n{run.stderr}\nstdout:\n{run.stdout[-3000:]}")
    return _STATUS.findall(run.stderr)


@pytest.fixture(scope="module")
def readme_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`ihub serve` as `make run` starts it: no IHUB_ setting from the tests' environment."""
    server = Server(tmp_path_factory.mktemp("readme-store"))
    server.env = {k: v for k, v in os.environ.items() if not k.startswith("IHUB_")}
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_readme_examples_run_as_written_on_the_embedded_store(readme_server: Server, tmp_path: Path) -> None:
    examples = readme_examples()
    curls = [example for example in examples if "curl" in example]
    assert len(curls) >= 25, f"the README's sections yielded only {len(curls)} curl commands: {examples}"
    statuses = run_in_shell(examples, readme_server.port, tmp_path)
    assert len(statuses) == len(curls)
    assert all(status.startswith("2") for status in statuses), list(zip(curls, statuses, strict=True))


def test_the_pages_the_readme_links_answer_on_the_embedded_store(readme_server: Server, tmp_path: Path) -> None:
    markdown = README.read_text()
    links = sorted(set(re.findall(rf"<(http://{re.escape(README_ADDRESS)}/[^>]*)>", markdown)))
    assert {"http://127.0.0.1:8683/ui/", "http://127.0.0.1:8683/ui/kpis.html", "http://127.0.0.1:8683/docs"} <= set(
        links
    )
    statuses = run_in_shell([f"curl -s -o /dev/null '{link}'" for link in links], readme_server.port, tmp_path)
    assert all(status.startswith("2") for status in statuses), list(zip(links, statuses, strict=True))
