"""The edge router (`python -m router`, docs/router.md): serves each instance's public_url from its active release.

Its public face: `RouterSettings` (configuration), `RouteTable` (what is
served where) and `create_app` (the aiohttp application). It talks to the
control plane only through the WatchRoutes RPC, and to the artifact store
through the ArtifactStore protocol; it imports nothing of server.app,
server.store or server.api (an import-linter contract in pyproject.toml).
"""

from router.config import RouterSettings
from router.proxy import create_app
from router.table import RouteTable

__all__ = ["RouteTable", "RouterSettings", "create_app"]
