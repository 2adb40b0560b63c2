"""The one place that knows which search engine sits behind ``IHUB_SEARCH_URL``, and the only
module that calls a search client.

Choice of clients
-----------------
* Elasticsearch 8 or later: the official async client, ``elasticsearch[async]`` **8.x**. An 8.x
  client talks to Elasticsearch 8.x natively and to 9.x through the REST compatibility headers it
  sends (``compatible-with=8``); a 9.x client sends ``compatible-with=9``, which an 8.x server
  rejects, so 8.x is the client line that covers "Elasticsearch 8+". It verifies that the server
  is Elasticsearch (product check) and refuses anything else, OpenSearch included.
* OpenSearch 2.x (``IHUB_SEARCH_ENGINE=opensearch``): ``opensearchpy.AsyncOpenSearch`` from the
  optional dependency set ``interaction-hub[opensearch]`` (``make install ENGINE=opensearch``),
  imported only when that engine is chosen.

The boundary
------------
The two clients differ in call style (keyword arguments against ``body=``/``params=``, ``.options()``
against ``ignore=``, wrapped answers against plain dicts) and in error classes. Everything else in
the project calls the functions below with plain bodies and gets plain answers; no other module
touches a client's methods (tests/unit/project/test_engine_boundary.py checks that). A difference between
the engines is handled here, once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import orjson

from storage.search.documents import DERIVED

ELASTICSEARCH = "elasticsearch"
OPENSEARCH = "opensearch"
ENGINES = (ELASTICSEARCH, OPENSEARCH)
# the loggers of the clients' transports (each logs one INFO line per request)
CLIENT_LOGGERS = ("elastic_transport", "opensearch")
OPENSEARCH_MISSING = (
    "IHUB_SEARCH_ENGINE=opensearch needs the OpenSearch client: make install ENGINE=opensearch "
    "(or pip install 'interaction-hub[opensearch]')"
)


def engine_from_env(default: str = ELASTICSEARCH) -> str:
    """The engine named by ``IHUB_SEARCH_ENGINE`` (as printed by ``scripts/services env``)."""
    engine = (os.environ.get("IHUB_SEARCH_ENGINE") or default).strip().lower()
    if engine not in ENGINES:
        raise ValueError(f"IHUB_SEARCH_ENGINE must be one of {ENGINES}, not {engine!r}")
    return engine


def create_client(
    url: str,
    *,
    engine: str | None = None,
    request_timeout: float = 30.0,
    max_retries: int = 3,
    **options: Any,
) -> Any:
    """An async client for the engine at ``url`` (e.g. ``http://127.0.0.1:9200``).

    ``engine`` defaults to ``IHUB_SEARCH_ENGINE``, else Elasticsearch. Extra
    ``options`` (``basic_auth``, ``api_key``, ``ca_certs``, ...) go to the client
    as they are. The caller closes the client (``await client.close()``).
    """
    engine = engine or engine_from_env()
    if engine == ELASTICSEARCH:
        from elasticsearch import AsyncElasticsearch, OrjsonSerializer

        return AsyncElasticsearch(
            url,
            # the default decodes with the standard library's json, far slower on bulk answers
            serializer=OrjsonSerializer(),
            request_timeout=request_timeout,
            max_retries=max_retries,
            retry_on_timeout=True,
            **options,
        )
    if engine == OPENSEARCH:
        try:
            from opensearchpy import AsyncOpenSearch
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError(OPENSEARCH_MISSING) from exc
        return AsyncOpenSearch(
            hosts=[url], timeout=request_timeout, max_retries=max_retries, retry_on_timeout=True, **options
        )
    raise ValueError(f"unknown search engine {engine!r}; expected one of {ENGINES}")


def client_options(
    *,
    username: str | None = None,
    password: str | None = None,
    api_key: str | None = None,
    ca_file: str | os.PathLike[str] | None = None,
    engine: str | None = None,
) -> dict[str, Any]:
    """Credential and TLS keywords for :func:`create_client`, in the engine's client's own terms.

    Both clients verify an https server's certificate (against ``ca_file`` when given, else the
    system CAs) and its host name. Elasticsearch takes ``basic_auth``/``api_key``; opensearch-py
    takes ``http_auth`` and an ``Authorization: ApiKey`` header."""
    engine = engine or engine_from_env()
    options: dict[str, Any] = {}
    if ca_file:
        options["ca_certs"] = os.fspath(ca_file)
    if engine == OPENSEARCH:
        if username and password:
            options["http_auth"] = (username, password)
        if api_key:
            options["headers"] = {"Authorization": f"ApiKey {api_key}"}
        return options
    if username and password:
        options["basic_auth"] = (username, password)
    if api_key:
        options["api_key"] = api_key
    return options


def _is_opensearch(client: Any) -> bool:
    return type(client).__module__.startswith("opensearchpy")


def _without_derived(client: Any, hits: list[dict[str, Any]]) -> None:
    """Drop the derived fields from each hit's `_source` where the engine keeps them (OpenSearch, see
    create_index); Elasticsearch's `_source.excludes` already left them out."""
    if _is_opensearch(client):
        for hit in hits:
            for name in DERIVED:
                hit.get("_source", {}).pop(name, None)


def _body(response: Any) -> Any:
    """The decoded answer: the Elasticsearch client wraps it (``.body``), OpenSearch's does not."""
    return response.body if hasattr(response, "body") else response


async def wait_until_ready(client: Any, *, timeout_s: float = 30) -> None:
    """Block until the cluster is at least yellow (raises on time-out)."""
    server_timeout = f"{max(1, int(timeout_s))}s"
    if _is_opensearch(client):
        # opensearch-py takes a `timeout` parameter as its own request time-out
        # unless `request_timeout` is given too.
        await client.cluster.health(
            params={"wait_for_status": "yellow", "timeout": server_timeout, "request_timeout": timeout_s + 5}
        )
    else:
        await client.options(request_timeout=timeout_s + 5).cluster.health(
            wait_for_status="yellow", timeout=server_timeout
        )


async def wait_for_primaries(client: Any, index: str, *, timeout_s: float = 30) -> None:
    """Block until every primary shard of ``index`` has started (raises ``TimeoutError``).

    An index exists (and its health is already yellow) before its shards are allocated; until
    then searches get 503. Whoever creates an index waits for its primaries, but a process that
    finds the index another one has just created does not, so it waits here.
    """
    settings = await client.indices.get_settings(index=index, name="index.number_of_shards")
    primaries = sum(int(entry["settings"]["index"]["number_of_shards"]) for entry in settings.values())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while (await client.cluster.health(index=index))["active_primary_shards"] < primaries:
        if loop.time() > deadline:
            raise TimeoutError(f"the primary shards of {index} did not start within {timeout_s:g} s")
        await asyncio.sleep(0.05)


async def create_index(
    client: Any,
    index: str,
    *,
    mappings: Mapping[str, Any],
    settings: Mapping[str, Any] | None = None,
) -> None:
    """Create ``index`` with an explicit mapping (single node: no replicas by default)."""
    mappings = dict(mappings)
    if _is_opensearch(client):
        # OpenSearch rebuilds a _source it filters (`_source.excludes`) without its key order, and a
        # document must come back as it was written: it keeps the source whole, and every read
        # below drops the derived fields instead
        mappings.pop("_source", None)
    body = {"settings": {"number_of_replicas": 0, **(settings or {})}, "mappings": mappings}
    await client.indices.create(index=index, body=body)


async def put_index_template(
    client: Any, name: str, patterns: list[str], *, mappings: Mapping[str, Any], settings: Mapping[str, Any]
) -> None:
    """Install (or replace) the composable index template `name`: every index made later whose name
    matches one of `patterns` gets these settings and mappings."""
    mappings = dict(mappings)
    if _is_opensearch(client):
        mappings.pop("_source", None)  # as in create_index
    body = {
        "index_patterns": patterns,
        "priority": 200,  # above the engines' own templates for broad patterns
        "template": {"settings": dict(settings), "mappings": mappings},
    }
    await client.indices.put_index_template(name=name, body=body)


async def create_from_template(client: Any, index: str, aliases: Mapping[str, Mapping[str, Any]]) -> bool:
    """Create `index` (its settings and mappings from the matching template) already behind
    `aliases`, in one step; False if it was there (another process made it first). Waits for its
    primaries either way."""
    try:
        await client.indices.create(index=index, body={"aliases": {name: dict(a) for name, a in aliases.items()}})
        made = True
    except Exception as exc:
        if "resource_already_exists" not in str(exc):
            raise
        made = False
    await wait_for_primaries(client, index)
    return made


async def get_source(client: Any, index: str, doc_id: str) -> dict[str, Any] | None:
    """A document's `_source` as a dict (realtime), None if there is none (or no such index)."""
    answer = await _ignoring_404(client, "get", index=index, id=doc_id)
    return answer.get("_source") if answer.get("found") else None


async def mget_from(client: Any, docs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The engine's answer for each (index, id), in order, realtime; a document whose index is not
    there comes back with an `error` instead of `found`."""
    if not docs:
        return []
    body = {"docs": [{"_index": index, "_id": doc_id} for index, doc_id in docs]}
    found: list[dict[str, Any]] = _body(await client.mget(body=body))["docs"]
    _without_derived(client, found)
    return found


async def count(client: Any, index: str, query: Mapping[str, Any]) -> int:
    return int(_body(await client.count(index=index, body={"query": dict(query)}))["count"])


async def scroll(client: Any, index: str, query: Mapping[str, Any], *, page: int = 5000) -> AsyncIterator[list[Any]]:
    """Every hit of `query` in `index`, a page at a time, in no particular order (ids and versions,
    no source): a scroll, which both engines' builds here have (delete-by-query is a module neither
    test distribution carries)."""
    body = {"query": dict(query), "size": page, "_source": False, "version": True, "sort": ["_doc"]}
    answer = _body(await client.search(index=index, body=body, scroll="1m"))
    try:
        while answer["hits"]["hits"]:
            yield answer["hits"]["hits"]
            answer = _body(await client.scroll(scroll_id=answer["_scroll_id"], scroll="1m"))
    finally:
        await client.clear_scroll(scroll_id=answer["_scroll_id"])


async def matching_indices(client: Any, pattern: str) -> list[str]:
    """The names of the indices matching `pattern` (none: [])."""
    answer = _body(
        await client.indices.get_settings(index=pattern, name="index.number_of_shards", allow_no_indices=True)
    )
    return sorted(answer)


async def update_aliases(client: Any, actions: list[dict[str, Any]]) -> None:
    """Several alias changes (`add`, `remove`) in one atomic update."""
    await client.indices.update_aliases(body={"actions": actions})


async def get_document(client: Any, index: str, doc_id: str) -> tuple[int, bytes] | None:
    """A document's version and `_source` (JSON bytes, as orjson writes them), None if there is none.

    The API's GET by id is this one call, so it goes straight to a node of the client's pool for
    `/<index>/_doc/<id>`, skipping the client's decoding of the answer. The source is
    written again by orjson because the engine rewrites what it keeps (`1e-7` comes back `1.0E-7`),
    and a GET must give the bytes the embedded store and the list give. Whenever that path is not
    there (another client) or does not answer cleanly, the client's own path, with its retries,
    does the work."""
    if doc_id in (".", ".."):  # a URL path segment that HTTP clients resolve away (no document has it)
        return None
    node_pool = getattr(getattr(client, "transport", None), "node_pool", None)
    headers = getattr(client, "_headers", None)
    answer: Any = None
    if node_pool is not None and headers is not None:
        try:
            meta, body = await node_pool.get().perform_request(
                "GET", f"/{quote(index, safe='')}/_doc/{quote(doc_id, safe='')}", headers=headers
            )
        except Exception:
            pass
        else:
            if meta.status in (200, 404):
                answer = orjson.loads(body)
                if "found" not in answer:  # a 404 for the index itself, not for the document
                    answer = None
    if answer is None:
        answer = await _ignoring_404(client, "get", index=index, id=doc_id)
        if "found" not in answer:
            # only the engine's own "found: false" means no document; a missing index or alias
            # is an outage, never an answer to give a client
            raise IndexMissing(f"the search engine has no index {index!r}")
    if not answer["found"]:
        return None
    _without_derived(client, [answer])
    return answer["_version"], orjson.dumps(answer["_source"])


async def ensure_index(
    client: Any,
    index: str,
    *,
    mappings: Mapping[str, Any],
    settings: Mapping[str, Any] | None = None,
) -> None:
    """Create ``index`` unless it exists (another process may create it at the same moment), then
    wait until its primaries have started."""
    if not await client.indices.exists(index=index):  # both clients: a bool
        try:
            await create_index(client, index, mappings=mappings, settings=settings)
        except Exception as exc:  # another process may have created it meanwhile
            if "resource_already_exists" not in str(exc):
                raise
    await wait_for_primaries(client, index)


async def search(client: Any, index: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
    """Run a search request body (query, sort, from/size, aggs ...) and return the raw response."""
    answer: Mapping[str, Any] = _body(await client.search(index=index, body=dict(body)))
    _without_derived(client, answer.get("hits", {}).get("hits", []))
    return answer


async def mget(client: Any, index: str, ids: list[str]) -> list[dict[str, Any]]:
    """The engine's answer for each id, in order (`found`, `_version`, `_seq_no`, `_source`...):
    realtime, what the last write left whether or not it was refreshed."""
    docs: list[dict[str, Any]] = _body(await client.mget(index=index, body={"ids": ids}))["docs"]
    _without_derived(client, docs)
    return docs


async def bulk(client: Any, lines: list[bytes], *, refresh: bool = False) -> dict[str, Any]:
    """One bulk request of NDJSON `lines` (each action line with its `_index`, then its source line
    if any); the engine's answer, a result per action in `items`. Raises only if the request failed."""
    answer: dict[str, Any] = _body(
        await client.bulk(body=b"\n".join(lines) + b"\n", refresh="true" if refresh else "false")
    )
    return answer


async def _ignoring_404(client: Any, method: str, **kwargs: Any) -> dict[str, Any]:
    """The answer of `client.<method>(**kwargs)`, a 404 included (its body, not an exception)."""
    if _is_opensearch(client):
        found: dict[str, Any] = await getattr(client, method)(**kwargs, ignore=404)
        return found
    answer: dict[str, Any] = _body(await getattr(client.options(ignore_status=404), method)(**kwargs))
    return answer


async def refresh(client: Any, index: str) -> None:
    """Make every write to `index` (an index or an alias) visible to searches."""
    await client.indices.refresh(index=index)


async def close(client: Any) -> None:
    await client.close()


# -- aliases and mappings ------------------------------------------------------------------------


async def alias_exists(client: Any, alias: str) -> bool:
    return bool(await client.indices.exists_alias(name=alias))


async def alias_indices(client: Any, alias: str) -> list[str]:
    """The indices behind `alias` (raises the client's not-found error when there is no such alias)."""
    return list(_body(await client.indices.get_alias(name=alias)))


async def add_fields(client: Any, index: str, properties: Mapping[str, Any]) -> None:
    """Add the fields in `properties` to the mapping of `index` (those it has already stay)."""
    await client.indices.put_mapping(index=index, body={"properties": dict(properties)})


async def mapping_meta(client: Any, index: str) -> dict[str, Any]:
    """The `_meta` of the mapping of `index` ({} if it has none)."""
    answer = _body(await client.indices.get_mapping(index=index))
    meta: dict[str, Any] = next(iter(answer.values()))["mappings"].get("_meta") or {}
    return meta


async def delete_indices(client: Any, indices: list[str]) -> None:
    """Delete `indices`; those that are not there are no error."""
    await client.indices.delete(index=",".join(indices), ignore_unavailable=True)


# -- single documents ----------------------------------------------------------------------------


async def put_document(client: Any, index: str, doc_id: str, document: Mapping[str, Any]) -> None:
    """Index `document` under `doc_id`, visible to searches when this returns."""
    await client.index(index=index, id=doc_id, body=dict(document), refresh="wait_for")


async def touch_document(client: Any, index: str, doc_id: str) -> int:
    """Write an empty document under `doc_id` (no refresh: GETs are realtime); its new version."""
    answer = _body(await client.index(index=index, id=doc_id, body={}))
    return int(answer["_version"])


async def delete_document(client: Any, index: str, doc_id: str) -> bool:
    """Delete a document, visible to searches when this returns; whether there was one."""
    answer = await _ignoring_404(client, "delete", index=index, id=doc_id, refresh="wait_for")
    return answer.get("result") == "deleted"


class IndexMissing(LookupError):
    """The engine answered, but the index or alias the store uses is not there."""


OUTAGE_STATUS = frozenset({429, 502, 503, 504})


def outage(exc: BaseException) -> bool:
    """Whether the engine could not answer at all (unreachable, timed out, overloaded, its index gone):
    worth a 503 and a retry, never a 500. Both clients name their connection errors alike."""
    if isinstance(exc, IndexMissing):
        return True
    names = {kind.__name__ for kind in type(exc).__mro__ if kind.__module__.split(".")[0] in ENGINE_MODULES}
    if names & {"ConnectionError", "ConnectionTimeout"}:
        return True
    status = getattr(getattr(exc, "meta", None), "status", None) or getattr(exc, "status_code", None)
    return status in OUTAGE_STATUS


ENGINE_MODULES = frozenset({"elasticsearch", "elastic_transport", "opensearchpy"})


def refused_request(exc: BaseException) -> str | None:
    """The engine's reason when it answered 400 to a request (a query it cannot run), else None."""
    status = getattr(getattr(exc, "meta", None), "status", None) or getattr(exc, "status_code", None)
    if status != 400:
        return None
    return str(getattr(exc, "message", None) or exc)
