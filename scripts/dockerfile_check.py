"""Checks the Dockerfile without a Docker engine, by reading it: the image installs only what uv.lock
holds, its dependencies in a layer of their own, runs as a user other than root, and has a health
check that the slim image can run.

    python3 scripts/dockerfile_check.py [DOCKERFILE] [--makefile MAKEFILE]

DOCKERFILE: by default the checkout's ("-": standard input). MAKEFILE: where UV_VERSION is pinned
(by default the checkout's); the image's uv must be the same. Prints one line per rule; exits 1 if
any rule failed, naming it.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# what uv sync needs to know the dependencies; anything else copied before they are installed
# would rebuild their layer on every change of the code
LOCK_INPUTS = {"pyproject.toml", "uv.lock"}
# the final image is python:*-slim: no curl, no wget
MISSING_TOOLS = ("curl", "wget")


class Broken(Exception):
    """A rule that does not hold: the message says what is wrong."""


@dataclass
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str
    line: int


def parse(text: str) -> list[list[Instruction]]:
    """The instructions, one list per stage (each starts at a FROM); continuation lines joined."""
    stages: list[list[Instruction]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        start = start if pending else number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        pending = ""
        instruction = Instruction(keyword.upper(), args.strip(), start)
        if instruction.keyword == "FROM":
            stages.append([])
        if not stages:
            raise Broken(f"line {start}: {instruction.keyword} before any FROM")
        stages[-1].append(instruction)
    return stages


def uv_syncs(stages: list[list[Instruction]]) -> list[tuple[int, int, list[str]]]:
    """Every `uv sync` of a RUN: (stage, index in the stage, its words)."""
    found = []
    for s, stage in enumerate(stages):
        for i, instruction in enumerate(stage):
            if instruction.keyword != "RUN":
                continue
            for command in re.split(r"&&|;|\|\|", instruction.args):
                try:
                    words = shlex.split(command)
                except ValueError:  # an unbalanced quote: no uv sync of ours looks like that
                    words = command.split()
                if words[:2] == ["uv", "sync"]:
                    found.append((s, i, words))
    return found


def non_root_user(stages: list[list[Instruction]]) -> str:
    users = [i for i in stages[-1] if i.keyword == "USER"]
    if not users:
        raise Broken("the final stage has no USER: the image would run as root")
    user = users[-1].args.split(":")[0]
    if user in ("root", "0"):
        raise Broken(f"line {users[-1].line}: USER {users[-1].args} is root")
    return f"USER {users[-1].args}"


def healthcheck(stages: list[list[Instruction]]) -> str:
    checks = [i for i in stages[-1] if i.keyword == "HEALTHCHECK"]
    if not checks:
        raise Broken("the final stage has no HEALTHCHECK")
    check = checks[-1]
    if check.args.upper() == "NONE" or " CMD " not in f" {check.args} ":
        raise Broken(f"line {check.line}: HEALTHCHECK runs no command")
    command = check.args.split("CMD", 1)[1]
    for tool in MISSING_TOOLS:
        if re.search(rf"\b{tool}\b", command):
            raise Broken(f"line {check.line}: the health check runs {tool}, which the slim image lacks")
    ports = {word for i in stages[-1] if i.keyword == "EXPOSE" for word in i.args.split()}
    asked = re.search(r"https?://(?:localhost|127\.0\.0\.1):(\d+)/health/\w+", command)
    if not asked or asked.group(1) not in ports:
        raise Broken(f"line {check.line}: the health check asks no /health/ path on an exposed port {sorted(ports)}")
    return f"asks {asked.group(0)}"


def installs_from_lock(stages: list[list[Instruction]]) -> str:
    for stage in stages:
        for instruction in stage:
            if instruction.keyword != "RUN" or "pip install" not in instruction.args:
                continue
            if not re.fullmatch(r"(python -m )?pip install uv==\S+", instruction.args):
                raise Broken(f"line {instruction.line}: pip installs more than a pinned uv: {instruction.args}")
    copied = {word for stage in stages for i in stage if i.keyword == "COPY" for word in i.args.split()[:-1]}
    if "uv.lock" not in copied:
        raise Broken("uv.lock is never copied into the image")
    syncs = uv_syncs(stages)
    if not syncs:
        raise Broken("no `uv sync`: nothing is installed from the lock")
    for s, i, words in syncs:
        if "--locked" not in words and "--frozen" not in words:
            raise Broken(f"line {stages[s][i].line}: `{' '.join(words)}` may change the lock instead of following it")
    return f"{len(syncs)} uv sync, each --locked or --frozen"


def dependencies_layer(stages: list[list[Instruction]]) -> str:
    syncs = uv_syncs(stages)
    if not syncs:
        raise Broken("no `uv sync`")
    s, first, words = syncs[0]
    if "--no-install-project" not in words:
        raise Broken(f"line {stages[s][first].line}: the first uv sync installs the project with its dependencies")
    for instruction in stages[s][:first]:
        if instruction.keyword == "COPY" and not set(instruction.args.split()[:-1]) <= LOCK_INPUTS:
            raise Broken(f"line {instruction.line}: COPY {instruction.args} comes before the dependencies' layer")
    if not any(other == s and i > first and "--no-install-project" not in w for other, i, w in syncs):
        raise Broken("no uv sync after the dependencies' layer installs the project")
    return f"dependencies at line {stages[s][first].line}, the code after them"


def uv_version(stages: list[list[Instruction]], makefile: str) -> str:
    pinned = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", makefile, re.MULTILINE)
    if not pinned:
        raise Broken("the Makefile pins no UV_VERSION")
    args = [i.args for stage in stages for i in stage if i.keyword == "ARG" and i.args.startswith("UV_VERSION=")]
    if not args or any(arg != f"UV_VERSION={pinned.group(1)}" for arg in args):
        raise Broken(f"ARG UV_VERSION is {args or 'missing'}, the Makefile's {pinned.group(1)}")
    return f"uv {pinned.group(1)}, as the Makefile's"


def check(text: str, makefile: str) -> list[tuple[str, str | None]]:
    """(rule, None if it holds, else why not), each rule printed as it is checked."""
    try:
        stages = parse(text)
    except Broken as exc:
        print(f"dockerfile-check: FAILED parse: {exc}")
        return [("parse", str(exc))]
    results: list[tuple[str, str | None]] = []
    rules = {
        "non-root-user": lambda: non_root_user(stages),
        "healthcheck": lambda: healthcheck(stages),
        "installs-from-lock": lambda: installs_from_lock(stages),
        "dependencies-layer": lambda: dependencies_layer(stages),
        "uv-version": lambda: uv_version(stages, makefile),
    }
    for name, rule in rules.items():
        try:
            detail = rule()
        except Broken as exc:
            results.append((name, str(exc)))
            print(f"dockerfile-check: FAILED {name}: {exc}")
        else:
            results.append((name, None))
            print(f"dockerfile-check: ok {name}: {detail}")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dockerfile", nargs="?", default=str(ROOT / "Dockerfile"), help="- for standard input")
    parser.add_argument("--makefile", type=Path, default=ROOT / "Makefile")
    args = parser.parse_args()
    text = sys.stdin.read() if args.dockerfile == "-" else Path(args.dockerfile).read_text()
    results = check(text, args.makefile.read_text())
    failed = [name for name, why in results if why is not None]
    if failed:
        print(f"dockerfile-check: {len(failed)} of {len(results)} rules failed: {', '.join(failed)}")
        return 1
    print(f"dockerfile-check: all {len(results)} rules hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
