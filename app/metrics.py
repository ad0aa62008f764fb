"""Prometheus metrics (text exposition format, via ``prometheus-client``): requests by
route template and status, latency, inference time, slots in flight, waiting and refused."""

from __future__ import annotations

import os
import re
import threading
import time

from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# No "<name>_created" timestamp series beside every counter and histogram: half the output,
# no information a scraper needs.
disable_created_metrics()
UNMATCHED = "unmatched"  # one label for every unknown path, so no client can grow the series
CLIENT_LEFT = 499  # no answer was sent: the client went away first (nginx's convention)
# Set in the request's scope by the guarded protocol (app/httpguard.py) when the connection is
# lost before the answer is complete: uvicorn then drops what the app sends without a word.
CLIENT_LEFT_KEY = "cnnvis.client_left"
# Scrapes within this many seconds get the same rendering (Prometheus scrapes every 15 s or so).
RENDER_MAX_AGE = 1.0


class Metrics:
    """The service's collectors in their own registry (one per app, so tests can build many).

    With ``PROMETHEUS_MULTIPROC_DIR`` set (several uvicorn workers) values live in files there
    and :meth:`render` sums every worker's; gauges then add up the live workers' values.
    """

    def __init__(self) -> None:
        self._render_lock = threading.Lock()
        self._rendered: tuple[float, bytes] | None = None
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("cnnvis_http_requests", "HTTP requests answered, by route "
                                "template and status", ["method", "route", "status"], registry=r)
        self.latency = Histogram("cnnvis_http_request_duration_seconds", "Time from the request "
                                 "to the end of the answer, by route template",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.inference = Histogram("cnnvis_inference_seconds", "Time an admitted inference "
                                   "request held its slot (decode, forward pass, encoding)",
                                   ["route"], buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("cnnvis_inference_in_flight", "Inference requests running now",
                               registry=r, multiprocess_mode="livesum")
        self.waiting = Gauge("cnnvis_inference_waiting", "Inference requests waiting for a slot",
                             registry=r, multiprocess_mode="livesum")
        self.capacity = Gauge("cnnvis_inference_capacity", "Inference slots (per worker, summed)",
                              registry=r, multiprocess_mode="livesum")
        self.rejected = Counter("cnnvis_inference_rejected", "Inference requests refused with "
                                "503 (queue_full, timeout) or abandoned by their "
                                "client while waiting (client_left)", ["reason"], registry=r)

    def observe_inference(self, scope: Scope, seconds: float) -> None:
        self.inference.labels(route=_route_of(scope) or UNMATCHED).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """(body, content type) of the values at most ``RENDER_MAX_AGE`` seconds old: a flood of
        scrapes costs one rendering per interval per worker, and concurrent scrapes share it."""
        with self._render_lock:
            now = time.monotonic()
            if self._rendered is None or now - self._rendered[0] >= RENDER_MAX_AGE:
                self._rendered = (now, self._generate())
            return self._rendered[1], CONTENT_TYPE_LATEST

    def _generate(self) -> bytes:
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def _route_of(scope: Scope) -> str | None:
    route = scope.get("route")
    return getattr(route, "path", None) if route is not None else None


class RouteTemplates:
    """The path templates of the app's operations (from its OpenAPI schema, built once), to
    label answers given before routing (413, 503) as routed ones are: ``/api/models/{name}``."""

    def __init__(self, app: FastAPI):
        self.app = app
        self._patterns: list[tuple[re.Pattern, str]] | None = None

    def of(self, scope: Scope) -> str:
        found = _route_of(scope)
        if found is not None:
            return found
        if self._patterns is None:
            self._patterns = [(compile_path(path)[0], path) for path in self.app.openapi()["paths"]]
        path = scope["path"]
        return next((template for pattern, template in self._patterns if pattern.match(path)),
                    UNMATCHED)


def transport_closed(exc: BaseException) -> bool:
    """Whether ``exc`` is uvloop refusing to write to a connection the client has closed (the
    window before uvicorn hears of it)."""
    return isinstance(exc, RuntimeError) and "unable to perform operation" in str(exc)


class RequestMetrics:
    """Pure ASGI middleware, outermost: counts and times every HTTP request, errors included.
    A client that went away before its answer was complete is one 499, not a traceback."""

    def __init__(self, app: ASGIApp, metrics: Metrics, templates: RouteTemplates):
        self.app = app
        self.metrics = metrics
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = CLIENT_LEFT
        gone = False

        async def recording_send(message: Message) -> None:
            nonlocal status, gone
            if message["type"] == "http.response.start":
                status = message["status"]
            if gone:
                return
            try:
                await send(message)
            except RuntimeError as exc:
                if not transport_closed(exc):
                    raise
                gone = True

        try:
            await self.app(scope, receive, recording_send)
        except BaseException:
            status = 500 if status == CLIENT_LEFT else status
            raise
        finally:
            if gone or scope.get(CLIENT_LEFT_KEY):
                status = CLIENT_LEFT
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = self.templates.of(scope)
            self.metrics.requests.labels(method=method, route=route, status=str(status)).inc()
            self.metrics.latency.labels(method=method, route=route).observe(
                time.perf_counter() - started)
