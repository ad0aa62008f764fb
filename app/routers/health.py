"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..schemas import Health, Ready, error_responses

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is alive")
def healthz() -> dict:
    return {"status": "ok"}


# HEAD on the probes, as load balancers send it: the GET's status and headers, no body.
@router.head("/healthz", include_in_schema=False)
def healthz_head() -> dict:
    return healthz()


@router.get("/readyz", response_model=Ready, responses=error_responses(503),
            summary="Every model is loaded and passed its self-test")
def readyz(request: Request):
    registry = getattr(request.app.state, "registry", None)
    if registry is None:
        return JSONResponse({"detail": "not ready: the models are not loaded yet"},
                            status_code=503)
    return {"status": "ready",
            "models": [{"name": m.name, "sha256": m.sha256} for m in registry.models.values()]}


@router.head("/readyz", include_in_schema=False)
def readyz_head(request: Request):
    return readyz(request)
