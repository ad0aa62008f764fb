"""Where a drawing stands: its nearest training images and atypicality, the data map of a model's
reference images, and one reference image by index."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Body, Path

from .. import examples, neighbors_service, service
from ..schemas import (
    DataMap,
    NeighborsRequest,
    NeighborsResponse,
    ReferenceDigit,
    error_responses,
)
from .deps import JsonBody, RegistryDep, SettingsDep

router = APIRouter(tags=["neighbors"])
Drawing = Annotated[NeighborsRequest, Body(openapi_examples=examples.NEIGHBORS)]
Index = Annotated[int, Path(ge=0, le=10_000_000, description="a reference image's index")]


@router.post("/api/neighbors", response_model=NeighborsResponse,
             responses=error_responses(400, 404, 413, 415, 422, 503), dependencies=[JsonBody],
             summary="The training images nearest a drawing, its place on the map, and whether "
                     "it looks like anything the network has seen")
def neighbors(body: Drawing, registry: RegistryDep, settings: SettingsDep) -> dict:
    started = time.perf_counter()
    model = registry.get(body.model)
    neighbors_service.reference_of(model)  # a model without one is refused before image work
    prepared = service.prepare(body.image, body.pixels, settings, model.dataset)
    return neighbors_service.neighbors(model, prepared, body.k, started)


@router.get("/api/models/{name}/map", response_model=DataMap,
            responses=error_responses(404, 503), tags=["models"],
            summary="The data map: training images placed by their features (PCA)")
def data_map(name: str, registry: RegistryDep) -> dict:
    return neighbors_service.data_map(registry.get(name))


@router.get("/api/models/{name}/digits/{index}", response_model=ReferenceDigit,
            responses=error_responses(404, 422, 503), tags=["models"],
            summary="One of a model's reference images (its dataset's training set) by index")
def digit(name: str, index: Index, registry: RegistryDep) -> dict:
    return neighbors_service.digit(registry.get(name), index)
