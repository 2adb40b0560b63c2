"""Only storage/search/engine.py calls a search client: the Elasticsearch and OpenSearch clients differ
in call style and errors, so a call written for one of them anywhere else would reach the other
unchecked. Everything else goes through the engine module's functions."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("storage", "stream_workers", "query_api", "interaction_hub", "ingest")
BOUNDARY = ROOT / "storage" / "search" / "engine.py"

CLIENT_PACKAGES = {"elasticsearch", "elastic_transport", "opensearchpy"}
# the clients' namespaces and transport: no other object in the project has attributes of these names
CLIENT_NAMESPACES = {"indices", "cluster", "snapshot", "tasks", "node_pool", "perform_request"}
# the clients' own methods, called on anything named like a client
CLIENT_METHODS = {
    "search", "msearch", "count", "get", "mget", "bulk", "index", "create", "update", "delete", "exists",
    "delete_by_query", "update_by_query", "reindex", "scroll", "clear_scroll", "open_point_in_time",
    "close_point_in_time", "options", "info", "ping", "close",
}  # fmt: skip


def _name(node: ast.expr) -> str:
    """The last name of an expression (`client`, `self.client`, `store.client` -> `client`)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def raw_client_calls(source: str, filename: str = "<source>") -> list[str]:
    """Where `source` uses a search client other than through the engine module: line and what."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names if a.name.split(".")[0] in CLIENT_PACKAGES]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in CLIENT_PACKAGES:
            found.append((node.lineno, f"from {node.module} import"))
        elif isinstance(node, ast.Attribute) and node.attr in CLIENT_NAMESPACES:
            found.append((node.lineno, f".{node.attr}"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in CLIENT_METHODS
            and "client" in _name(node.func.value).lower()
        ):
            found.append((node.lineno, f"{_name(node.func.value)}.{node.func.attr}()"))
    return [f"{line}: {what}" for line, what in sorted(found)]


def test_the_guard_sees_each_kind_of_raw_call():
    source = (
        "from opensearchpy import AsyncOpenSearch\n"
        "import elasticsearch\n"
        "await self.client.indices.put_mapping(index='i', properties={})\n"
        "await store.client.search(index='i', query={})\n"
        "await client.options(ignore_status=404).delete(index='i', id='x')\n"
        "await client.close()\n"
    )
    assert raw_client_calls(source) == [
        "1: from opensearchpy import",
        "2: import elasticsearch",
        "3: .indices",
        "4: client.search()",
        "5: client.options()",
        "6: client.close()",
    ]
    assert raw_client_calls("await engine.search(self.client, alias, body)\nawait http_client.stream('GET', u)\n") == []


def test_only_the_engine_module_calls_a_search_client():
    modules = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py")) if p != BOUNDARY]
    assert len(modules) > 50, "the packages were not found"
    raw = {str(p.relative_to(ROOT)): raw_client_calls(p.read_text(), str(p)) for p in modules}
    assert {path: calls for path, calls in raw.items() if calls} == {}
