"""Classify a drawing: prediction, per-layer activations, and every model side by side."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Body, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from .. import examples, service
from ..answers import JsonAnswer
from ..config import Settings
from ..registry import LoadedModel
from ..schemas import (
    ActivationsRequest,
    ActivationsResponse,
    CompareRequest,
    CompareResponse,
    PredictRequest,
    PredictResponse,
    error_responses,
)
from .deps import JsonBody, MultipartBody, RegistryDep, SettingsDep, units_off

router = APIRouter(prefix="/api", tags=["predict"])
BODY_ERRORS = error_responses(400, 404, 413, 415, 422, 503)
Drawing = Annotated[PredictRequest, Body(openapi_examples=examples.DRAWING)]
LayerDrawing = Annotated[ActivationsRequest, Body(openapi_examples=examples.DRAWING)]
Drawings = Annotated[CompareRequest, Body(openapi_examples=examples.DRAWING)]


@router.post("/predict", response_model=PredictResponse, responses=BODY_ERRORS,
             dependencies=[JsonBody], summary="Classify a drawing (data URL) or 28×28 pixels")
async def predict(body: Drawing, registry: RegistryDep, settings: SettingsDep) -> JsonAnswer:
    # async so that a fast model's prediction from pixels runs right here on the event loop,
    # the one place a thread round trip would cost more than the work (``inline_ms``); images
    # to decode and slower models go to the thread pool like every ``def`` route. (A comment,
    # not a docstring: FastAPI would publish a docstring as the operation's description.)
    started = time.perf_counter()
    model = registry.get(body.model)
    if body.pixels is not None and model.forward_ms < settings.inline_ms:
        return _predict(model, body, settings, started)
    return await run_in_threadpool(_predict, model, body, settings, started)


def _predict(model: LoadedModel, body: PredictRequest, settings: Settings,
             started: float) -> JsonAnswer:
    prepared = service.prepare(body.image, body.pixels, settings, model.dataset)
    return JsonAnswer(service.predict(model, prepared, started, units_off(body.ablate)))


@router.post("/predict/file", response_model=PredictResponse, responses=BODY_ERRORS,
             dependencies=[MultipartBody], summary="Classify an uploaded PNG or JPEG file")
def predict_file(file: Annotated[UploadFile, File(description="a PNG or JPEG image")],
                 registry: RegistryDep, settings: SettingsDep,
                 model: Annotated[str | None, Form(
                     min_length=1, max_length=100,
                     description="a loaded model's name; default: the default model")] = None,
                 ) -> JsonAnswer:
    started = time.perf_counter()
    chosen = registry.get(model)
    prepared = service.prepare_bytes(file.file.read(), settings, chosen.dataset)
    return JsonAnswer(service.predict(chosen, prepared, started))


@router.post("/activations", response_model=ActivationsResponse, responses=BODY_ERRORS,
             dependencies=[JsonBody],
             summary="The prediction plus every layer's output (uint8-quantised, base64)")
def activations(body: LayerDrawing, registry: RegistryDep, settings: SettingsDep) -> JsonAnswer:
    started = time.perf_counter()
    model = registry.get(body.model)
    wanted = service.wanted_layers(model, body.layers)
    prepared = service.prepare(body.image, body.pixels, settings, model.dataset)
    return JsonAnswer(service.activations(model, prepared, started, units_off(body.ablate),
                                          wanted))


@router.post("/compare", response_model=CompareResponse,
             responses=error_responses(400, 404, 413, 415, 422, 503), dependencies=[JsonBody],
             summary="The same drawing through every loaded model of one dataset")
def compare(body: Drawings, registry: RegistryDep, settings: SettingsDep) -> JsonAnswer:
    dataset = service.dataset_named(body.dataset, registry)
    prepared = service.prepare(body.image, body.pixels, settings, dataset)
    return JsonAnswer(service.compare(registry, prepared, dataset.name, units_off(body.ablate)))
