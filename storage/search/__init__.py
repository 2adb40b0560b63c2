"""Search-engine storage (Elasticsearch 8+, or OpenSearch).

Engine-specific code lives in :mod:`storage.search.engine` only.
"""

from storage.search.engine import create_client, wait_until_ready

__all__ = ["create_client", "wait_until_ready"]
