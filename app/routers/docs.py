"""The API's own documentation, offline: Swagger UI at /docs and ReDoc at /redoc, with their
bundles served from the installed ``fastapi-offline`` package and started without inline scripts,
so /docs keeps the page's Content-Security-Policy and /redoc a near one (app/security.py)."""

from __future__ import annotations

import json
from html import escape
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import swagger_ui_default_parameters
from fastapi.responses import HTMLResponse, Response

from ..security import REDOC_POLICY

# Swagger UI's bundle and stylesheet, ReDoc's standalone bundle and a favicon, as released.
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
ASSETS_URL = "/docs/assets"
SWAGGER_INIT_URL = "/docs/swagger-init.js"

# Reads its settings from the page (data-config) so that the script itself is a constant file.
SWAGGER_INIT = """\
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  ...JSON.parse(root.dataset.config),
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""

SWAGGER_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Swagger UI</title>
<link rel="icon" href="{assets}/favicon.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-config="{config}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{init}"></script>
</body>
</html>
"""

# ReDoc starts itself from the <redoc> element.
REDOC_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="icon" href="{assets}/favicon.png">
<style>body {{ margin: 0; }}</style>
</head>
<body>
<redoc spec-url="{openapi}"></redoc>
<script src="{assets}/redoc.standalone.js"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


def _urls(request: Request) -> dict[str, str]:
    """The URLs the pages refer to, under the app's root path when it is served behind one."""
    root = request.scope.get("root_path", "").rstrip("/")
    return {"assets": root + ASSETS_URL, "init": root + SWAGGER_INIT_URL,
            "openapi": root + (request.app.openapi_url or "")}


def _page(template: str, request: Request, **extra: str) -> str:
    values = {**_urls(request), "title": request.app.title, **extra}
    return template.format(**{key: escape(value) for key, value in values.items()})


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    # validatorUrl None: Swagger UI would otherwise fetch a badge from an online validator.
    config = {**swagger_ui_default_parameters, **(request.app.swagger_ui_parameters or {}),
              "url": _urls(request)["openapi"], "validatorUrl": None}
    return HTMLResponse(_page(SWAGGER_PAGE, request, config=json.dumps(config)))


@router.get(SWAGGER_INIT_URL)
def swagger_init() -> Response:
    return Response(SWAGGER_INIT, media_type="text/javascript")


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    return HTMLResponse(_page(REDOC_PAGE, request),
                        headers={"Content-Security-Policy": REDOC_POLICY})
