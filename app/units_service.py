"""What a unit means, without web types: its top test images with their receptive-field boxes
(Zeiler & Fergus 2014; Yosinski et al. 2015), where its values lie over the test set, and its
ideal input (activation maximisation, model/maximise.py): shipped, or computed on first ask."""

from __future__ import annotations

from typing import Any

import numpy as np

from model.inputs import drawing_window
from model.maximise import SOURCES
from model.preprocess import MNIST_SIDE
from model.receptive import receptive_span, whole_input
from model.testset import as_input, load_test_set
from model.units import TOP, ideal_from

from .encoding import b64, encode_array, float32_list, float32_value
from .registry import LoadedModel, NotFoundError, name_list
from .sprite import digits_png

SPRITE_COLUMNS = 16


def unit_stats(model: LoadedModel) -> dict[str, Any]:
    """The model's units file; NotFoundError says how to make it when there is none."""
    if model.units is None:
        raise NotFoundError(model.units_note)
    return model.units


def unit_layer(model: LoadedModel, layer: str) -> str:
    """``layer`` if the units file describes it; NotFoundError lists the layers it describes."""
    layers = unit_stats(model)["layers"]
    if layer not in layers:
        raise NotFoundError(f"model {model.name!r} has no unit layer {layer!r}; layers with "
                            f"units: {name_list(layers)}")
    return layer


def unit_index(model: LoadedModel, layer: str, index: int) -> int:
    """``index`` if ``layer`` has such a unit; NotFoundError gives the valid range."""
    count = int(model.net.shapes[unit_layer(model, layer)][0])
    if not 0 <= index < count:
        raise NotFoundError(f"layer {layer!r} of model {model.name!r} has {count} units "
                            f"(0-{count - 1}); there is no unit {index}")
    return index


def _offset(model: LoadedModel) -> tuple[int, int]:
    """Where the 28×28 digit sits in the network's input (fit_input centres it)."""
    _, h, w = model.net.input_shape
    return (h - MNIST_SIDE) // 2, (w - MNIST_SIDE) // 2


def box(model: LoadedModel, layer: str, position: np.ndarray | None) -> list[int]:
    """``[y0, x0, y1, x1]`` (ends exclusive) over the 28×28 digit: the receptive field of the
    channel's position, or the whole input for a dense unit; may reach past the border."""
    if position is None:
        y0, x0, y1, x1 = whole_input(model.net)
    else:
        y0, x0, y1, x1 = receptive_span(model.net, layer, int(position[0]), int(position[1]))
    top, left = _offset(model)
    return [y0 - top, x0 - left, y1 - top, x1 - left]


def _top(model: LoadedModel, layer: str, index: int, count: int,
         pixels: bool) -> list[dict[str, Any]]:
    units = unit_stats(model)
    split = load_test_set(str(units["dataset"]))
    positions = units.get(f"{layer}.top_position")
    entries = []
    for rank in range(count):
        test = int(units[f"{layer}.top_index"][index, rank])
        position = None if positions is None else positions[index, rank]
        entry = {"index": test, "label": int(split.labels[test]),
                 "score": float32_value(units[f"{layer}.top_score"][index, rank]),
                 "box": box(model, layer, position),
                 "position": None if position is None else [int(v) for v in position]}
        if pixels:
            entry["data"] = b64(np.ascontiguousarray(split.images[test]).tobytes())
        entries.append(entry)
    return entries


def shipped_from(units: dict[str, Any], layer: str, index: int) -> str:
    """Where a shipped ideal input came from (files made before this was recorded hold ascents
    from noise)."""
    sources = units.get(f"{layer}.optimal_from")
    return SOURCES[0 if sources is None else int(sources[index])]


def ideal_input(model: LoadedModel, layer: str,
                index: int) -> tuple[np.ndarray, float, str, str]:
    """``(image (28, 28), score, source, came_from)``: the shipped ideal input, or one computed
    now by the same seeded ascents as the shipped ones (from noise and from the unit's best test
    image, the best of those and that image kept); ``came_from`` is one of ``SOURCES``."""
    units = unit_stats(model)
    if layer in units["optimal_layers"]:
        image = units[f"{layer}.optimal"][index]
        return (drawing_window(image), float(units[f"{layer}.optimal_score"][index]), "shipped",
                shipped_from(units, layer, index))
    split = load_test_set(str(units["dataset"]))
    best = as_input(model.net, split.images[units[f"{layer}.top_index"][[index], 0]])
    images, scores, sources = ideal_from(model.net, units, layer, np.array([index]), best)
    return (drawing_window(images[0, 0]), float(scores[0]), "computed",
            SOURCES[int(sources[0])])


def _head(model: LoadedModel, layer: str) -> dict[str, Any]:
    units = unit_stats(model)
    found = dict(model.net.layers)[layer]
    return {"model": model.name, "layer": layer, "kind": found.kind,
            "count": int(model.net.shapes[layer][0]),
            "spatial": len(model.net.shapes[layer]) == 3, "dataset": str(units["dataset"]),
            "test_size": int(units["test_size"])}


def unit(model: LoadedModel, layer: str, index: int) -> dict[str, Any]:
    """One unit: its 9 top test digits (whole, with the receptive-field box of where it
    peaked), its ideal input and the percentiles of its score over the test set."""
    index = unit_index(model, layer, index)
    image, score, source, came_from = ideal_input(model, layer, index)
    quantiles = unit_stats(model)[f"{layer}.quantiles"][index]
    return {**_head(model, layer), "index": index,
            "top": _top(model, layer, index, TOP, pixels=True),
            "optimal": encode_array(image), "optimal_score": float32_value(score),
            "optimal_source": source, "optimal_from": came_from,
            "quantiles": float32_list(quantiles)}


def layer_units(model: LoadedModel, layer: str) -> dict[str, Any]:
    """Every unit of one layer for a grid: its best test digit (box, score; the digits
    themselves in one PNG sprite) and, where shipped, its ideal input."""
    layer = unit_layer(model, layer)
    units = unit_stats(model)
    head = _head(model, layer)
    shipped = layer in units["optimal_layers"]
    rows = []
    for index in range(head["count"]):
        row: dict[str, Any] = {"index": index, "top": _top(model, layer, index, 1, pixels=False),
                               "optimal": None, "optimal_score": None, "optimal_from": None}
        if shipped:
            row["optimal"] = encode_array(drawing_window(units[f"{layer}.optimal"][index]))
            row["optimal_score"] = float32_value(units[f"{layer}.optimal_score"][index])
            row["optimal_from"] = shipped_from(units, layer, index)
        rows.append(row)
    split = load_test_set(head["dataset"])
    best = split.images[units[f"{layer}.top_index"][:, 0]]
    sprite = {"encoding": "png", "columns": SPRITE_COLUMNS, "tile": MNIST_SIDE,
              "data": b64(digits_png(best, SPRITE_COLUMNS))}
    return {**head, "units": rows, "sprite": sprite}
