"""Prometheus metrics of this worker (of every worker with PROMETHEUS_MULTIPROC_DIR set)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}},
                             "description": "Prometheus text exposition format"}},
            summary="Requests, latency, inference time, slots in flight, refusals")
def metrics(request: Request) -> Response:
    body, media_type = request.app.state.metrics.render()
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-store"})
