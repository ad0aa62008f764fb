"""Explain and teach: why the network decided (saliency, Grad-CAM, occlusion), im2col and pooling
as matrices, one unit's exact arithmetic, robustness probes, the preprocessing steps, and each
model's test-set mistakes."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException

from .. import examples, explain_service, service
from ..schemas import (
    ERROR_DESCRIPTIONS,
    ErrorResponse,
    ExplainRequest,
    ExplainResponse,
    Im2colRequest,
    Im2colResponse,
    MisclassifiedResponse,
    PreprocessRequest,
    PreprocessResponse,
    RobustnessRequest,
    RobustnessResponse,
    UnitRequest,
    UnitResponse,
    error_responses,
)
from .deps import JsonBody, RegistryDep, SettingsDep, check_target, units_off

router = APIRouter(prefix="/api", tags=["explain"])
BODY_ERRORS = error_responses(400, 404, 413, 415, 422, 503)
IM2COL_ERRORS = {**BODY_ERRORS, 422: {
    "model": ErrorResponse,
    "description": ERROR_DESCRIPTIONS[422] + "; or the layer's matrices are larger than this "
                   f"endpoint returns ({explain_service.MAX_MATRIX_VALUES:,} values)"}}
Explanation = Annotated[ExplainRequest, Body(openapi_examples=examples.EXPLAIN)]
Im2col = Annotated[Im2colRequest, Body(openapi_examples=examples.IM2COL)]
Probe = Annotated[RobustnessRequest, Body(openapi_examples=examples.ROBUSTNESS)]
Drawing = Annotated[PreprocessRequest, Body(openapi_examples=examples.IMAGE_ONLY)]
Unit = Annotated[UnitRequest, Body(openapi_examples=examples.UNIT)]


@router.post("/explain", response_model=ExplainResponse, responses=BODY_ERRORS,
             dependencies=[JsonBody],
             summary="Why did it say that? A saliency, Grad-CAM or occlusion map of a drawing")
def explain(body: Explanation, registry: RegistryDep, settings: SettingsDep) -> dict:
    started = time.perf_counter()
    model = registry.get(body.model)
    check_target(model, body.target)
    options = body.model_dump(include={"layer", "patch", "stride"})  # those of this method
    if body.method == "gradcam":
        explain_service.cam_layer(model, body.layer)  # an unknown layer is refused first
    prepared = service.prepare(body.image, body.pixels, settings, model.dataset)
    return explain_service.explain(model, prepared, body.method, body.target, started, **options,
                                   off=units_off(body.ablate))


@router.post("/im2col", response_model=Im2colResponse, responses=IM2COL_ERRORS,
             dependencies=[JsonBody],
             summary="A conv layer as one matrix product (im2col), or a pooling layer's windows")
def im2col(body: Im2col, registry: RegistryDep, settings: SettingsDep) -> dict:
    started = time.perf_counter()
    model = registry.get(body.model)
    try:
        explain_service.im2col_layer(model, body.layer)  # before any image work
    except explain_service.TooLargeError as exc:
        raise HTTPException(422, str(exc)) from None
    prepared = service.prepare(body.image, body.pixels, settings, model.dataset)
    return explain_service.im2col(model, prepared, body.layer, started)


@router.post("/unit", response_model=UnitResponse, responses=BODY_ERRORS,
             dependencies=[JsonBody],
             summary="One unit's exact inputs, weights, sum and output for a drawing")
def unit(body: Unit, registry: RegistryDep, settings: SettingsDep) -> dict:
    started = time.perf_counter()
    model = registry.get(body.model)
    prepared = service.prepare(body.image, body.pixels, settings, model.dataset)
    return explain_service.unit(model, prepared, body.layer, body.index, started)


@router.post("/robustness", response_model=RobustnessResponse, responses=BODY_ERRORS,
             dependencies=[JsonBody],
             summary="The drawing shifted, rotated, scaled or thickened, and its shift curve")
def robustness(body: Probe, registry: RegistryDep, settings: SettingsDep) -> dict:
    started = time.perf_counter()
    model = registry.get(body.model)
    check_target(model, body.target)
    prepared = service.prepare(body.image, body.pixels, settings, model.dataset)
    return explain_service.robustness(model, prepared, body.target, body.dx, body.dy,
                                      body.angle, body.scale, body.thickness, started)


@router.post("/preprocess", response_model=PreprocessResponse,
             responses=error_responses(400, 404, 413, 415, 422, 503), dependencies=[JsonBody],
             summary="Each step from a drawn image to the network's 28×28 input")
def preprocess(body: Drawing, registry: RegistryDep, settings: SettingsDep) -> dict:
    dataset = service.dataset_named(body.dataset, registry)
    return explain_service.preprocess_steps(body.image, settings, dataset.preprocessing)


@router.get("/models/{name}/misclassified", response_model=MisclassifiedResponse,
            responses=error_responses(404, 503), tags=["models"],
            summary="The test images a model gets wrong (its dataset's test set), most "
                    "confident mistakes first")
def misclassified(name: str, registry: RegistryDep) -> dict:
    return explain_service.misclassified(registry.get(name))
