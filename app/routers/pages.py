"""The single page (templates/index.html); its scripts and styles are served from /static."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from model.resources import shipped_dir

from .deps import RegistryDep

TEMPLATES_DIR = shipped_dir("templates")
STATIC_DIR = shipped_dir("static")
PAGE = "index.html"

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


@router.get("/", response_class=HTMLResponse)
def index(request: Request, registry: RegistryDep) -> HTMLResponse:
    if not (TEMPLATES_DIR / PAGE).is_file():
        raise HTTPException(503, f"the page is not installed: {TEMPLATES_DIR / PAGE} is missing")
    return templates.TemplateResponse(request, PAGE, {
        "models": list(registry.models), "default_model": registry.default})
