"""Where a drawing stands among the digits the network learnt from, without web types: its nearest
training digits in the features the output layer reads, its place on the data map (PCA), and
whether it looks like any digit at all (k-th neighbour distance; Sun et al. 2022)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from model.features import with_logits
from model.functional import softmax
from model.inputs import Prepared, elapsed_ms, fit_input
from model.reference import Reference, reference_images

from .encoding import b64, float32_list, float32_value
from .registry import LoadedModel, NotFoundError

DISTANCE_DECIMALS = 4


def reference_of(model: LoadedModel) -> Reference:
    """The model's reference set, or NotFoundError saying how to make it."""
    if model.reference is None:
        raise NotFoundError(model.reference_note or f"model {model.name!r} has no reference set")
    return model.reference


def _digit(images: np.ndarray, index: int) -> str:
    return b64(np.ascontiguousarray(images[index], dtype=np.uint8).tobytes())


def neighbors(model: LoadedModel, prepared: Prepared, k: int, started: float) -> dict[str, Any]:
    """The ``k`` nearest reference digits of a drawing, its map position and atypicality."""
    reference = reference_of(model)
    images, labels = reference_images(reference.dataset)
    begun = time.perf_counter()
    feats, logits = with_logits(model.net, fit_input(prepared.image[None], model.net.input_shape))
    point = reference.locate(feats[0])
    found, distances = reference.nearest(point, max(k, reference.rank))
    inference = elapsed_ms(begun)
    score = float(distances[reference.rank - 1])
    probs = softmax(logits)[0]
    return {"model": model.name, "layer": reference.layer, "label": int(np.argmax(probs)),
            "probabilities": float32_list(probs),
            "neighbors": [{"index": int(i), "label": int(labels[i]),
                           "distance": round(float(d), DISTANCE_DECIMALS),
                           "position": float32_list(reference.points[i, :2]), "encoding": "uint8",
                           "data": _digit(images, int(i))}
                          for i, d in zip(found[:k], distances[:k], strict=True)],
            "position": float32_list(reference.position(feats[0])),
            "atypicality": float32_value(score), "rank": reference.rank,
            "atypical": bool(score > reference.threshold),
            "threshold": float32_value(reference.threshold),
            "timing_ms": {"preprocess": prepared.preprocess_ms, "inference": inference,
                          "total": elapsed_ms(started)}}


def data_map(model: LoadedModel) -> dict[str, Any]:
    """The map's points (first two principal coordinates), their digits and reference indices."""
    reference = reference_of(model)
    points = reference.map_points().astype("<f2")
    return {"model": model.name, "layer": reference.layer, "method": "pca",
            "count": len(reference.map_indices), "reference_size": len(reference),
            "points": b64(np.ascontiguousarray(points).tobytes()),
            "labels": b64(reference.labels[reference.map_indices].tobytes()),
            "indices": b64(reference.map_indices.astype("<i4").tobytes())}


def digit(model: LoadedModel, index: int) -> dict[str, Any]:
    """One reference digit by its index (what the map shows under the pointer)."""
    reference = reference_of(model)
    if not 0 <= index < len(reference):
        raise NotFoundError(f"model {model.name!r}'s reference set has {len(reference)} images "
                            f"(0-{len(reference) - 1}); there is no image {index}")
    images, labels = reference_images(reference.dataset)
    return {"model": model.name, "index": index, "label": int(labels[index]),
            "encoding": "uint8", "data": _digit(images, index)}
