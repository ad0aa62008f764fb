"""What the predict, models and samples routes answer, without web types (book ch. 7.5-7.6): a
drawing's prediction, every layer's output and all models side by side; a model's conv filters
and raw parameters; the shipped sample digits."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from model import inputs
from model.dataset_registry import DATASETS, Dataset, get_dataset
from model.functional import softmax
from model.inputs import Prepared, elapsed_ms, fit_input

from .ablation_service import Units, effect, switched_off
from .config import Settings
from .encoding import b64, encode_array, finite_range, float16_bytes, float32_bytes, float32_list
from .registry import LoadedModel, NotFoundError, Registry, name_list
from .render import filters_png


# ----- inputs ----------------------------------------------------------------------------------
def prepare(image: str | None, pixels: np.ndarray | list[float] | None,
            settings: Settings, dataset: Dataset) -> Prepared:
    """A request's drawing (data URL, prepared as ``dataset`` prepares drawings) or pixels →
    the 28×28 input, within the image limits. ``dataset`` has no default: a route that forgot
    it would prepare a garment as a digit."""
    return inputs.prepare(image, pixels, settings.max_image_pixels, settings.max_image_side,
                          dataset.preprocessing)


def prepare_bytes(data: bytes, settings: Settings, dataset: Dataset) -> Prepared:
    """An uploaded PNG/JPEG → the 28×28 input, within the image limits."""
    return inputs.prepare_bytes(data, settings.max_image_pixels, settings.max_image_side,
                                mode=dataset.preprocessing)


# ----- answers ---------------------------------------------------------------------------------
def _infer(model: LoadedModel, image: np.ndarray,
           keep: bool) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], float]:
    started = time.perf_counter()
    x = fit_input(image[None], model.net.input_shape)
    logits, outputs = model.net.forward(x, keep=keep)
    probs = softmax(logits)[0]
    return x, probs, outputs, elapsed_ms(started)


def predict(model: LoadedModel, prepared: Prepared, started: float,
            off: Units = ()) -> dict[str, Any]:
    """``started``: ``time.perf_counter()`` when the request's work began (for ``total``);
    ``off``: (layer, index) units switched off for this answer."""
    view, listed = switched_off(model, off)
    _, probs, _, inference = _infer(view, prepared.image, keep=False)
    return _with_effect(_answer(model, prepared, probs, inference, started), model, prepared,
                        probs, listed)


def _with_effect(answer: dict[str, Any], model: LoadedModel, prepared: Prepared,
                 probs: np.ndarray, listed: list[dict[str, Any]]) -> dict[str, Any]:
    answer["ablation"] = effect(model, prepared.image, probs, listed) if listed else None
    return answer


def _answer(model: LoadedModel, prepared: Prepared, probs: np.ndarray, inference: float,
            started: float) -> dict[str, Any]:
    label = int(np.argmax(probs))
    return {"model": model.name, "label": label, "class": model.classes[label],
            "probabilities": float32_list(probs), "input": prepared.rows,
            "timing_ms": {"preprocess": prepared.preprocess_ms, "inference": inference,
                          "total": elapsed_ms(started)}}


def activations(model: LoadedModel, prepared: Prepared, started: float,
                off: Units = (), wanted: Collection[str] | None = None) -> dict[str, Any]:
    """The prediction plus the input and every layer's output for this one image (with the
    units ``off`` switched off); ``wanted`` (from :func:`wanted_layers`): just these layers, in
    network order, each encoded exactly as in the full answer."""
    wanted = wanted_layers(model, None) if wanted is None else wanted
    view, listed = switched_off(model, off)
    x, probs, outputs, inference = _infer(view, prepared.image, keep=True)
    layers = [{"name": "input", "kind": "input", **encode_array(x[0])}] if "input" in wanted else []
    layers += [{"name": name, "kind": layer.kind, **encode_array(outputs[name][0])}
               for name, layer in model.net.layers if name in wanted]
    answer = {**_answer(model, prepared, probs, inference, started), "layers": layers}
    return _with_effect(answer, model, prepared, probs, listed)


def wanted_layers(model: LoadedModel, only: Sequence[str] | None) -> set[str]:
    """The layer names of an answer holding ``only`` these (None: every layer and ``input``);
    NotFoundError names the model's layers. Checked before any image is decoded."""
    names = ["input", *(name for name, _ in model.net.layers)]
    if only is None:
        return set(names)
    unknown = [name for name in only if name not in names]
    if unknown:
        raise NotFoundError(f"model {model.name!r} has no layer {unknown[0]!r}; layers: "
                            f"{name_list(names)}")
    return set(only)


def compare(registry: Registry, prepared: Prepared, dataset: str,
            off: Units = ()) -> dict[str, Any]:
    """The drawing through every loaded model trained on ``dataset``; the units ``off`` are
    switched off in each model that has them all."""
    off = list(off)
    results = []
    for model in registry.models.values():
        if model.dataset.name != dataset:
            continue
        try:
            view, listed = switched_off(model, off)
        except NotFoundError:
            view, listed = model, []
        _, probs, _, _ = _infer(view, prepared.image, keep=False)
        label = int(np.argmax(probs))
        results.append(_with_effect({"model": model.name, "label": label,
                                     "class": model.classes[label],
                                     "probabilities": float32_list(probs),
                                     "test_accuracy": model.test_accuracy,
                                     "param_count": model.net.param_count()},
                                    model, prepared, probs, listed))
    return {"dataset": dataset, "input": prepared.rows, "results": results}


# ----- weights ---------------------------------------------------------------------------------
def conv_weights(model: LoadedModel, layer: str | None, state: str) -> tuple[str, np.ndarray]:
    """``(layer, weights (F, C, KH, KW))`` of a conv layer (default: the first), trained or
    initial; NotFoundError says which layers or states exist."""
    convs = model.conv_layers
    if not convs:
        raise NotFoundError(f"model {model.name!r} has no convolution layers")
    layer = layer or convs[0]
    if layer not in convs:
        raise NotFoundError(f"model {model.name!r} has no convolution layer {layer!r}; "
                            f"convolution layers: {name_list(convs)}")
    key = f"{layer}.weight"
    if state == "trained":
        return layer, model.net.params[key]
    if key not in model.initial:
        stored = sorted(k.rsplit(".", 1)[0] for k in model.initial if k.endswith(".weight"))
        raise NotFoundError(f"model {model.name!r} stores no initial (untrained) weights for "
                            f"{layer!r}; initial weights exist for: {name_list(stored)}")
    return layer, model.initial[key]


def filters(model: LoadedModel, layer: str | None, state: str) -> dict[str, Any]:
    name, weights = conv_weights(model, layer, state)
    lo, hi = finite_range(weights)
    return {"model": model.name, "layer": name, "state": state, "shape": list(weights.shape),
            "min": lo, "max": hi, "encoding": "float32", "data": b64(float32_bytes(weights))}


def filters_image(model: LoadedModel, layer: str | None) -> tuple[str, bytes]:
    """``(layer, PNG)`` of a conv layer's filters: initial (when stored) beside trained."""
    name, trained = conv_weights(model, layer, "trained")
    panels = [(f"{name} trained", trained)]
    if f"{name}.weight" in model.initial:
        panels.insert(0, (f"{name} initial", model.initial[f"{name}.weight"]))
    return name, filters_png(panels)


def param(model: LoadedModel, key: str) -> dict[str, Any]:
    if key not in model.net.params:
        raise NotFoundError(f"model {model.name!r} has no parameter {key!r}; parameters: "
                            f"{name_list(model.net.params)}")
    values = model.net.params[key]
    lo, hi = finite_range(values)
    return {"model": model.name, "param": key, "shape": list(values.shape), "min": lo,
            "max": hi, "encoding": "float16", "data": b64(float16_bytes(values))}


# ----- datasets and samples --------------------------------------------------------------------
def dataset_named(name: str | None, registry: Registry) -> Dataset:
    """The dataset called ``name`` (None: the default model's); NotFoundError lists the names."""
    if name is None:
        return registry.get(None).dataset
    try:
        return get_dataset(name)
    except ValueError:
        raise NotFoundError(f"unknown dataset {name!r}; datasets: {name_list(DATASETS)}") from None


def datasets(registry: Registry) -> dict[str, Any]:
    """Every dataset with the loaded models trained on it."""
    models = list(registry.models.values())
    return {"default": registry.get(None).dataset.name,
            "datasets": [{**d.summary(),
                          "models": [m.name for m in models if m.dataset.name == d.name],
                          "default_model": registry.default_for(d.name)}
                         for d in DATASETS.values()]}


def samples(registry: Registry, dataset: Dataset) -> dict[str, Any]:
    s = registry.samples[dataset.name]
    return {"dataset": dataset.name,
            "samples": [{"index": int(i), "label": int(label), "class": dataset.classes[label],
                         "encoding": "uint8",
                         "data": b64(np.ascontiguousarray(img, dtype=np.uint8).tobytes())}
                        for img, label, i in zip(s["images"], s["labels"], s["indices"],
                                                 strict=True)]}
