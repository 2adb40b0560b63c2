"""Search-engine storage (Elasticsearch 8+, or OpenSearch).

Engine-specific code lives in :mod:`storage.search.engine` only.
"""

from storage.search.engine import (
    ELASTICSEARCH,
    OPENSEARCH,
    EngineInfo,
    bulk_index,
    create_client,
    create_index,
    delete_index,
    engine_from_env,
    engine_info,
    put_index_template,
    refresh,
    search,
    wait_until_ready,
)

__all__ = [
    "ELASTICSEARCH",
    "OPENSEARCH",
    "EngineInfo",
    "bulk_index",
    "create_client",
    "create_index",
    "delete_index",
    "engine_from_env",
    "engine_info",
    "put_index_template",
    "refresh",
    "search",
    "wait_until_ready",
]
