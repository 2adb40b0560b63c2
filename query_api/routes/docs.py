"""The API docs page (/docs): Swagger UI from the installed `swagger-ui-bundle-v2` package, so the
page loads nothing from a third-party CDN (FastAPI's default page does). Its script is a file of its
own, not inline, so the page runs under the Content-Security-Policy of query_api/page_policy.py.
The page shows v4's OpenAPI (/openapi.json) or, at /docs?spec=v5, v5's (OPENAPI_V5): links at its
top choose. (Swagger UI's standalone layout, whose bar picks among URLs, adds an inline style the
policy refuses.)"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, JSONResponse, Response
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"
INIT = "/docs/init.js"
OAUTH2_REDIRECT = f"{ASSETS}/oauth2-redirect.html"  # the bundle's own, whose script is a file too
# under /docs/, so served to whoever may read the docs (query_api/auth.py)
OPENAPI_V5 = "/docs/openapi-v5.json"

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="stylesheet" href="{assets}/index.css">
<link rel="icon" href="{assets}/favicon-32x32.png">
</head>
<body>
<nav aria-label="API versions">
<a href="/docs">TMF683 v4</a> | <a href="/docs?spec=v5">TMF683 v5</a>
</nav>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{init}"></script>
</body>
</html>
"""

INIT_SCRIPT = """var urls = {urls};
var spec = new URLSearchParams(window.location.search).get("spec") === "v5" ? urls.v5 : urls.v4;
window.ui = SwaggerUIBundle(Object.assign({config}, {{
  url: spec,
  oauth2RedirectUrl: window.location.origin + {redirect},
  presets: [SwaggerUIBundle.presets.apis],
  plugins: [SwaggerUIBundle.plugins.DownloadUrl],
}}));
"""


def install(app: FastAPI, openapi_v5: Callable[[], dict[str, Any]]) -> None:
    """Serve /docs and its assets, and v5's OpenAPI (`openapi_v5()`) at OPENAPI_V5; the app must be
    made with docs_url=None and redoc_url=None."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
    # FastAPI's settings for its own Swagger page; no validator badge (it would load from swagger.io)
    urls = {"v4": app.openapi_url or "/openapi.json", "v5": OPENAPI_V5}
    config = {
        "dom_id": "#swagger-ui",
        "layout": "BaseLayout",
        "deepLinking": True,
        "showExtensions": True,
        "showCommonExtensions": True,
        "validatorUrl": None,
    }
    page = PAGE.format(title=html.escape(f"{app.title}: API docs"), assets=ASSETS, init=INIT)
    script = INIT_SCRIPT.format(urls=json.dumps(urls), config=json.dumps(config), redirect=json.dumps(OAUTH2_REDIRECT))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get(INIT, include_in_schema=False)
    async def init() -> Response:
        return Response(script, media_type="text/javascript")

    @app.get(OPENAPI_V5, include_in_schema=False)
    async def v5_document() -> JSONResponse:
        return JSONResponse(openapi_v5())
