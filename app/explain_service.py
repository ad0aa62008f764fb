"""The "explain and teach" answers without web types: attributions from the network's own backward
pass (Simonyan 2014, Selvaraju 2017, Zeiler & Fergus 2014), the im2col and pooling matrices of
one input (Saito ch. 7.4), one unit exactly, robustness probes, preprocessing and mistakes."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from model.explain import (
    conv_matrices,
    default_cam_layer,
    gradcam,
    occlusion,
    pool_matrices,
    probe_robustness,
    saliency,
)
from model.functional import pad_hw
from model.inputs import (
    Prepared,
    decode_data_url,
    drawing_window,
    elapsed_ms,
    fit_input,
    round_input,
)
from model.layers import Affine, Convolution, MaxPooling, Pooling
from model.misclassified import TEST_SET_SIZE
from model.preprocess import centre_of_mass, preprocess_array, read_gray, resize

from .ablation_service import Units, effect, switched_off
from .config import Settings
from .encoding import b64, encode_array, encode_bytes, float32_list, float32_value
from .registry import LoadedModel, NotFoundError, name_list

# The im2col answer's arrays together hold at most this many values: about 2 MB of base64 uint8.
MAX_MATRIX_VALUES = 1_500_000
# Pooling winners are sent as one byte per window, so a window has at most 256 positions.
MAX_POOL_WINDOW = 16
DISPLAY_SIDE = 140


class TooLargeError(ValueError):
    """The answer asked for would be larger than this API returns; the message says why."""


def _input(model: LoadedModel, prepared: Prepared) -> np.ndarray:
    return fit_input(prepared.image[None], model.net.input_shape)  # (1, C, H, W)


def _timing(prepared: Prepared, inference: float, started: float) -> dict[str, float]:
    return {"preprocess": prepared.preprocess_ms, "inference": inference,
            "total": elapsed_ms(started)}


# ----- why did it say that? -------------------------------------------------------------------
def feature_map_layers(model: LoadedModel) -> list[str]:
    return [name for name, _ in model.net.layers if len(model.net.shapes[name]) == 3]


def cam_layer(model: LoadedModel, layer: str | None) -> str:
    """The Grad-CAM layer asked for (default: the last conv's activation); NotFoundError lists
    the layers with feature maps when it is not one of them."""
    choices = feature_map_layers(model)
    if not choices:
        raise NotFoundError(f"model {model.name!r} has no layers with feature maps for Grad-CAM")
    if layer is None:
        return default_cam_layer(model.net)
    if layer not in choices:
        raise NotFoundError(f"model {model.name!r} has no layer with feature maps called "
                            f"{layer!r}; Grad-CAM layers: {name_list(choices)}")
    return layer


def explain(model: LoadedModel, prepared: Prepared, method: str, target: int | None,
            started: float, layer: str | None = None, patch: int = 6,
            stride: int = 2, off: Units = ()) -> dict[str, Any]:
    """One attribution map for one drawing, 28×28 over the input the person sees (through the
    network with the units ``off`` switched off)."""
    original = model
    model, listed = switched_off(model, off)
    net = model.net
    name = cam_layer(model, layer) if method == "gradcam" else None
    begun = time.perf_counter()
    x = _input(model, prepared)
    probs = net.predict(x)[0]
    target = int(np.argmax(probs)) if target is None else int(target)
    answer: dict[str, Any] = {"layer": None, "patch": None, "stride": None, "coarse": None,
                              "channel_weights": None, "gradient": None, "map_range": [0.0, 1.0]}
    if method == "saliency":
        result = saliency(net, x, target)
        answer["gradient"] = encode_array(drawing_window(result["gradient"][0]))
    elif method == "gradcam":
        result = gradcam(net, x, target, name)
        answer.update(layer=name, coarse=encode_array(result["coarse"]),
                      channel_weights=float32_list(result["weights"]))
    elif method == "occlusion":
        result = occlusion(net, x, target, patch=patch, stride=stride)
        answer.update(patch=patch, stride=stride, coarse=encode_array(result["grid"]),
                      map_range=[-1.0, 1.0])
    else:
        raise ValueError(f"unknown method {method!r}")
    inference = elapsed_ms(begun)
    if listed:
        answer["ablation"] = effect(original, prepared.image, probs, listed)
    label = int(np.argmax(probs))
    return {"model": model.name, "label": label, "class": model.classes[label],
            "probabilities": float32_list(probs), "method": method, "target": target,
            "target_probability": float32_value(probs[target]),
            "map": encode_array(drawing_window(result["map"])), **answer,
            "timing_ms": _timing(prepared, inference, started)}


# ----- im2col made visible --------------------------------------------------------------------
def matrix_layers(model: LoadedModel) -> list[str]:
    return [name for name, layer in model.net.layers if isinstance(layer, (Convolution, Pooling))]


def _matrix_values(model: LoadedModel, name: str) -> int:
    """How many values the im2col answer for layer ``name`` holds, from the shapes alone."""
    net = model.net
    names = [n for n, _ in net.layers]
    i = names.index(name)
    c, h, w = net.input_shape if i == 0 else net.shapes[names[i - 1]]
    f, oh, ow = net.shapes[name]
    layer = dict(net.layers)[name]
    if isinstance(layer, Convolution):
        k = layer.kernel_size
        return c * h * w + oh * ow * c * k * k + f * c * k * k + f + 2 * f * oh * ow
    k = layer.pool_size
    return 2 * c * h * w + c * oh * ow * (k * k + 2)


def im2col_layer(model: LoadedModel, layer: str | None) -> str:
    """The layer asked for (default: the first convolution), checked to be a convolution or
    pooling layer whose matrices fit the answer; NotFoundError / TooLargeError say why not."""
    choices = matrix_layers(model)
    if not choices:
        raise NotFoundError(f"model {model.name!r} has no convolution or pooling layers")
    if layer is None:
        layer = next((n for n in choices if isinstance(dict(model.net.layers)[n], Convolution)),
                     choices[0])
    if layer not in choices:
        raise NotFoundError(f"model {model.name!r} has no convolution or pooling layer "
                            f"{layer!r}; convolution and pooling layers: {name_list(choices)}")
    found = dict(model.net.layers)[layer]
    if isinstance(found, Pooling) and found.pool_size > MAX_POOL_WINDOW:
        raise TooLargeError(f"{layer} pools {found.pool_size}×{found.pool_size} windows; the "
                            f"matrix view shows windows of at most {MAX_POOL_WINDOW}×"
                            f"{MAX_POOL_WINDOW}")
    values = _matrix_values(model, layer)
    if values > MAX_MATRIX_VALUES:
        raise TooLargeError(f"the matrices of {layer} hold {values:,} values; this endpoint "
                            f"returns at most {MAX_MATRIX_VALUES:,} (about 2 MB)")
    return layer


def im2col(model: LoadedModel, prepared: Prepared, layer: str | None,
           started: float) -> dict[str, Any]:
    """The book's matrices for one conv layer (cols @ weightᵀ + bias = product → output) or one
    pooling layer (window rows, their argmax and the winner map) on this drawing."""
    name = im2col_layer(model, layer)
    begun = time.perf_counter()
    x = _input(model, prepared)
    probs = model.net.predict(x)[0]
    found = dict(model.net.layers)[name]
    conv = pool = None
    if isinstance(found, Convolution):
        m = conv_matrices(model.net, x, name)
        conv = {"cols": encode_array(m["cols"]), "weight": encode_array(m["weight"]),
                "bias": encode_array(m["bias"]), "product": encode_array(m["product"])}
        kernel = m["kernel"]
    else:
        m = pool_matrices(model.net, x, name)
        winners = isinstance(found, MaxPooling)
        pool = {"windows": encode_array(m["windows"]),
                "argmax": encode_bytes(m["argmax"]) if winners else None,
                "winners": encode_bytes(m["winners"]) if winners else None}
        kernel = m["pool"]
    inference = elapsed_ms(begun)
    return {"model": model.name, "label": int(np.argmax(probs)),
            "probabilities": float32_list(probs), "layer": name, "kind": found.kind,
            "kernel": int(kernel), "stride": int(m["stride"]), "pad": int(m["pad"]),
            "input": encode_array(m["input"]), "output": encode_array(m["output"]),
            "conv": conv, "pool": pool, "timing_ms": _timing(prepared, inference, started)}


# ----- one unit, exactly ------------------------------------------------------------------------
# Layers whose output keeps the unit's place: the activations merged after a layer on the page.
ELEMENTWISE_ROLES = ("activation", "normalisation", "identity")


def _unit_window(layer: Convolution | Pooling, prev: np.ndarray, coords: tuple[int, ...]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The window an output unit at (·, oy, ox) reads from its input (C, H, W): values (C, K, K)
    with padding as 0, and a mask (K, K) of the cells outside the map (the padding)."""
    k = layer.kernel_size if isinstance(layer, Convolution) else layer.pool_size
    _, oy, ox = coords
    _, h, w = prev.shape
    rows = oy * layer.stride - layer.pad + np.arange(k)
    cols = ox * layer.stride - layer.pad + np.arange(k)
    outside = ~(((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None, :])
    y0, x0 = oy * layer.stride, ox * layer.stride
    padded = pad_hw(prev[None], layer.pad)[0]  # (C, H + 2·pad, W + 2·pad), zeros outside
    return padded[:, y0:y0 + k, x0:x0 + k], outside


def unit(model: LoadedModel, prepared: Prepared, layer: str, index: int,
         started: float) -> dict[str, Any]:
    """What one unit of one layer reads and computes for this drawing, in float32 from the
    layer-by-layer pass (Saito ch. 7.2): a conv unit's window and kernel, a dense unit's whole
    input and weight column, a pooling window, or an activation's input; Σ w·x, the bias, the
    layer's own output for the unit, and the unit's value after each activation that follows."""
    net = model.net
    names = [name for name, _ in net.layers]
    if layer not in names:
        raise NotFoundError(f"model {model.name!r} has no layer {layer!r}; layers: "
                            f"{name_list(names)}")
    at = names.index(layer)
    found = net.layers[at][1]
    shape = net.shapes[layer]
    size = int(np.prod(shape))
    if index >= size:
        raise NotFoundError(f"layer {layer!r} has {size} units (0-{size - 1}); there is no unit "
                            f"{index}")
    begun = time.perf_counter()
    x = _input(model, prepared)
    logits, outputs = net.forward(x, keep=True)
    inference = elapsed_ms(begun)
    reads = names[at - 1] if at else "input"
    prev = (outputs[reads] if at else x)[0]  # the layer's input for this one image
    coords = tuple(int(i) for i in np.unravel_index(index, shape))
    output = outputs[layer][0].reshape(-1)[index]
    params = net.layer_params(layer)
    answer: dict[str, Any] = {
        "model": model.name, "label": int(np.argmax(logits[0])),
        "layer": layer, "kind": found.kind, "role": found.role, "index": index,
        "coords": list(coords), "reads": reads, "input_shape": [], "inputs": [],
        "padding": None, "weights": None, "sum": None, "bias": None, "winner": None,
        "output": float32_value(output)}
    if isinstance(found, (Convolution, Pooling)):
        window, outside = _unit_window(found, prev, coords)
        answer["padding"] = outside.ravel().tolist()
        if isinstance(found, Convolution):
            kernel = params["weight"][coords[0]]  # (C, K, K)
            total = np.dot(window.ravel(), kernel.ravel())  # float32, as the layer's matmul
            answer.update(inputs=window.ravel(), input_shape=list(window.shape),
                          weights=float32_list(kernel.ravel()), sum=float32_value(total),
                          bias=float32_value(params["bias"][coords[0]]))
        else:
            cells = window[coords[0]]  # (K, K): the same map of the input
            answer.update(inputs=cells.ravel(), input_shape=list(cells.shape))
            if isinstance(found, MaxPooling):
                ranked = np.where(outside, -np.inf, cells).ravel()
                answer["winner"] = int(np.argmax(ranked))
    elif isinstance(found, Affine):
        flat = prev.reshape(-1)
        column = params["weight"][:, index]
        answer.update(inputs=flat, input_shape=[int(flat.size)], weights=float32_list(column),
                      sum=float32_value(np.dot(flat, column)),
                      bias=float32_value(params["bias"][index]))
    else:
        answer.update(inputs=prev.reshape(-1)[index:index + 1], input_shape=[1])
    answer["inputs"] = float32_list(np.asarray(answer["inputs"]))
    after = []
    for name, following in net.layers[at + 1:]:
        values = outputs[name][0].reshape(-1)
        if following.role not in ELEMENTWISE_ROLES or values.size != size:
            break
        after.append({"name": name, "kind": following.kind, "value": float32_value(values[index])})
    answer["after"] = after
    answer["timing_ms"] = _timing(prepared, inference, started)
    return answer


# ----- robustness probes ----------------------------------------------------------------------
def robustness(model: LoadedModel, prepared: Prepared, target: int | None, dx: float, dy: float,
               angle: float, scale: float, thickness: int, started: float) -> dict[str, Any]:
    """The drawing as drawn, transformed as asked, and with each horizontal and each vertical
    shift of -8..8 pixels: model/explain.py's probe, one batch in one forward pass."""
    begun = time.perf_counter()
    probe = probe_robustness(model.net, prepared.image, dx, dy, angle, scale, thickness, target)
    inference = elapsed_ms(begun)
    before, after, target = probe["original"], probe["probabilities"], probe["target"]
    return {"model": model.name, "label": int(np.argmax(after)),
            "probabilities": float32_list(after), "input": float32_list(probe["input"]),
            "original_label": int(np.argmax(before)),
            "original_probabilities": float32_list(before), "target": target,
            "target_probability": float32_value(after[target]),
            "transform": {"dx": dx, "dy": dy, "angle": angle, "scale": scale,
                          "thickness": thickness},
            "shift_curve": {"shifts": probe["shifts"].tolist(),
                            "horizontal": float32_list(probe["horizontal"]),
                            "vertical": float32_list(probe["vertical"]),
                            "labels_horizontal": probe["labels_horizontal"].tolist(),
                            "labels_vertical": probe["labels_vertical"].tolist()},
            "timing_ms": _timing(prepared, inference, started)}


# ----- preprocessing, visible -----------------------------------------------------------------
def thumbnail(image: np.ndarray, side: int = DISPLAY_SIDE) -> np.ndarray:
    """Area-averaged so the longer side is at most ``side`` (unchanged when already smaller)."""
    h, w = image.shape
    if max(h, w) <= side:
        return image
    scale = side / max(h, w)
    return resize(image, max(1, round(h * scale)), max(1, round(w * scale)))


def preprocess_steps(url: str, settings: Settings, mode: str = "digit") -> dict[str, Any]:
    """Each step from a drawn PNG/JPEG to the network's 28×28 input (model/preprocess.py), the
    dataset's way (``mode``)."""
    gray, polarity = read_gray(decode_data_url(url), settings.max_image_pixels,
                               settings.max_image_side)
    result = preprocess_array(gray, polarity, mode)
    image = round_input(result.image)
    return {"polarity": result.polarity, "source_shape": list(result.source_shape),
            "preprocessing": result.mode,
            "source": encode_array(thumbnail(gray)), "crop_box": list(result.crop_box),
            "cropped": encode_array(thumbnail(result.cropped)),
            "fitted": encode_array(result.fitted),
            "offset": list(result.offset),
            "centre_of_mass": [round(v, 4) for v in centre_of_mass(result.fitted)],
            "image": float32_list(image)}


# ----- where does it fail? --------------------------------------------------------------------
def misclassified(model: LoadedModel) -> dict[str, Any]:
    """The shipped test-set mistakes of a model, most confident first."""
    found = model.misclassified
    if found is None:
        raise NotFoundError(model.misclassified_note)
    digits = [{"index": int(i), "label": int(label), "class": model.classes[label],
               "predicted": int(pred), "predicted_class": model.classes[pred],
               "confidence": float32_value(p[pred]), "probabilities": float32_list(p),
               "encoding": "uint8", "data": b64(np.ascontiguousarray(img).tobytes())}
              for img, label, pred, p, i in zip(found["images"], found["labels"],
                                                found["predicted"], found["probabilities"],
                                                found["indices"], strict=True)]
    return {"model": model.name, "test_size": TEST_SET_SIZE, "digits": digits}
