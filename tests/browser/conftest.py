"""Browser-test fixtures: the app served by uvicorn in a subprocess on a free port, Debian's
Chromium driven by Playwright (its own browser download does not work here), and a page that
fails the test on any console error."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pagetools import wait_idle
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CNNVIS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic",
                 "--no-first-run"]
VIEWPORT = {"width": 1440, "height": 900}
READY_TIMEOUT_S = 120


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives the page in headless Chromium")


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(env: dict[str, str] | None = None) -> Iterator[str]:
    """``uvicorn app.main:app`` in a child process on a free port, with ``env`` added to the
    environment; its URL once /readyz says ready. Fails the test if it exits or never is."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"], cwd=ROOT,
        env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the app was not ready within {READY_TIMEOUT_S} s")
            try:  # between two asks, watch for the app exiting
                proc.wait(timeout=0.3)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"the app exited with status {proc.returncode} before it was ready")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def server_url():
    with served() as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CNNVIS_CHROMIUM)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Errors the page logs; a test expecting some removes them before it ends."""
    return []


@pytest.fixture(scope="session")
def start_path(server_url) -> str:
    """The page showing SimpleConvNet (the layer names the tests hover), whatever the default."""
    with urllib.request.urlopen(server_url + "/api/models") as r:
        names = [m["name"] for m in json.load(r)["models"]]
    return "/?model=simple_convnet" if "simple_convnet" in names else "/"


@pytest.fixture
def page(browser, server_url, start_path, console_errors):
    """The page, loaded, with its start-up demo digit predicted; console errors fail the test."""
    # Reduced motion: scrolls jump instead of gliding, so an element is where it was found
    # when it is clicked (a smooth scroll still running could move it under the pointer).
    context = browser.new_context(viewport=VIEWPORT, reduced_motion="reduce")
    pg = context.new_page()
    errors = console_errors
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    pg.set_default_timeout(20_000)
    pg.goto(server_url + start_path)
    pg.wait_for_selector("#prediction[data-state=ok]")
    wait_idle(pg)
    yield pg
    context.close()
    assert not errors, f"console errors: {errors}"
