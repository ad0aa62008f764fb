"""The datasets cnnvis knows (model/datasets.py) and the loaded models trained on each."""

from __future__ import annotations

from fastapi import APIRouter

from .. import service
from ..schemas import DatasetList, error_responses
from .deps import RegistryDep

router = APIRouter(prefix="/api", tags=["datasets"])


@router.get("/datasets", response_model=DatasetList, responses=error_responses(503),
            summary="Every dataset: class names, preprocessing, credit and its models")
def list_datasets(registry: RegistryDep) -> dict:
    return service.datasets(registry)
