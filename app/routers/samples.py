"""The shipped MNIST test digits, for the gallery."""

from __future__ import annotations

from fastapi import APIRouter

from .. import service
from ..schemas import SamplesResponse, error_responses
from .deps import RegistryDep

router = APIRouter(prefix="/api", tags=["samples"])


@router.get("/samples", response_model=SamplesResponse, responses=error_responses(503),
            summary="The shipped sample of MNIST test digits with labels")
def samples(registry: RegistryDep) -> dict:
    return {"samples": service.samples(registry)}
