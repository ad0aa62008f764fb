"""What the API does, without web types: load and self-test the shipped networks, turn requests
into 28×28 inputs, and run predictions, feature maps, filters and weights (book ch. 7.5-7.6)."""

from __future__ import annotations

import base64
import binascii
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pydantic import ValidationError

from model.data import SAMPLE_PATH, load_sample, to_float
from model.functional import softmax
from model.misclassified import errors_path, load_misclassified
from model.networks import ARCH_INFO, Sequential
from model.preprocess import (BLANK_MESSAGE, BlankImageError, InvalidImageError,
                              UnsupportedImageError, is_blank, preprocess_image)
from model.weights import WeightsError, load_checked

from .config import DEFAULT_MODEL, Settings
from .encoding import b64, finite_range, float16_bytes, float32_bytes, float32_list, quantize_uint8
from .render import filters_png
from .schemas import ModelDetail

DATA_URL_TYPES = ("image/png", "image/jpeg")


class StartupError(RuntimeError):
    """The service cannot start: the message names the file and the problem."""


class NotFoundError(LookupError):
    """An unknown model, layer or parameter; the message lists the valid names."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


def _names(names) -> str:
    return ", ".join(names) if names else "(none)"


# ----- loaded models ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadedModel:
    """One validated, frozen network with its manifest; read-only, shared by all threads."""

    name: str
    net: Sequential
    manifest: dict[str, Any]
    initial: dict[str, np.ndarray]
    path: Path
    self_test_accuracy: float = 0.0
    forward_ms: float = 0.0  # median single-image prediction time, measured at load
    misclassified: dict[str, np.ndarray] | None = field(default=None, repr=False)
    misclassified_note: str = ""

    @property
    def sha256(self) -> str:
        return str(self.manifest["sha256"])

    @property
    def test_accuracy(self) -> float | None:
        value = (self.manifest.get("metrics") or {}).get("test_accuracy")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def conv_layers(self) -> list[str]:
        return [name for name, layer in self.net.layers if layer.kind == "conv"]

    def summary(self) -> dict[str, Any]:
        arch = str(self.manifest["arch"])
        return {
            "name": self.name, "arch": arch,
            "description": str(self.manifest.get("description") or ARCH_INFO.get(arch, "")),
            "param_count": self.net.param_count(), "test_accuracy": self.test_accuracy,
            "input_shape": list(self.net.input_shape), "layers": self.net.describe(),
            "has_misclassified": self.misclassified is not None,
        }

    def detail(self) -> dict[str, Any]:
        training = self.manifest.get("training")
        summary = None
        if isinstance(training, dict):
            summary = {
                "config": {k: v for k, v in training.items()
                           if k not in ("command", "duration_seconds", "selected_epoch")},
                "command": training.get("command"), "duration": training.get("duration_seconds"),
                "selected_epoch": training.get("selected_epoch"),
            }
        metrics = self.manifest.get("metrics") or {}
        return {**self.summary(), "training": summary,
                "history": self.manifest.get("history") or [],
                "per_class_accuracy": metrics.get("per_class_accuracy"),
                "confusion_matrix": metrics.get("confusion_matrix")}


@dataclass(frozen=True)
class Registry:
    """Every loaded model by name, the default one and the shipped sample digits."""

    models: dict[str, LoadedModel]
    default: str
    samples: dict[str, np.ndarray] = field(repr=False)

    def get(self, name: str | None) -> LoadedModel:
        key = self.default if name is None else name
        if key not in self.models:
            raise NotFoundError(f"unknown model {key!r}; loaded models: {_names(self.models)}")
        return self.models[key]


def find_manifests(directory: Path) -> list[Path]:
    """The ``*.json`` files in ``directory`` that are weight manifests (they name an "arch")."""
    if not directory.is_dir():
        raise StartupError(f"{directory}: weights directory not found (set CNNVIS_WEIGHTS_DIR)")
    found = []
    for path in sorted(directory.glob("*.json")):
        try:
            content = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StartupError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(content, dict) and "arch" in content:
            found.append(path)
    return found


def self_test(net: Sequential, samples: dict[str, np.ndarray]) -> float:
    """Accuracy on the shipped sample digits (already MNIST-formatted)."""
    x = to_float(samples["images"])
    probs = net.predict(fit_input(x[:, 0], net.input_shape))
    return float(np.mean(probs.argmax(axis=1) == samples["labels"]))


def single_image_ms(net: Sequential, samples: dict[str, np.ndarray], repeat: int = 15) -> float:
    """Median milliseconds of one single-image prediction on this machine (after a warm-up)."""
    x = fit_input(to_float(samples["images"][:1])[:, 0], net.input_shape)
    net.predict(x)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        net.predict(x)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000.0)


def load_gallery(path: Path, sha256: str) -> tuple[dict[str, np.ndarray] | None, str]:
    """The misclassified test digits stored beside a manifest, or None and why not. A corrupt
    file stops startup; one made for other weights (retrained since) is only left unserved."""
    errors = errors_path(path)
    command = f"`cnnvis misclassified {path.stem} --data-dir DIR`"
    if not errors.is_file():
        return None, (f"model {path.stem!r} has no misclassified gallery ({errors.name}); make "
                      f"it with {command}")
    try:
        gallery = load_misclassified(errors)
    except WeightsError as exc:
        raise StartupError(str(exc)) from None
    if str(gallery["weights_sha256"]) != sha256:
        return None, (f"{errors.name} was made for other weights than {path.stem!r} has now; "
                      f"remake it with {command}")
    for value in gallery.values():
        value.flags.writeable = False
    return gallery, ""


def load_model(path: Path, samples: dict[str, np.ndarray], min_accuracy: float) -> LoadedModel:
    """Load, validate, freeze and self-test one network; StartupError names what is wrong."""
    try:
        net, manifest, initial = load_checked(path)
    except WeightsError as exc:
        raise StartupError(str(exc)) from None
    shape = tuple(net.input_shape)
    if len(shape) != 3 or shape[0] != 1 or shape[1] < 28 or shape[2] < 28:
        raise StartupError(f"{path}: input shape {shape} is not a single-channel image of at "
                           f"least 28×28; cnnvis serves MNIST networks")
    if net.output_size != 10:
        raise StartupError(f"{path}: the network has {net.output_size} outputs, expected 10 "
                           f"(digits 0-9)")
    net.freeze()
    for value in initial.values():
        value.flags.writeable = False
    accuracy = self_test(net, samples)
    if accuracy < min_accuracy:
        raise StartupError(f"{path}: self-test failed: {accuracy:.0%} of the "
                           f"{len(samples['labels'])} shipped sample digits classified correctly,"
                           f" at least {min_accuracy:.0%} needed (wrong or untrained weights?)")
    gallery, note = load_gallery(path, str(manifest["sha256"]))
    model = LoadedModel(name=path.stem, net=net, manifest=manifest, initial=initial, path=path,
                        self_test_accuracy=accuracy, forward_ms=single_image_ms(net, samples),
                        misclassified=gallery,
                        misclassified_note=note)
    try:
        ModelDetail.model_validate(model.detail())  # what GET /api/models/{name} will answer
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise StartupError(f"{path}: malformed manifest: {where}: {first['msg']}") from None
    return model


def load_registry(settings: Settings) -> Registry:
    """Load every manifest in the weights directory, or raise one StartupError."""
    try:
        samples = load_sample(SAMPLE_PATH)
    except (OSError, KeyError, ValueError) as exc:
        raise StartupError(f"{SAMPLE_PATH}: cannot read the sample digits ({exc})") from None
    manifests = find_manifests(Path(settings.weights_dir))
    if not manifests:
        raise StartupError(f"{settings.weights_dir}: no weights found (expected <name>.json "
                           f"manifests with their .npz; train with `cnnvis train`)")
    models = {}
    for path in manifests:
        models[path.stem] = load_model(path, samples, settings.min_self_test_accuracy)
    if settings.default_model is not None:
        if settings.default_model not in models:
            raise StartupError(f"CNNVIS_DEFAULT_MODEL={settings.default_model!r} is not among the "
                               f"loaded models: {_names(models)}")
        default = settings.default_model
    else:
        default = DEFAULT_MODEL if DEFAULT_MODEL in models else next(iter(models))
    return Registry(models=models, default=default, samples=samples)


# ----- inputs ----------------------------------------------------------------------------------
INPUT_DECIMALS = 4


@dataclass(frozen=True)
class Prepared:
    """The 28×28 float32 image (ink = 1) the networks get, the same values as JSON rows, and how
    long it took to make them."""

    image: np.ndarray
    rows: list[list[float]]
    preprocess_ms: float


def _prepared(image: np.ndarray, started: float) -> Prepared:
    """Round to 4 decimals (finer than MNIST's 1/255 steps) so that the ``input`` echoed in every
    answer is short JSON and still exactly what the network saw: a decimal of at most 6
    significant digits survives the trip through float32, so the rounded float64 values are the
    shortest JSON of the float32 image (what ``float32_list`` gives, ten times faster)."""
    rounded = np.round(np.asarray(image, dtype=np.float64), INPUT_DECIMALS)
    return Prepared(rounded.astype(np.float32), rounded.tolist(), _ms(started))


def decode_data_url(url: str) -> bytes:
    """The bytes of a ``data:image/png;base64,...`` URL (PNG or JPEG media type only)."""
    header, sep, payload = url.partition(",")
    if not sep:
        raise InvalidImageError("the image data URL has no ',' between its header and the data")
    parts = [p.strip().lower() for p in header[len("data:"):].split(";")]
    media = parts[0] or "text/plain"
    if media not in DATA_URL_TYPES:
        raise UnsupportedImageError(f"the image data URL has media type {media!r}; send "
                                    f"image/png or image/jpeg")
    if "base64" not in parts[1:]:
        raise InvalidImageError("the image data URL must be base64-encoded "
                                "(data:image/png;base64,...)")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidImageError(f"the image data is not valid base64 ({exc})") from None


def prepare_bytes(data: bytes, settings: Settings, started: float | None = None) -> Prepared:
    """PNG/JPEG bytes → the preprocessed 28×28 input."""
    started = time.perf_counter() if started is None else started
    result = preprocess_image(data, settings.max_image_pixels, settings.max_image_side)
    return _prepared(result.image, started)


def prepare(image: str | None, pixels: np.ndarray | list[float] | None,
            settings: Settings) -> Prepared:
    """A request's drawing (data URL) or ready pixels (784 values, ink = 1) → 28×28 input."""
    started = time.perf_counter()
    if image is not None:
        data = decode_data_url(image)
        return prepare_bytes(data, settings, started)
    x = np.asarray(pixels, dtype=np.float64).reshape(28, 28)
    if is_blank(x):
        raise BlankImageError(BLANK_MESSAGE)
    return _prepared(x, started)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


def fit_input(images: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """(N, 28, 28) float32 → (N, *input_shape), zero-padded around the centre for larger
    inputs."""
    _, h, w = input_shape
    top, left = (h - images.shape[1]) // 2, (w - images.shape[2]) // 2
    out = np.zeros((images.shape[0], 1, h, w), dtype=np.float32)
    out[:, 0, top:top + images.shape[1], left:left + images.shape[2]] = images
    return out


# ----- answers ---------------------------------------------------------------------------------
def _infer(model: LoadedModel, image: np.ndarray,
           keep: bool) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], float]:
    started = time.perf_counter()
    x = fit_input(image[None], model.net.input_shape)
    logits, outputs = model.net.forward(x, keep=keep)
    probs = softmax(logits)[0]
    return x, probs, outputs, _ms(started)


def predict(model: LoadedModel, prepared: Prepared, started: float) -> dict[str, Any]:
    """``started``: ``time.perf_counter()`` when the request's work began (for ``total``)."""
    _, probs, _, inference = _infer(model, prepared.image, keep=False)
    return _answer(model, prepared, probs, inference, started)


def _answer(model: LoadedModel, prepared: Prepared, probs: np.ndarray, inference: float,
            started: float) -> dict[str, Any]:
    return {"model": model.name, "label": int(np.argmax(probs)),
            "probabilities": float32_list(probs), "input": prepared.rows,
            "timing_ms": {"preprocess": prepared.preprocess_ms, "inference": inference,
                          "total": _ms(started)}}


def encode_activation(name: str, kind: str, values: np.ndarray) -> dict[str, Any]:
    lo, hi, data = quantize_uint8(values)
    return {"name": name, "kind": kind, "shape": list(values.shape), "min": lo, "max": hi,
            "encoding": "uint8", "data": b64(data)}


def activations(model: LoadedModel, prepared: Prepared, started: float) -> dict[str, Any]:
    """The prediction plus the input and every layer's output for this one image."""
    x, probs, outputs, inference = _infer(model, prepared.image, keep=True)
    layers = [encode_activation("input", "input", x[0])]
    layers += [encode_activation(name, layer.kind, outputs[name][0])
               for name, layer in model.net.layers]
    return {**_answer(model, prepared, probs, inference, started), "layers": layers}


def compare(registry: Registry, prepared: Prepared) -> dict[str, Any]:
    results = []
    for model in registry.models.values():
        _, probs, _, _ = _infer(model, prepared.image, keep=False)
        results.append({"model": model.name, "label": int(np.argmax(probs)),
                        "probabilities": float32_list(probs),
                        "test_accuracy": model.test_accuracy,
                        "param_count": model.net.param_count()})
    return {"input": prepared.rows, "results": results}


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
                            f"convolution layers: {_names(convs)}")
    key = f"{layer}.weight"
    if state == "trained":
        return layer, model.net.params[key]
    if key not in model.initial:
        stored = sorted(k.rsplit(".", 1)[0] for k in model.initial if k.endswith(".weight"))
        raise NotFoundError(f"model {model.name!r} stores no initial (untrained) weights for "
                            f"{layer!r}; initial weights exist for: {_names(stored)}")
    return layer, model.initial[key]


def filters(model: LoadedModel, layer: str | None, state: str) -> dict[str, Any]:
    name, weights = conv_weights(model, layer, state)
    lo, hi = finite_range(weights)
    return {"model": model.name, "layer": name, "state": state, "shape": list(weights.shape),
            "min": lo, "max": hi, "encoding": "float32", "data": b64(float32_bytes(weights))}


def param(model: LoadedModel, key: str) -> dict[str, Any]:
    if key not in model.net.params:
        raise NotFoundError(f"model {model.name!r} has no parameter {key!r}; parameters: "
                            f"{_names(model.net.params)}")
    values = model.net.params[key]
    lo, hi = finite_range(values)
    return {"model": model.name, "param": key, "shape": list(values.shape), "min": lo,
            "max": hi, "encoding": "float16", "data": b64(float16_bytes(values))}


def example_inputs(index: int = 0) -> dict[str, dict[str, Any]]:
    """OpenAPI request examples made from a shipped sample digit: a canvas-like PNG data URL
    (dark ink on white) and the same digit as 28×28 pixels."""
    digit = load_sample(SAMPLE_PATH)["images"][index]
    buffer = io.BytesIO()
    Image.fromarray(255 - digit).resize((112, 112), Image.Resampling.BILINEAR).save(buffer, "PNG")
    url = "data:image/png;base64," + b64(buffer.getvalue())
    rows = np.round(digit / 255.0, 3).tolist()
    return {"drawing": {"summary": "a PNG data URL, as canvas.toDataURL() gives",
                        "value": {"image": url}},
            "pixels": {"summary": "28×28 MNIST-like pixels (ink = 1)", "value": {"pixels": rows}}}


def samples(registry: Registry) -> list[dict[str, Any]]:
    s = registry.samples
    return [{"index": int(i), "label": int(label), "encoding": "uint8",
             "data": b64(np.ascontiguousarray(img, dtype=np.uint8).tobytes())}
            for img, label, i in zip(s["images"], s["labels"], s["indices"])]



def filters_image(model: LoadedModel, layer: str | None) -> tuple[str, bytes]:
    """``(layer, PNG)`` of a conv layer's filters: initial (when stored) beside trained."""
    name, trained = conv_weights(model, layer, "trained")
    panels = [(f"{name} trained", trained)]
    if f"{name}.weight" in model.initial:
        panels.insert(0, (f"{name} initial", model.initial[f"{name}.weight"]))
    return name, filters_png(panels)
