"""Shared dependencies as ``Annotated`` aliases: the loaded models, the settings, and the
request content types each body-taking route insists on. They are ``async`` because they only
read the request and the app's state: a sync dependency would cost a worker-thread round trip."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from ..config import Settings
from ..registry import LoadedModel, Registry
from ..schemas import UnitRef
from ..security import is_json, media_type


async def get_registry(request: Request) -> Registry:
    registry = getattr(request.app.state, "registry", None)
    if registry is None:
        raise HTTPException(503, "the models are not loaded yet; retry in a moment",
                            headers={"Retry-After": "1"})
    return registry


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def _media_type(request: Request) -> str:
    return media_type(request.headers.get("content-type", ""))


async def require_json(request: Request) -> None:
    media = _media_type(request)
    if not is_json(media):
        raise HTTPException(415, f"send the body as JSON with Content-Type: application/json "
                                 f"(got {media or 'no content type'})")


async def require_multipart(request: Request) -> None:
    media = _media_type(request)
    if media != "multipart/form-data":
        raise HTTPException(415, f"upload the image as multipart/form-data with a 'file' field "
                                 f"(got {media or 'no content type'})")


RegistryDep = Annotated[Registry, Depends(get_registry)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
JsonBody = Depends(require_json)
MultipartBody = Depends(require_multipart)


def units_off(ablate: list[UnitRef] | None) -> list[tuple[str, int]]:
    """A request's ``ablate`` (issue 16) as the services take it: (layer, index) pairs."""
    return [(unit.layer, unit.index) for unit in ablate or []]


def check_target(model: LoadedModel, target: int | None) -> None:
    """422 unless ``target`` (None: the predicted class) indexes one of the model's classes: the
    schema only bounds it, since the class count is the model's dataset's."""
    if target is not None and target >= len(model.classes):
        raise HTTPException(422, f"target {target} is not a class of model {model.name!r}: it "
                                 f"has {len(model.classes)} classes, 0-{len(model.classes) - 1}")
