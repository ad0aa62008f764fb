"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..schemas import Health, Ready, error_responses

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is alive")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", response_model=Ready, responses=error_responses(503),
            summary="Every model is loaded and passed its self-test")
def readyz(request: Request):
    registry = getattr(request.app.state, "registry", None)
    if registry is None:
        return JSONResponse({"detail": "not ready: the models are not loaded yet"},
                            status_code=503)
    return {"status": "ready",
            "models": [{"name": m.name, "sha256": m.sha256} for m in registry.models.values()]}
