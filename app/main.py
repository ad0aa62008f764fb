"""The cnnvis web service: ``create_app()`` wires settings, model loading, errors and routers;
``uvicorn app.main:app`` serves the module-level app."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import GZipMiddleware
from threadpoolctl import threadpool_limits

from model.runtime import keep_freed_memory

from .accesslog import cap_access_log
from .admission import AdmissionControl, Limiter
from .config import Settings
from .errors import install_error_handlers
from .metrics import Metrics, RequestMetrics, RouteTemplates
from .middleware import (
    BodyBudget,
    BodySizeLimit,
    JsonItemLimit,
    RelativeRedirects,
    RequestHeadCheck,
    ResponseSizeLimit,
    StartupFailureMessage,
)
from .routers import (
    counterfactual,
    datasets,
    docs,
    explain,
    health,
    metrics,
    models,
    neighbors,
    pages,
    predict,
    runs,
    samples,
    units,
)
from .runs.manager import RunManager
from .runs.models import RunModels
from .runs.service import Runs
from .security import SecurityHeaders
from .startup import StartupError, load_registry
from .trim import IdleTrim
from .weightcache import WeightAnswers

SERVE_MMAP_THRESHOLD = 32 << 20  # bytes
GZIP_MIN_BYTES = 1024  # smaller answers gain less than a gzip header and a round of CPU

DESCRIPTION = """Draw a digit or a piece of clothing and watch a from-scratch NumPy CNN classify
it, layer by layer.

Every error answers JSON `{"detail": "..."}`. Feature maps come uint8-quantised per layer
(value = min + q·(max − min)/255); weights come as base64 float32/float16, little-endian,
C order. Answers of 1 KB or more are gzipped for clients that send `Accept-Encoding: gzip`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new application. Models are loaded (validated, frozen, self-tested) by the lifespan;
    any problem stops startup with one message naming the file and what is wrong."""
    settings = settings if settings is not None else Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Per-request arrays of a few MB (a canvas decoded to float RGBA is 1.3 MB) come from
        # the heap instead of fresh mmaps: page-faulting them made decoding a drawing 18×
        # slower (0.96 ms against 0.05 ms). Only uploads near the pixel limit still get mmaps.
        keep_freed_memory(mmap_threshold=SERVE_MMAP_THRESHOLD,
                          trim_threshold=4 * SERVE_MMAP_THRESHOLD, top_pad=1 << 20)
        # Parallelism comes from concurrent requests (admission control), each on one BLAS
        # thread by default; None leaves BLAS as configured.
        with threadpool_limits(settings.blas_threads or None, "blas"):
            try:
                registry = await run_in_threadpool(load_registry, settings)
            except StartupError as exc:
                app.state.startup_error = f"cnnvis cannot start: {exc}"
                raise RuntimeError(app.state.startup_error) from None
            await run_in_threadpool(app.openapi)  # built once here, not on the event loop later
            try:
                run_service = await run_in_threadpool(start_runs, settings)
            except StartupError as exc:
                app.state.startup_error = f"cnnvis cannot start: {exc}"
                raise RuntimeError(app.state.startup_error) from None
            app.state.runs = run_service
            app.state.registry = registry.with_runs(
                RunModels(run_service.store, settings.runs_dir, registry.samples,
                          settings.max_kept_runs))
            try:
                yield
            finally:
                app.state.registry = None
                app.state.runs = None
                await run_in_threadpool(run_service.manager.stop)

    # /docs and /redoc come from routers/docs.py (offline assets, no inline scripts); the API
    # has no OAuth, so no Swagger OAuth2 redirect page.
    app = FastAPI(title="cnnvis", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None, swagger_ui_oauth2_redirect_url=None,
                  form_limits={"max_files": settings.max_form_files,
                               "max_fields": settings.max_form_fields,
                               "max_part_size": settings.max_form_field_bytes})
    app.state.settings = settings
    app.state.registry = None
    app.state.runs = None
    app.state.startup_error = None
    app.state.metrics = Metrics()
    app.state.limiter = Limiter(settings.max_inflight, settings.max_queue,
                                settings.max_wait_seconds, settings.max_preview_bytes)
    add_middleware(app, settings)
    document_form_limits(app, settings)
    install_error_handlers(app)
    for module in (health, metrics, models, predict, samples, datasets, explain, neighbors,
                   counterfactual,
                   runs, units, pages, docs):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR, check_dir=False), name="static")
    app.mount(docs.ASSETS_URL, StaticFiles(directory=docs.ASSETS_DIR), name="docs-assets")
    return app


def start_runs(settings: Settings) -> Runs:
    """The training runs of this process: the runs database opened, runs lost with a stopped
    server marked failed, and the queue thread started; a StartupError if the runs directory
    cannot be used."""
    try:
        manager = RunManager(settings)
        manager.start()
    except (OSError, sqlite3.Error) as exc:
        raise StartupError(f"{settings.runs_dir}: cannot use the runs directory ({exc}); set "
                           f"CNNVIS_RUNS_DIR to a writable directory") from None
    return Runs(manager, settings)


def add_middleware(app: FastAPI, settings: Settings) -> None:
    """Each one added wraps those before it, so the order here is innermost first: admission
    control right before the inference routes, the weight-only answers' cache outside it; size
    limits before anything parses; CORS only when configured; answers gzipped for clients that
    accept it (issue 18: live answers are most of a classroom's bytes); redirects made relative
    and request heads checked; security headers on every answer; the idle memory trim; metrics
    outermost, seeing every answer. uvicorn's access log gets its line length capped."""
    app.add_middleware(AdmissionControl, limiter=app.state.limiter, metrics=app.state.metrics)
    app.add_middleware(WeightAnswers)
    app.add_middleware(JsonItemLimit, max_items=settings.max_json_items)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,
                       timeout=settings.body_timeout_seconds,
                       budget=BodyBudget(settings.body_budget_bytes))
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Content-Type"],
                           expose_headers=["Retry-After"], max_age=600)
    app.add_middleware(ResponseSizeLimit, max_bytes=settings.max_response_bytes)
    if settings.gzip_level:  # outside the size limit, which bounds the uncompressed answer
        app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES,
                           compresslevel=settings.gzip_level)
    app.add_middleware(RelativeRedirects)
    app.add_middleware(RequestHeadCheck, max_url_bytes=settings.max_url_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(IdleTrim, idle_seconds=settings.trim_idle_seconds)
    app.add_middleware(RequestMetrics, metrics=app.state.metrics,
                       templates=RouteTemplates(app))
    cap_access_log()
    app.add_middleware(StartupFailureMessage, state=app.state)


def document_form_limits(app: FastAPI, settings: Settings) -> None:
    """State the multipart limits in the OpenAPI schema (``maxProperties`` of every form body),
    so clients and schemathesis know that more fields than that are refused."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    content = (operation.get("requestBody") or {}).get("content", {})
                    ref = content.get("multipart/form-data", {}).get("schema", {}).get("$ref", "")
                    if ref.startswith("#/components/schemas/"):
                        body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
                        body["maxProperties"] = settings.max_form_fields + settings.max_form_files
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


app = create_app()
