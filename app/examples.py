"""The request examples the OpenAPI schema shows beside app/schemas.py's bodies, made from a
shipped sample digit once, when FastAPI first builds the schema (at startup), not at import."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from functools import cache, cached_property
from typing import Any

import numpy as np
from PIL import Image

from model.data import SAMPLE_PATH, load_sample

from .encoding import b64

Example = dict[str, Any]


class Examples(Mapping[str, Example]):
    """OpenAPI examples by name, made by ``make`` on first use: FastAPI reads them only while
    building the schema, so importing the routers reads no file."""

    def __init__(self, make: Callable[[], dict[str, Example]]) -> None:
        self._make = make

    @cached_property
    def _examples(self) -> dict[str, Example]:
        return self._make()

    def __getitem__(self, key: str) -> Example:
        return self._examples[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._examples)

    def __len__(self) -> int:
        return len(self._examples)


@cache
def drawing_examples(index: int = 0) -> dict[str, Example]:
    """A shipped sample digit as a canvas-like PNG data URL (dark ink on white) and as the same
    digit's 28×28 pixels."""
    digit = load_sample(SAMPLE_PATH)["images"][index]
    buffer = io.BytesIO()
    Image.fromarray(255 - digit).resize((112, 112), Image.Resampling.BILINEAR).save(buffer, "PNG")
    url = "data:image/png;base64," + b64(buffer.getvalue())
    rows = np.round(digit / 255.0, 3).tolist()
    return {"drawing": {"summary": "a PNG data URL, as canvas.toDataURL() gives",
                        "value": {"image": url}},
            "pixels": {"summary": "28×28 MNIST-like pixels (ink = 1)", "value": {"pixels": rows}}}


def with_pixels(**variants: dict[str, Any]) -> Examples:
    """Each variant's fields added to the sample digit's pixels, summarised by those fields."""
    def make() -> dict[str, Example]:
        pixels = drawing_examples()["pixels"]["value"]
        return {key: {"summary": ", ".join(f"{k} = {v}" for k, v in fields.items()) or "defaults",
                      "value": {**pixels, **fields}} for key, fields in variants.items()}
    return Examples(make)


DRAWING = Examples(drawing_examples)
IMAGE_ONLY = Examples(lambda: {"drawing": drawing_examples()["drawing"]})
EXPLAIN = with_pixels(saliency={"method": "saliency"}, gradcam={"method": "gradcam", "target": 3},
                      occlusion={"method": "occlusion", "patch": 6, "stride": 2})
IM2COL = with_pixels(conv={"layer": "conv1"}, pool={"layer": "pool1"})
ROBUSTNESS = with_pixels(identity={}, moved={"dx": 3.0, "dy": -2.0, "angle": 15.0,
                                             "scale": 0.8, "thickness": 1})
UNIT = with_pixels(conv={"layer": "conv1", "index": 300}, dense={"layer": "fc1", "index": 7})
RUN = Examples(lambda: {
    "quick": {"summary": "a quick run: 2,000 images, one epoch (a few seconds)",
              "value": {"arch": "simple_convnet", "epochs": 1, "train_size": 2000}},
    "full": {"summary": "every field, with its default",
             "value": {"arch": "simple_convnet", "epochs": 1, "batch_size": 100,
                       "optimizer": "adam", "lr": 0.001, "train_size": 55000,
                       "augment": False, "seed": 0}}})
RUN_DRAWING = with_pixels(start={"step": 0}, later={"step": 100})
NEIGHBORS = with_pixels(nine={}, fifty={"k": 50})
RANK = with_pixels(channels={"layer": "conv1"}, dense={"layer": "fc1", "target": 3})
COUNTERFACTUAL = with_pixels(eight={"target": 8}, add_ink={"target": 8, "add_only": True},
                             tight={"target": 3, "epsilon": 0.1})
