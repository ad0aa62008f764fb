"""Startup: every shipped model loaded (app/registry.py) and its ``GET /api/models/{name}``
answer checked against the response schema, so a malformed manifest stops startup with one
message instead of failing requests later."""

from __future__ import annotations

from pydantic import ValidationError

from .config import Settings
from .registry import LoadedModel, Registry, StartupError, load_models
from .schemas import ModelDetail


def check_detail(model: LoadedModel) -> None:
    """StartupError naming the first field of the manifest that the answer cannot carry."""
    try:
        ModelDetail.model_validate(model.detail())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise StartupError(f"{model.path}: malformed manifest: {where}: {first['msg']}") from None


def load_registry(settings: Settings) -> Registry:
    """Every model in the weights directory, loaded and checked, or one StartupError."""
    return load_models(settings, check=check_detail)
