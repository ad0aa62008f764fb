"""The cnnvis web service: ``create_app()`` wires settings, model loading, errors and routers;
``uvicorn app.main:app`` serves the module-level app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from .config import Settings
from .errors import install_error_handlers
from .middleware import BodySizeLimit
from .routers import explain, health, models, pages, predict, samples
from .service import StartupError, load_registry

DESCRIPTION = """Draw a digit and watch a from-scratch NumPy CNN classify it, layer by layer.

Every error answers JSON `{"detail": "..."}`. Feature maps come uint8-quantised per layer
(value = min + q·(max − min)/255); weights come as base64 float32/float16, little-endian,
C order.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new application. Models are loaded (validated, frozen, self-tested) by the lifespan;
    any problem stops startup with one message naming the file and what is wrong."""
    settings = settings if settings is not None else Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            registry = await run_in_threadpool(load_registry, settings)
        except StartupError as exc:
            raise RuntimeError(f"cnnvis cannot start: {exc}") from None
        app.state.registry = registry
        try:
            yield
        finally:
            app.state.registry = None

    app = FastAPI(title="cnnvis", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.registry = None
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    for module in (health, models, predict, samples, explain, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR, check_dir=False), name="static")
    return app


app = create_app()
