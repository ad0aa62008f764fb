"""The smallest change that flips the answer: a drawing changed, as little as a targeted
gradient walk finds, until the network reads it as another class."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Body

from .. import counterfactual_service, examples, service
from ..schemas import CounterfactualRequest, CounterfactualResponse, error_responses
from .deps import JsonBody, RegistryDep, SettingsDep, check_target

router = APIRouter(prefix="/api", tags=["explain"])
Request = Annotated[CounterfactualRequest, Body(openapi_examples=examples.COUNTERFACTUAL)]


@router.post("/counterfactual", response_model=CounterfactualResponse,
             responses=error_responses(400, 404, 413, 415, 422, 503), dependencies=[JsonBody],
             summary="The least change (targeted PGD, bounded steps) that makes the network read "
                     "a drawing as another class")
def counterfactual(body: Request, registry: RegistryDep, settings: SettingsDep) -> dict:
    started = time.perf_counter()
    model = registry.get(body.model)
    check_target(model, body.target)
    prepared = service.prepare(body.image, body.pixels, settings, model.dataset)
    return counterfactual_service.flip(model, prepared, body.target, body.epsilon,
                                       body.add_only, body.seed, started)
