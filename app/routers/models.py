"""The loaded networks: architecture, training record, conv filters and raw weights."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from .. import service
from ..schemas import FiltersResponse, ModelDetail, ModelList, ParamResponse, error_responses
from .deps import RegistryDep

router = APIRouter(prefix="/api/models", tags=["models"])

LayerQuery = Annotated[str | None, Query(
    min_length=1, max_length=100,
    description="A convolution layer's name, e.g. `conv1`; default: the first conv layer.")]
StateQuery = Annotated[Literal["trained", "initial"], Query(
    description="`trained` weights, or the `initial` (random) ones saved before training.")]


@router.get("", response_model=ModelList, responses=error_responses(503),
            summary="Every loaded model with its architecture")
def list_models(registry: RegistryDep) -> dict:
    return {"default": registry.default,
            "models": [m.summary() for m in registry.models.values()]}


@router.get("/{name}", response_model=ModelDetail, responses=error_responses(404, 503),
            summary="One model with its training record and test metrics")
def get_model(name: str, registry: RegistryDep) -> dict:
    return registry.get(name).detail()


@router.get("/{name}/filters", response_model=FiltersResponse,
            responses=error_responses(404, 422, 503),
            summary="A conv layer's weights (F, C, KH, KW) as base64 float32")
def get_filters(name: str, registry: RegistryDep, layer: LayerQuery = None,
                state: StateQuery = "trained") -> dict:
    return service.filters(registry.get(name), layer, state)


@router.get("/{name}/filters.png", response_class=Response,
            responses={200: {"content": {"image/png": {}},
                             "description": "initial and trained filters side by side"},
                       **error_responses(404, 422, 503)},
            summary="A PNG of a conv layer's filters, initial beside trained")
def get_filters_png(name: str, registry: RegistryDep, layer: LayerQuery = None) -> Response:
    _, png = service.filters_image(registry.get(name), layer)
    return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=3600"})


@router.get("/{name}/params/{param}", response_model=ParamResponse,
            responses=error_responses(404, 503),
            summary="One parameter array (e.g. conv1.weight, fc1.weight) as base64 float16")
def get_param(name: str, param: str, registry: RegistryDep) -> dict:
    return service.param(registry.get(name), param)
