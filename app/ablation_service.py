"""Switching units off for one request (model/ablation.py) and saying how the prediction moved;
the batched "which units matter most" ranking. No web types: units come as (layer, index)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np

from model.ablation import ablated, rank_units
from model.functional import softmax
from model.inputs import Prepared, elapsed_ms, fit_input
from model.units import unit_layers

from .encoding import float32_list, float32_value
from .registry import LoadedModel, NotFoundError, name_list

Units = Iterable[tuple[str, int]]


def check_unit(model: LoadedModel, layer: str, index: int | None = None) -> None:
    """NotFoundError unless ``layer`` is a conv, pooling or dense layer of the model (and
    ``index`` one of its units): the message lists the valid layers or the index range."""
    layers = unit_layers(model.net)
    if layer not in layers:
        raise NotFoundError(f"model {model.name!r} has no unit layer {layer!r} to switch off or "
                            f"rank; layers with units: {name_list(layers)}")
    count = int(model.net.shapes[layer][0])
    if index is not None and not 0 <= index < count:
        raise NotFoundError(f"layer {layer!r} of model {model.name!r} has {count} units "
                            f"(0-{count - 1}); there is no unit {index}")


def switched_off(model: LoadedModel, units: Units) -> tuple[LoadedModel, list[dict[str, Any]]]:
    """The model with ``units`` off (a view: the shared network is untouched) and the units as
    answered, duplicates removed; the model itself when there are none."""
    off: dict[str, list[int]] = {}
    listed: list[dict[str, Any]] = []
    for layer, index in units:
        check_unit(model, layer, index)
        if index not in off.setdefault(layer, []):
            off[layer].append(index)
            listed.append({"layer": layer, "index": index})
    if not listed:
        return model, []
    return replace(model, net=ablated(model.net, off)), listed


def effect(model: LoadedModel, image: np.ndarray, probabilities: np.ndarray,
           listed: list[dict[str, Any]]) -> dict[str, Any]:
    """How the prediction moved from ``model`` (every unit on) to ``probabilities`` (units off)."""
    logits, _ = model.net.forward(fit_input(image[None], model.net.input_shape))
    before = softmax(logits)[0]
    label = int(np.argmax(before))
    return {"units": listed, "original_label": label,
            "original_probabilities": float32_list(before),
            "label_changed": bool(int(np.argmax(probabilities)) != label),
            "drop": float32_value(before[label] - probabilities[label])}


def rank(model: LoadedModel, prepared: Prepared, layer: str, target: int | None,
         started: float) -> dict[str, Any]:
    """Every unit of ``layer`` switched off alone, in one batch: the target digit's probability
    without it and the drop, largest first (ties: lower index first)."""
    check_unit(model, layer)
    begun = time.perf_counter()
    x = fit_input(prepared.image[None], model.net.input_shape)
    found = rank_units(model.net, x, layer, target)
    inference = elapsed_ms(begun)
    target = int(found["target"])
    order = sorted(range(len(found["drop"])), key=lambda u: (-found["drop"][u], u))
    probs = found["probabilities"]
    return {"model": model.name, "layer": layer, "label": int(np.argmax(probs)),
            "probabilities": float32_list(probs), "target": target,
            "units": [{"index": u, "probability": float32_value(found["without"][u, target]),
                       "drop": float32_value(found["drop"][u])} for u in order],
            "timing_ms": {"preprocess": prepared.preprocess_ms, "inference": inference,
                          "total": elapsed_ms(started)}}
