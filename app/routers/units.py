"""What a unit means: its top test images with their receptive fields, its value distribution
and its ideal input, per unit or for a whole layer; and which units of a layer matter most for a
drawing (each switched off in turn). Issue 16."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Body

from .. import ablation_service, examples, service, units_service
from ..schemas import RankRequest, RankResponse, UnitDetail, UnitLayerResponse, error_responses
from .deps import JsonBody, RegistryDep, SettingsDep, check_target

router = APIRouter(prefix="/api", tags=["units"])
Ranking = Annotated[RankRequest, Body(openapi_examples=examples.RANK)]


@router.get("/models/{name}/units/{layer}", response_model=UnitLayerResponse,
            responses=error_responses(404, 503),
            summary="Every unit of a layer: its best test image and (where shipped) ideal input")
def layer_units(name: str, layer: str, registry: RegistryDep) -> dict:
    return units_service.layer_units(registry.get(name), layer)


@router.get("/models/{name}/units/{layer}/{index}", response_model=UnitDetail,
            responses=error_responses(404, 422, 503),
            summary="One unit: its 9 top test images, ideal input and value percentiles")
def unit(name: str, layer: str, index: int, registry: RegistryDep) -> dict:
    return units_service.unit(registry.get(name), layer, index)


@router.post("/units/rank", response_model=RankResponse,
             responses=error_responses(400, 404, 413, 415, 422, 503), dependencies=[JsonBody],
             summary="Which units of a layer matter most for a drawing: each switched off alone")
def rank(body: Ranking, registry: RegistryDep, settings: SettingsDep) -> dict:
    started = time.perf_counter()
    model = registry.get(body.model)
    ablation_service.check_unit(model, body.layer)  # an unknown layer is refused first
    check_target(model, body.target)
    prepared = service.prepare(body.image, body.pixels, settings, model.dataset)
    return ablation_service.rank(model, prepared, body.layer, body.target, started)
