"""The API docs page (/docs): Swagger UI from the installed `swagger-ui-bundle-v2` package, so the
page loads nothing from a third-party CDN (FastAPI's default page does). Its script is a file of its
own, not inline, so the page runs under the Content-Security-Policy of query_api/page_policy.py."""

from __future__ import annotations

import html
import json

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"
INIT = "/docs/init.js"
OAUTH2_REDIRECT = f"{ASSETS}/oauth2-redirect.html"  # the bundle's own, whose script is a file too

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{init}"></script>
</body>
</html>
"""

INIT_SCRIPT = """window.ui = SwaggerUIBundle(Object.assign({config}, {{
  oauth2RedirectUrl: window.location.origin + {redirect},
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
}}));
"""


def install(app: FastAPI) -> None:
    """Serve /docs and its assets; the app must be made with docs_url=None and redoc_url=None."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
    # FastAPI's settings for its own Swagger page; no validator badge (it would load from swagger.io)
    config = {
        "url": app.openapi_url or "/openapi.json",
        "dom_id": "#swagger-ui",
        "layout": "BaseLayout",
        "deepLinking": True,
        "showExtensions": True,
        "showCommonExtensions": True,
        "validatorUrl": None,
    }
    page = PAGE.format(title=html.escape(f"{app.title}: API docs"), assets=ASSETS, init=INIT)
    script = INIT_SCRIPT.format(config=json.dumps(config), redirect=json.dumps(OAUTH2_REDIRECT))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get(INIT, include_in_schema=False)
    async def init() -> Response:
        return Response(script, media_type="text/javascript")
