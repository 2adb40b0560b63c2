"""Search-engine storage (Elasticsearch 8+, or OpenSearch).

Engine-specific code lives in :mod:`storage.search.engine` only; the application builds its clients
from its settings in interaction_hub/search_client.py.
"""

from storage.search.engine import client_options, create_client, wait_until_ready

__all__ = ["client_options", "create_client", "wait_until_ready"]
