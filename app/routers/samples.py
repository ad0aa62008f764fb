"""The shipped sample of each dataset's test images, for the gallery."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from .. import service
from ..schemas import SamplesResponse, error_responses
from .deps import RegistryDep

router = APIRouter(prefix="/api", tags=["samples"])

DatasetQuery = Annotated[str | None, Query(
    min_length=1, max_length=100,
    description="A dataset's name (GET /api/datasets); default: the default model's dataset.")]


@router.get("/samples", response_model=SamplesResponse, responses=error_responses(404, 422, 503),
            summary="The shipped sample of a dataset's test images with labels and class names")
def samples(registry: RegistryDep, dataset: DatasetQuery = None) -> dict:
    return service.samples(registry, service.dataset_named(dataset, registry))
