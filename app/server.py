"""``cnnvis serve``'s HTTP server: uvicorn with the guarded protocol (app/httpguard.py), the
keep-alive time from the settings, no WebSockets (the app has none), and forwarded headers
trusted only from listed proxies."""

from __future__ import annotations

import uvicorn

from .config import Settings

APP = "app.main:app"
PROTOCOL = "app.httpguard:HttpGuard"


def uvicorn_options(settings: Settings) -> dict:
    """The uvicorn options that carry the service's HTTP-layer settings (also what to pass to
    ``uvicorn app.main:app`` by hand: ``--http app.httpguard:HttpGuard`` and the rest)."""
    trusted = list(settings.forwarded_allow_ips)
    return {"http": PROTOCOL, "ws": "none", "timeout_keep_alive": settings.keepalive_seconds,
            "timeout_worker_healthcheck": settings.worker_healthcheck_seconds,
            "proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}


def serve(host: str, port: int, workers: int, limit_concurrency: int,
          settings: Settings) -> None:
    """Run until interrupted; each worker imports ``app.main`` and reads the same settings."""
    uvicorn.run(APP, host=host, port=port, workers=workers, limit_concurrency=limit_concurrency,
                **uvicorn_options(settings))
