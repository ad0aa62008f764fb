"""/docs (Swagger UI) and /redoc (ReDoc) render every operation in Chromium under their
Content-Security-Policy, loading nothing from another origin."""

from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import expect

# ReDoc's sidebar credit always asks for this image (and hides it when it cannot load); the
# policy blocks it, which the browser reports. Nothing else may be blocked or fail.
REDOC_CREDIT_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="module")
def operations(server_url) -> int:
    """How many operation entries the pages list: one per operation and tag."""
    with urllib.request.urlopen(server_url + "/openapi.json") as r:
        paths = json.load(r)["paths"]
    return sum(max(1, len(op.get("tags", []))) for ops in paths.values() for op in ops.values())


def open_docs(browser, server_url: str, path: str):
    """The page at ``path`` with its console errors and the URLs it requested elsewhere."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.on("request", lambda r: None if r.url.startswith((server_url, "data:", "blob:"))
            else elsewhere.append(r.url))
    page.set_default_timeout(30_000)
    page.goto(server_url + path)
    return context, page, errors, elsewhere


# The documentation pages build every operation in script: seconds on a loaded machine (a CI
# run beside other work took more than expect's default 5 s for ReDoc's 38 sections).
DOCS_RENDER_MS = 30_000


def test_swagger_ui_lists_every_operation(browser, server_url, operations):
    context, page, errors, elsewhere = open_docs(browser, server_url, "/docs")
    try:
        expect(page.locator(".opblock")).to_have_count(operations, timeout=DOCS_RENDER_MS)
        expect(page.locator(".opblock-summary-path", has_text="/api/predict").first).to_be_visible()
    finally:
        context.close()
    assert not errors, f"console errors: {errors}"
    assert not elsewhere, f"requests to other origins: {elsewhere}"


def test_redoc_lists_every_operation(browser, server_url, operations):
    context, page, errors, elsewhere = open_docs(browser, server_url, "/redoc")
    try:
        expect(page.locator("[data-section-id^='operation/']")).to_have_count(
            operations, timeout=DOCS_RENDER_MS)
        expect(page.get_by_role("heading", name="cnnvis").first).to_be_visible()
    finally:
        context.close()
    blocked_logo = [e for e in errors if REDOC_CREDIT_LOGO in e and "Content Security" in e]
    assert len(blocked_logo) <= 1
    assert [e for e in errors if e not in blocked_logo] == [], f"console errors: {errors}"
    assert set(elsewhere) <= {REDOC_CREDIT_LOGO}, f"requests to other origins: {elsewhere}"
