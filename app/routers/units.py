"""What a unit means: its top test images with their receptive fields, its value distribution
and its ideal input, per unit or for a whole layer (issue 16)."""

from __future__ import annotations

from fastapi import APIRouter

from .. import units_service
from ..schemas import UnitDetail, UnitLayerResponse, error_responses
from .deps import RegistryDep

router = APIRouter(prefix="/api/models", tags=["units"])


@router.get("/{name}/units/{layer}", response_model=UnitLayerResponse,
            responses=error_responses(404, 503),
            summary="Every unit of a layer: its best test digit and (where shipped) ideal input")
def layer_units(name: str, layer: str, registry: RegistryDep) -> dict:
    return units_service.layer_units(registry.get(name), layer)


@router.get("/{name}/units/{layer}/{index}", response_model=UnitDetail,
            responses=error_responses(404, 422, 503),
            summary="One unit: its 9 top test digits, ideal input and value percentiles")
def unit(name: str, layer: str, index: int, registry: RegistryDep) -> dict:
    return units_service.unit(registry.get(name), layer, index)
