"""The API's documentation page, /docs: Swagger UI from an installed package, never a CDN.

FastAPI's own /docs loads Swagger UI from a CDN (which a city network may block, and which runs a
third party's script on a signed-in origin) and starts it with an inline script. This page loads
the files `fastapi-offline` installs and starts them with `/static/docs.js`, so it works under the
web pages' Content-Security-Policy: scripts and styles from this origin only.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from livinglab_platform.web.render import SECURITY_HEADERS

__all__ = ["ASSETS_DIR", "ASSETS_PATH", "router"]

ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS_PATH = "/static/docs"

router = APIRouter(include_in_schema=False)

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>livinglab API</title>
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
<link rel="icon" href="/static/favicon.svg">
</head>
<body>
<div id="swagger-ui" data-openapi="/openapi.json"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body>
</html>
"""


@router.get("/docs")
def read_docs() -> HTMLResponse:
    """Swagger UI on this API's OpenAPI document."""
    return HTMLResponse(_PAGE, headers=SECURITY_HEADERS)
