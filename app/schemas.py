"""Every request and response body of the cnnvis API (pydantic v2, strict, documented)."""

from __future__ import annotations

import math
from itertools import chain
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from model.dataset_registry import DATASETS, DEFAULT_DATASET
from model.maximise import SOURCES as IDEAL_SOURCES
from model.optim import OPTIMIZERS
from model.preprocess import MNIST_SIDE

from .runs import options as run_options

PIXELS = MNIST_SIDE * MNIST_SIDE
DatasetChoice = Literal.__getitem__(tuple(DATASETS))  # one of the registry's names

UINT8_ENCODING = (
    "`uint8`: `data` is base64 of one byte q per value in C (row-major) order; "
    "value = min + q * (max - min) / 255 (all values equal min when max == min), so the error is "
    "at most (max - min) / 510."
)
FLOAT32_ENCODING = "`float32`: `data` is base64 of little-endian IEEE float32 values in C order."
# Switching units off (issue 16): the request field and answer are at the end of this module.
MAX_ABLATED = 256
ABLATION_ANSWER = ("Set when the request switched units off (`ablate`): what was off and how the "
                   "prediction moved; the answer's other fields are those of the network without "
                   "those units.")
FLOAT16_ENCODING = ("`float16`: `data` is base64 of little-endian IEEE float16 values in C order "
                    "(`min`/`max` are exact, from the float32 weights).")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


Pixel = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Row = Annotated[list[Pixel], Field(min_length=MNIST_SIDE, max_length=MNIST_SIDE)]
PixelRows = Annotated[list[Row], Field(min_length=MNIST_SIDE, max_length=MNIST_SIDE)]
PixelFlat = Annotated[list[Pixel], Field(min_length=PIXELS, max_length=PIXELS)]
ModelName = Annotated[str | None, Field(
    default=None, min_length=1, max_length=100,
    description="A loaded model's name (see GET /api/models); omitted or null: the default model.",
    examples=["simple_convnet"])]
DataUrl = Annotated[str, Field(
    description="The drawing as a data URL of a PNG or JPEG image, as an HTML canvas's "
                "`toDataURL()` gives: `data:image/png;base64,...`.",
    examples=["data:image/png;base64,iVBORw0KGgo..."])]
Pixels = Annotated[PixelRows | PixelFlat, Field(
    description="An MNIST-like image taken as is: 28 rows of 28 values or a flat list of 784 "
                "values (row-major), each in [0, 1] with ink = 1 and background = 0.")]


def _pixel_error(where: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"pixels{where} is {type(value).__name__} {value!r:.40}, not a number"
    if isinstance(value, float) and not math.isfinite(value):
        return f"pixels{where} is {value}; NaN and infinity are not allowed"
    if not 0.0 <= value <= 1.0:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        return f"pixels{where} = {shown} is outside [0, 1] (ink = 1, background = 0)"
    return None


def check_pixels(value: Any) -> np.ndarray:
    """Validate 28×28 nested or 784 flat pixel values; returns them as a read-only float64
    array of 784 values (row-major): what the service computes on, converted once.

    Raises ValueError naming the first problem (shape, ragged row, type, range or NaN). Valid
    input is checked in bulk (type set, then one vectorised range test); only a bad one is
    scanned value by value to say where it goes wrong.
    """
    shape_hint = "pixels must be 28 rows of 28 numbers or a flat list of 784 numbers"
    if not isinstance(value, list):
        raise ValueError(f"{shape_hint}; got {type(value).__name__}")
    if value and all(isinstance(row, list) for row in value):
        if len(value) != MNIST_SIDE:
            raise ValueError(f"{shape_hint}; got {len(value)} rows")
        for r, row in enumerate(value):
            if len(row) != MNIST_SIDE:
                raise ValueError(f"{shape_hint}; row {r} has {len(row)} values (ragged rows are "
                                 f"not accepted)")
        flat = list(chain.from_iterable(value))
        nested = True
    else:
        if any(isinstance(v, list) for v in value):
            raise ValueError(f"{shape_hint}; got a mix of lists and numbers")
        if len(value) != PIXELS:
            raise ValueError(f"{shape_hint}; got a flat list of {len(value)} values")
        flat = value
        nested = False
    types = set(map(type, flat))
    if types <= {float, int}:  # exact types: bool and other subclasses go the slow way
        try:
            values = np.array(flat, dtype=np.float64)
        except OverflowError:  # an integer beyond float range
            values = None
        if values is not None and np.all((values >= 0.0) & (values <= 1.0)):  # NaN fails too
            values.flags.writeable = False
            return values
    for i, v in enumerate(flat):
        row, col = divmod(i, MNIST_SIDE)
        problem = _pixel_error(f"[{row}][{col}]" if nested else f"[{i}]", v)
        if problem:
            raise ValueError(problem)
    values = np.array([float(v) for v in flat])  # int or float subclasses that passed one by one
    values.flags.writeable = False
    return values


def _no_default(schema: dict[str, Any]) -> None:
    """Absent means absent: null is not a valid value, so the schema shows no null default."""
    schema.pop("default", None)


def _data_url(schema: dict[str, Any]) -> None:
    _no_default(schema)
    schema["pattern"] = "^data:"


class DrawingInput(Strict):
    """Exactly one of ``image`` or ``pixels``."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["image"]},
                                                           {"required": ["pixels"]}]})

    image: DataUrl = Field(default=None, validate_default=False, json_schema_extra=_data_url)
    pixels: Pixels = Field(default=None, validate_default=False, json_schema_extra=_no_default)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not value.startswith("data:"):
            raise ValueError("image must be a data URL such as data:image/png;base64,iVBORw0KG..."
                             f" (got text starting {value[:20]!r})")
        return value

    @field_validator("pixels", mode="wrap")
    @classmethod
    def _pixels(cls, value: Any, handler) -> np.ndarray:
        return check_pixels(value)

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [name for name in ("image", "pixels") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'image' (a PNG/JPEG data URL) or 'pixels' "
                             f"(28×28 values in [0, 1]); got {' and '.join(given) or 'neither'}")
        return self


class PredictRequest(DrawingInput):
    model: ModelName
    ablate: Ablate = None


MAX_LAYER_NAMES = 64


class ActivationsRequest(PredictRequest):
    layers: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=MAX_LAYER_NAMES,
        description="Only these layers' outputs in `layers` (names from GET /api/models, or "
                    "`input`), in network order, each exactly as in the full answer (the page "
                    "asks for the layers it draws that it cannot compute from the others). "
                    "Omitted or null: every layer.",
        examples=[["input", "relu1", "pool1", "relu2", "fc2"]], json_schema_extra=_no_default)


class CompareRequest(DrawingInput):
    ablate: Ablate = None
    dataset: str | None = Field(
        None, min_length=1, max_length=100,
        description="compare the models trained on this dataset (GET /api/datasets); omitted "
                    "or null: the default model's dataset", examples=["fashion-mnist"])


# ----- answers ---------------------------------------------------------------------------------
class Timing(BaseModel):
    preprocess: float = Field(description="decoding and preprocessing, milliseconds")
    inference: float = Field(description="the network's forward pass, milliseconds")
    total: float = Field(description="the whole request after parsing, milliseconds")


Probabilities = Annotated[list[float], Field(
    min_length=2, description="softmax probability per class, in the order of the model's "
                              "`classes`")]
# "class" is a Python keyword: the field is class_name, the JSON key "class".
ClassName = Annotated[str, Field(alias="class", description="the name of `label` in the model's "
                                                           "dataset: `3` (MNIST), `Dress`")]
DatasetName = Annotated[str, Field(description="the dataset the model was trained on "
                                               "(GET /api/datasets): `mnist`, `fashion-mnist`")]
Classes = Annotated[list[str], Field(description="the dataset's class names, by label")]
InputImage = Annotated[list[list[float]], Field(
    description="The 28×28 image the network saw (rows of floats in [0, 1], ink = 1, rounded to "
                "4 decimals before inference).")]


class PredictResponse(BaseModel):
    model: str
    label: int = Field(ge=0)
    class_name: ClassName
    probabilities: Probabilities
    input: InputImage
    timing_ms: Timing
    ablation: Ablation | None = Field(None, description=ABLATION_ANSWER)


class EncodedArray(BaseModel):
    shape: list[int] = Field(description="the array's shape, C (row-major) order")
    min: float
    max: float
    encoding: Literal["uint8"] = Field(description=UINT8_ENCODING)
    data: str


class LayerActivation(EncodedArray):
    """One layer's output for the input: ``shape`` is per sample, e.g. [30, 24, 24] or [100]."""

    name: str = Field(description="`input` for the input itself, else the layer's name")
    kind: str = Field(description="`input`, `conv`, `relu`, `maxpool`, `affine`...")


class ActivationsResponse(PredictResponse):
    layers: list[LayerActivation] = Field(
        description="The input, then every layer's output in network order (only those asked "
                    "for in `layers`, when given). " + UINT8_ENCODING)


class CompareResult(BaseModel):
    model: str
    label: int = Field(ge=0)
    class_name: ClassName
    probabilities: Probabilities
    test_accuracy: float | None
    param_count: int
    ablation: Ablation | None = Field(None, description=ABLATION_ANSWER + " Applied to the "
                                      "models that have every unit named; null for the others.")


class CompareResponse(BaseModel):
    dataset: DatasetName
    input: InputImage
    results: list[CompareResult]


class LayerWindow(BaseModel):
    """A sliding window: output size = (input + 2·padding − kernel) // stride + 1."""

    kernel: int
    stride: int
    padding: int


class LayerInfo(BaseModel):
    name: str
    kind: str
    role: Literal["weighted", "pooling", "activation", "normalisation", "identity"] = Field(
        description="What the layer does: learned weights, pooling, an elementwise activation, "
                    "normalisation across channels, or nothing at inference (flatten, dropout)")
    window: LayerWindow | None = Field(
        description="Kernel, stride and padding of a sliding-window layer (conv, pooling); null "
                    "for layers that see their whole input or one value at a time")
    hyperparams: dict[str, Any]
    output_shape: list[int]
    params: int


class RunTag(BaseModel):
    """What marks a model as a training run's (issue 15)."""

    id: str = Field(description="the run's id (GET /api/runs/{id})")
    config: dict[str, Any] = Field(description="the run's config, as POST /api/runs took it")
    history: list[dict[str, Any]] = Field(description="per-epoch metrics of the run")
    result: dict[str, Any] | None


class ModelSummary(BaseModel):
    name: str
    arch: str
    description: str
    param_count: int
    test_accuracy: float | None
    input_shape: list[int]
    layers: list[LayerInfo]
    has_misclassified: bool = Field(
        description="whether GET /api/models/{name}/misclassified has a gallery to serve")
    run: RunTag | None = Field(
        None, description="set when the model is a finished training run's (named run-<id>)")
    has_units: bool = Field(
        False, description="whether GET /api/models/{name}/units/{layer} has units to describe")
    dataset: DatasetName
    classes: Classes


class TrainingSummary(BaseModel):
    config: dict[str, Any] = Field(description="how the weights were trained (manifest)")
    command: str | None
    duration: float | None = Field(description="training time, seconds")
    selected_epoch: int | None


class ModelDetail(ModelSummary):
    training: TrainingSummary | None
    history: list[dict[str, Any]] = Field(description="per-epoch metrics recorded in training")
    per_class_accuracy: list[float] | None
    confusion_matrix: list[list[int]] | None = Field(
        description="rows: true class, columns: predicted class (the dataset's test set)")


class ModelList(BaseModel):
    default: str
    models: list[ModelSummary]


class FiltersResponse(BaseModel):
    model: str
    layer: str
    state: Literal["trained", "initial"]
    shape: list[int] = Field(description="(F, C, KH, KW)")
    min: float
    max: float
    encoding: Literal["float32"] = Field(description=FLOAT32_ENCODING)
    data: str


class ParamResponse(BaseModel):
    model: str
    param: str
    shape: list[int] = Field(description="affine weights (in_features, out_features); conv "
                                          "weights (F, C, KH, KW); biases (F,)")
    min: float
    max: float
    encoding: Literal["float16"] = Field(description=FLOAT16_ENCODING)
    data: str


class Sample(BaseModel):
    index: int = Field(description="position in the dataset's official test set")
    label: int
    class_name: ClassName
    encoding: Literal["uint8"] = Field(description="base64 of 784 bytes, row-major, ink = 255")
    data: str


class SamplesResponse(BaseModel):
    dataset: DatasetName
    samples: list[Sample]


class DatasetInfo(BaseModel):
    name: str = Field(description="the key in `?dataset=`, manifests and `cnnvis --dataset`")
    title: str
    classes: Classes
    noun: str = Field(description="one item, as the page says it: `digit`, `piece of clothing`")
    plural: str
    preprocessing: Literal["digit", "fill"] = Field(
        description="how a drawing is prepared: `digit` fits the ink into 20×20 and centres it "
                    "by its centre of mass (MNIST's convention); `fill` scales the ink to fill "
                    "the 28×28 frame, as Fashion-MNIST's images do")
    source: str
    licence: str
    credit: str
    models: list[str] = Field(description="the loaded models trained on it")
    default_model: str | None = Field(description="the model the page opens for it")


class DatasetList(BaseModel):
    default: str = Field(description="the default model's dataset")
    datasets: list[DatasetInfo]


class Health(BaseModel):
    status: Literal["ok"]


class ModelRef(BaseModel):
    name: str
    sha256: str


class Ready(BaseModel):
    status: Literal["ready"]
    models: list[ModelRef]


class ErrorResponse(BaseModel):
    detail: str = Field(description="what was wrong, in one sentence")


ERROR_DESCRIPTIONS = {
    400: "Malformed request: body is not valid JSON or multipart, or the image is not valid "
         "base64, truncated or not an image",
    403: "Training is turned off on this server (CNNVIS_MAX_RUNS=0)",
    404: "Unknown model, layer or parameter (the message lists the valid names)",
    413: "Request body or image over its size limit",
    415: "Wrong content type, or an image format other than PNG/JPEG",
    422: "Invalid request fields (shape, type, range), a blank drawing ('draw something first'), "
         "a JSON body with more values than allowed, or an answer over the response size limit",
    429: "This client already has as many training runs queued or running as it may (the "
         "Retry-After header says when to retry)",
    503: "The models are not loaded yet, or the server is busy: too many inferences running and "
         "waiting (the Retry-After header says when to retry)",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting each error status with its JSON body."""
    return {code: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[code]}
            for code in codes}


# ----- explain and teach: attributions, im2col, robustness, preprocessing, mistakes -----------
def _whole(value: Any) -> Any:
    """JSON Schema counts 3.0 as an integer, so a whole float is taken as one (3.5 and "3" are
    still refused by the strict check that follows)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = Annotated[int, BeforeValidator(_whole)]
# a dataset's class count is checked against the model in the route (deps.class_index); this
# bound only keeps absurd numbers out of the schema
MAX_CLASSES = 1000
Target = Annotated[Annotated[int, Field(ge=0, lt=MAX_CLASSES), BeforeValidator(_whole)] | None,
                   Field(default=None,
                         description="The class to explain or track (an index into the model's "
                                     "`classes`); omitted or null: the predicted one.")]


class ExplainBase(DrawingInput):
    model: ModelName
    target: Target
    ablate: Ablate = None


class SaliencyRequest(ExplainBase):
    method: Literal["saliency"] = Field(
        description="|∂ score / ∂ input| from the network's own backward pass (Simonyan et al.)")


class GradcamRequest(ExplainBase):
    method: Literal["gradcam"] = Field(
        description="Feature maps weighted by their mean gradient (Selvaraju et al.)")
    layer: str | None = Field(
        default=None, min_length=1, max_length=100,
        description="A layer with feature maps (a conv layer, its activation or a pooling "
                    "layer), e.g. `relu1`; default: the last conv layer's activation.")


class OcclusionRequest(ExplainBase):
    method: Literal["occlusion"] = Field(
        description="Slide a blank patch over the image, all positions in one batched forward "
                    "(Zeiler & Fergus)")
    patch: WholeNumber = Field(default=6, ge=2, le=14,
                               description="side of the square patch, pixels")
    stride: WholeNumber = Field(default=2, ge=2, le=14,
                                description="step between patches, pixels (at most 14 × 14 = "
                                            "196 positions)")


def _method_tag(value: Any) -> Any:
    return value.get("method") if isinstance(value, dict) else getattr(value, "method", None)


ExplainRequest = Annotated[
    Annotated[SaliencyRequest, Tag("saliency")] | Annotated[GradcamRequest, Tag("gradcam")]
    | Annotated[OcclusionRequest, Tag("occlusion")],
    Discriminator(_method_tag, custom_error_type="method",
                  custom_error_message="the body must be a JSON object whose 'method' is "
                                       "'saliency', 'gradcam' or 'occlusion'")]


class Im2colRequest(DrawingInput):
    model: ModelName
    layer: str | None = Field(default=None, min_length=1, max_length=100,
                              description="A convolution or pooling layer, e.g. `conv1` or "
                                          "`pool1`; default: the first convolution.")


class RobustnessRequest(DrawingInput):
    model: ModelName
    target: Target
    dx: float = Field(default=0.0, ge=-10, le=10, allow_inf_nan=False,
                      description="shift right (pixels, fractions allowed)")
    dy: float = Field(default=0.0, ge=-10, le=10, allow_inf_nan=False,
                      description="shift down (pixels, fractions allowed)")
    angle: float = Field(default=0.0, ge=-45, le=45, allow_inf_nan=False,
                         description="rotation about the centre, degrees counter-clockwise")
    scale: float = Field(default=1.0, ge=0.5, le=1.5, allow_inf_nan=False,
                         description="zoom about the centre")
    thickness: WholeNumber = Field(default=0, ge=-2, le=2,
                                   description="strokes thickened (> 0, 3×3 grey dilations) or "
                                               "thinned (< 0, erosions) this many times")


class UnitRequest(DrawingInput):
    model: ModelName
    layer: str = Field(min_length=1, max_length=100,
                       description="Any layer of the model (see GET /api/models), e.g. `conv1`, "
                                   "`pool1`, `fc1` or `relu1`.")
    index: WholeNumber = Field(ge=0, description="The unit: its flat index in the layer's output "
                                                 "(C, H, W) or (F,), row-major.")


class PreprocessRequest(Strict):
    image: DataUrl = Field(json_schema_extra=_data_url)
    dataset: str | None = Field(
        None, min_length=1, max_length=100,
        description="prepare the drawing as this dataset's images are (GET /api/datasets: "
                    "`preprocessing`); omitted or null: the default model's dataset",
        examples=["fashion-mnist"])

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not value.startswith("data:"):
            raise ValueError("image must be a data URL such as data:image/png;base64,iVBORw0KG..."
                             f" (got text starting {value[:20]!r})")
        return value


class ByteArray(BaseModel):
    shape: list[int] = Field(description="the array's shape, C (row-major) order")
    encoding: Literal["uint8"] = Field(description="`uint8`: `data` is base64 of one byte per "
                                                   "value, the value itself (no scaling)")
    data: str


class ExplainResponse(BaseModel):
    model: str
    label: int = Field(ge=0, description="the predicted class")
    class_name: ClassName
    probabilities: Probabilities
    method: Literal["saliency", "gradcam", "occlusion"]
    target: int = Field(ge=0, description="the class explained")
    target_probability: float
    layer: str | None = Field(description="gradcam: the layer used; else null")
    patch: int | None = Field(description="occlusion: patch side in pixels; else null")
    stride: int | None = Field(description="occlusion: step in pixels; else null")
    map: EncodedArray = Field(
        description="28×28 heat over the input image, aligned with it pixel for pixel. "
                    "saliency, gradcam: in [0, 1], 1 = most important (divided by the peak; all "
                    "0 when nothing matters). occlusion: in [-1, 1], the mean drop of the "
                    "target probability over the patches covering the pixel (negative: hiding "
                    "it made the target likelier). " + UINT8_ENCODING)
    map_range: list[float] = Field(min_length=2, max_length=2,
                                   description="the range `map` values can take: [0, 1] or "
                                               "[-1, 1]; `map.min`/`map.max` are the actual ones")
    coarse: EncodedArray | None = Field(
        description="gradcam: the map at the layer's resolution (h, w) in [0, 1], before "
                    "upsampling. occlusion: the grid (rows, cols) of target-probability drops, "
                    "cell (i, j) for the patch with top-left pixel (i·stride, j·stride). "
                    "saliency: null.")
    channel_weights: list[float] | None = Field(
        description="gradcam: α_k, the mean gradient of the target score over feature map k; "
                    "else null")
    gradient: EncodedArray | None = Field(
        description="saliency: the signed gradient ∂ score / ∂ pixel (28×28); else null")
    timing_ms: Timing
    ablation: Ablation | None = Field(None, description=ABLATION_ANSWER)


class ConvMatrices(BaseModel):
    cols: EncodedArray = Field(
        description="im2col of the input, (OH·OW, C·KH·KW): row r is output position "
                    "(r // OW, r % OW); column j is input channel j // (KH·KW) at kernel offset "
                    "((j // KW) % KH, j % KW), reading input pixel (oy·stride − pad + ky, "
                    "ox·stride − pad + kx) (0 outside the input)")
    weight: EncodedArray = Field(description="the filters reshaped to (F, C·KH·KW), columns "
                                             "ordered as in `cols`")
    bias: EncodedArray = Field(description="(F,)")
    product: EncodedArray = Field(
        description="cols @ weightᵀ + bias, (OH·OW, F): row r, column f is the output "
                    "output[f, r // OW, r % OW]")


class PoolMatrices(BaseModel):
    windows: EncodedArray = Field(
        description="(C·OH·OW, K·K): row r is channel r // (OH·OW) at output position "
                    "((r // OW) % OH, r % OW); column j is window offset (j // K, j % K) "
                    "(padding reads 0)")
    argmax: ByteArray | None = Field(
        description="max pooling: (C·OH·OW,) the winning column of each row (first maximum); "
                    "average pooling: null")
    winners: ByteArray | None = Field(
        description="max pooling: (C, H, W) 1 where an input unit is some window's winner "
                    "(the only units a gradient flows back to); average pooling: null")


class Im2colResponse(BaseModel):
    model: str
    label: int = Field(ge=0)
    probabilities: Probabilities
    layer: str
    kind: str = Field(description="`conv`, `maxpool` or `avgpool`: which of `conv`/`pool` is set")
    kernel: int = Field(description="KH = KW (conv) or K (pooling)")
    stride: int
    pad: int
    input: EncodedArray = Field(description="the layer's input (C, H, W)")
    output: EncodedArray = Field(description="the layer's actual output (F or C, OH, OW), "
                                             "OH = (H + 2·pad − kernel) // stride + 1")
    conv: ConvMatrices | None
    pool: PoolMatrices | None
    timing_ms: Timing


class Transform(BaseModel):
    dx: float
    dy: float
    angle: float
    scale: float
    thickness: int


class ShiftCurve(BaseModel):
    shifts: list[int] = Field(description="-8..8 pixels")
    horizontal: list[float] = Field(
        description="target probability of the drawing transformed as asked but with "
                    "dx = shifts[i] (dy as asked)")
    vertical: list[float] = Field(
        description="target probability with dy = shifts[i] (dx as asked)")
    labels_horizontal: list[int] = Field(description="the predicted class at each dx")
    labels_vertical: list[int] = Field(description="the predicted class at each dy")


class RobustnessResponse(BaseModel):
    model: str
    label: int = Field(ge=0, description="the prediction for the transformed drawing")
    probabilities: Probabilities
    input: InputImage
    original_label: int = Field(ge=0, description="the prediction for the drawing as drawn")
    original_probabilities: Probabilities
    target: int = Field(ge=0, description="the class tracked by `target_probability` and "
                                                "the curve; default: `original_label`")
    target_probability: float = Field(description="of the transformed drawing")
    transform: Transform
    shift_curve: ShiftCurve
    timing_ms: Timing


class UnitAfter(BaseModel):
    name: str
    kind: str
    value: float = Field(description="the unit's value after this layer (float32)")


class UnitResponse(BaseModel):
    """One unit's computation in float32, from the same layer-by-layer pass as
    /api/activations but without its 8-bit transport: ``sum + bias`` is ``output`` for a
    weighted layer (up to float32 rounding)."""

    model: str
    label: int = Field(ge=0, description="the prediction for the drawing")
    layer: str
    kind: str = Field(description="`conv`, `affine`, `maxpool`, `avgpool`, `relu`...")
    role: str = Field(description="`weighted`, `pooling`, `activation`, `normalisation` or "
                                  "`identity`")
    index: int
    coords: list[int] = Field(description="the unit's place in the layer's output: "
                                          "[channel, row, col] or [unit]")
    reads: str = Field(description="the layer whose output this layer reads (`input`: the image)")
    input_shape: list[int] = Field(description="(C, K, K) for a conv unit's window, (K, K) for a "
                                               "pooling window, (D,) for a dense unit (the whole "
                                               "input), (1,) for an activation")
    inputs: list[float] = Field(description="the values read, row-major (padding as 0)")
    padding: list[bool] | None = Field(description="per window cell (K·K): outside the map")
    weights: list[float] | None = Field(description="the unit's weights, shaped as `inputs` "
                                                    "(weighted layers)")
    sum: float | None = Field(description="Σ weights·inputs in float32 (weighted layers)")
    bias: float | None = Field(description="the unit's bias (weighted layers)")
    winner: int | None = Field(description="the window cell a max-pooling unit takes")
    output: float = Field(description="the layer's output for this unit: z for a weighted layer")
    after: list[UnitAfter] = Field(description="the unit after each activation, normalisation "
                                               "or reshape that directly follows the layer")
    timing_ms: Timing


class PreprocessResponse(BaseModel):
    polarity: str = Field(description="`dark-on-light`, `light-on-dark` or `alpha` (strokes on "
                                      "a transparent canvas)")
    source_shape: list[int] = Field(description="(H, W) of the decoded image that `crop_box` "
                                                "refers to")
    source: EncodedArray = Field(
        description="the decoded gray image (0 = black, 1 = white; for `alpha`, 1 = ink), "
                    "area-averaged so its longer side is at most 140 px")
    crop_box: list[int] = Field(min_length=4, max_length=4,
                                description="(top, left, bottom, right) of the ink in "
                                            "`source_shape` pixels, bottom/right exclusive")
    cropped: EncodedArray = Field(description="the ink inside the crop box (1 = ink), "
                                              "area-averaged to at most 140 px a side")
    preprocessing: Literal["digit", "fill"] = Field(
        description="the dataset's way: `digit` fits into 20×20 and places by centre of mass, "
                    "`fill` fits the longer side to 28 and centres the box")
    fitted: EncodedArray = Field(description="the crop resized into the box, (h, w) with "
                                             "max(h, w) = 20 (`digit`) or 28 (`fill`), "
                                             "stretched to full contrast")
    offset: list[int] = Field(min_length=2, max_length=2,
                              description="(row, col) of `fitted`'s top-left corner in `image`")
    centre_of_mass: list[float] = Field(
        min_length=2, max_length=2,
        description="(row, col) of `fitted`'s centre of mass in its own pixels; for `digit`, "
                    "offset + centre_of_mass is (14, 14) within half a pixel, as in MNIST")
    image: InputImage


class MisclassifiedDigit(BaseModel):
    index: int = Field(description="position in the dataset's official test set")
    label: int = Field(ge=0, description="the true class")
    class_name: ClassName
    predicted: int = Field(ge=0, description="the model's (wrong) answer")
    predicted_class: str = Field(description="the name of `predicted`")
    confidence: float = Field(description="the probability of the wrong answer")
    probabilities: Probabilities
    encoding: Literal["uint8"] = Field(description="base64 of 784 bytes, row-major, ink = 255")
    data: str


class MisclassifiedResponse(BaseModel):
    model: str
    test_size: int = Field(description="images in the test set the model was run on")
    digits: list[MisclassifiedDigit] = Field(description="most confident mistakes first")


# ----- training runs (issue 15; shapes documented in app/routers/runs.py) ----------------------


class RunRequest(Strict):
    """A training run's settings; every field but ``arch`` is optional."""

    arch: str = Field(min_length=1, max_length=100,
                      description="a registered architecture (GET /api/models lists them as "
                                  "`arch`), e.g. simple_convnet")
    epochs: WholeNumber = Field(run_options.DEFAULTS["epochs"], ge=run_options.EPOCHS[0],
                                le=run_options.EPOCHS[1],
                                description="passes over the training images (at most "
                                            "CNNVIS_MAX_RUN_EPOCHS)")
    batch_size: WholeNumber = Field(run_options.DEFAULTS["batch_size"],
                                    ge=run_options.BATCH_SIZE[0], le=run_options.BATCH_SIZE[1],
                                    description="images per gradient step")
    optimizer: Literal[tuple(OPTIMIZERS)] = run_options.DEFAULTS["optimizer"]  # type: ignore[valid-type]
    lr: float = Field(run_options.DEFAULTS["lr"], gt=0.0, le=run_options.LR_MAX,
                      allow_inf_nan=False, description="learning rate")
    train_size: WholeNumber = Field(run_options.DEFAULTS["train_size"],
                                    ge=run_options.TRAIN_SIZE[0], le=run_options.TRAIN_SIZE[1],
                                    description="training images used, drawn (seeded) from the "
                                                "training split")
    augment: bool = Field(run_options.DEFAULTS["augment"],
                          description=f"random shifts of up to ±{run_options.AUGMENT_SHIFT} "
                                      f"pixels")
    seed: WholeNumber = Field(run_options.DEFAULTS["seed"], ge=run_options.SEED[0],
                              le=run_options.SEED[1], description="seed of every random draw")
    dataset: DatasetChoice = Field(DEFAULT_DATASET, description="what to train on (GET "
                                                                "/api/datasets)")


class RunProgress(BaseModel):
    step: int
    steps_total: int
    epoch: int
    epochs: int


class Run(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    position: int | None = Field(description="queued: runs ahead of this one; else null")
    config: RunRequest
    input_shape: list[int] = Field(description="the network's input, as in /api/models")
    layers: list[LayerInfo] = Field(description="the network's layers, as in /api/models")
    created: str = Field(description="ISO 8601 UTC")
    started: str | None
    finished: str | None
    progress: RunProgress
    history: list[dict[str, Any]] = Field(description="one row per finished epoch")
    result: dict[str, Any] | None = Field(
        description="done: val_accuracy, test_accuracy and selected_epoch")
    model: str | None = Field(description="done: the model's name, usable as `model` anywhere")
    error: str | None = Field(description="failed: the reason")
    snapshots: list[int] = Field(description="steps whose weights are kept (float16)")


class RunList(BaseModel):
    runs: list[Run] = Field(description="newest first")


class RunArchitecture(BaseModel):
    arch: str
    description: str
    param_count: int
    trainable: bool = Field(description="whether this server trains it (CNNVIS_MAX_RUN_PARAMS)")
    reason: str | None = Field(description="why not, when it is not trainable")
    input_shape: list[int]
    layers: list[LayerInfo]


class RunOptimizer(BaseModel):
    name: str = Field(description="the value of `optimizer`")
    label: str
    rule: str = Field(description="the update rule")


class RunOptions(BaseModel):
    training: bool = Field(description="false when this server trains nothing (CNNVIS_MAX_RUNS=0)")
    defaults: dict[str, Any] = Field(description="every optional field of POST /api/runs")
    limits: dict[str, dict[str, int | float]] = Field(
        description="per field: min and max (lr: above and max); epochs and the network's "
                    "param_count narrowed by this server's settings")
    optimizers: list[RunOptimizer]
    augment: dict[str, Any] = Field(description="what `augment: true` does (shift in pixels)")
    events: dict[str, int | float] = Field(description="progress and snapshot pace (seconds), the "
                                                 "validation subset's size, snapshots kept")
    architectures: list[RunArchitecture] = Field(description="every registered architecture")


class RunActivationsRequest(DrawingInput):
    step: WholeNumber = Field(ge=0, description="a snapshot's step (the latest kept one at or "
                                                "before it is used)")


class RunActivationsResponse(ActivationsResponse):
    step: int = Field(description="the kept snapshot step whose weights answered")


class RunParamResponse(ParamResponse):
    step: int = Field(description="the kept snapshot step whose weights these are")


# ----- what a unit means (issue 16; app/routers/units.py) --------------------------------------
Box = Annotated[list[int], Field(
    min_length=4, max_length=4,
    description="[y0, x0, y1, x1], ends exclusive, over the 28×28 image: the receptive field of "
                "the position where the channel peaked (it may reach past the border: padding), "
                "or [0, 0, 28, 28] for a dense unit")]


class UnitTop(BaseModel):
    index: int = Field(description="the test image's position in its dataset's test split")
    label: int = Field(ge=0, description="its true class")
    score: float = Field(description="the unit's score on it: a channel's maximum over "
                                     "positions, a dense unit's value (before any activation)")
    box: Box
    position: list[int] | None = Field(description="[row, col] in the layer's map where the "
                                                   "channel peaked; null for a dense unit")


class UnitTopDigit(UnitTop):
    data: str = Field(description="the whole image: base64 of 784 bytes, row-major, ink = 255")


class UnitDetail(BaseModel):
    model: str
    layer: str
    kind: str = Field(description="`conv`, `maxpool`, `avgpool` or `affine`")
    count: int = Field(description="units in the layer: channels, or dense outputs")
    spatial: bool = Field(description="true for a layer of feature maps (units are channels)")
    dataset: str = Field(description="the test split the statistics come from, e.g. `mnist`")
    test_size: int
    index: int
    top: list[UnitTopDigit] = Field(description="the 9 test images with the highest scores, "
                                                "highest first")
    optimal: EncodedArray = Field(
        description="the ideal input, 28×28 in [0, 1]: the best of two gradient ascents on the "
                    "input through the network's own backward pass (seeded; jitter, L2 and "
                    "total-variation penalties, clipped to [0, 1]), one from noise and one from "
                    "the unit's best test image, and that image itself (see `optimal_from`). "
                    + UINT8_ENCODING)
    optimal_score: float = Field(description="the unit's score on the ideal input (at least its "
                                             "score on its best test image, by construction)")
    optimal_source: Literal["shipped", "computed"] = Field(
        description="`shipped` in the units file (first conv layer, outputs) or `computed` on "
                    "this request (then kept in the answer cache)")
    optimal_from: Literal[IDEAL_SOURCES] = Field(
        description="which candidate won: the ascent from noise (raising a channel at its map's "
                    "centre), the ascent from the best test image (raising it where that image "
                    "peaked), or the best test image itself when no ascent beat it")
    quantiles: list[float] = Field(
        description="the 0th, 1st, …, 100th percentile of the unit's score over the test split")


class UnitSummary(BaseModel):
    index: int
    top: list[UnitTop] = Field(description="the best test image (its pixels are tile `index` "
                                           "of the layer's sprite)")
    optimal: EncodedArray | None = Field(description="the shipped ideal input, or null (ask "
                                                     "the unit itself to compute one)")
    optimal_score: float | None
    optimal_from: Literal[IDEAL_SOURCES] | None = Field(
        description="where the shipped ideal input came from (as in the unit's answer), or null")


class Sprite(BaseModel):
    encoding: Literal["png"] = Field(description="`data` is base64 of an 8-bit grayscale PNG")
    columns: int = Field(description="tiles per row; tile i's top-left is (i // columns · tile, "
                                     "i % columns · tile)")
    tile: int = Field(description="a tile's side in pixels")
    data: str


class UnitLayerResponse(BaseModel):
    model: str
    layer: str
    kind: str
    count: int
    spatial: bool
    dataset: str
    test_size: int
    units: list[UnitSummary]
    sprite: Sprite = Field(description="each unit's best test image, whole, in unit order "
                                       "(ink = 255)")


# ----- where a drawing stands: nearest digits, the data map, counterfactuals (issue 17) ---------
class NeighborsRequest(DrawingInput):
    model: ModelName
    k: WholeNumber = Field(default=9, ge=1, le=50,
                           description="how many nearest training images to return")


class Neighbor(BaseModel):
    index: int = Field(description="position in the reference set (the MNIST training set)")
    label: int = Field(ge=0, description="the image's true label")
    distance: float = Field(description="Euclidean distance between the unit-length features "
                                        "(0 = the same features, 2 = opposite); 4 decimals")
    position: list[float] = Field(min_length=2, max_length=2,
                                  description="the image's place on the data map")
    encoding: Literal["uint8"] = Field(description="base64 of 784 bytes, row-major, ink = 255")
    data: str


class NeighborsResponse(BaseModel):
    model: str
    layer: str = Field(description="the layer whose output is compared: the one the output "
                                   "layer reads")
    label: int = Field(ge=0, description="the predicted class")
    probabilities: Probabilities
    neighbors: list[Neighbor] = Field(description="nearest first")
    position: list[float] = Field(min_length=2, max_length=2,
                                  description="the drawing on the data map (GET /api/models/"
                                              "{name}/map): its first two principal coordinates")
    atypicality: float = Field(description="distance to the rank-th nearest training image")
    rank: int = Field(description="which neighbour's distance is the atypicality")
    atypical: bool = Field(description="atypicality above the threshold: the drawing looks like "
                                       "nothing the network has seen")
    threshold: float = Field(description="calibrated on the validation split: 97 % of its "
                                         "images, as stored and redrawn on the pad, lie within")
    timing_ms: Timing


class DataMap(BaseModel):
    model: str
    layer: str
    method: Literal["pca"] = Field(description="the first two principal components of the "
                                               "unit-length features of the training images")
    count: int = Field(description="points on the map")
    reference_size: int = Field(description="images in the reference set")
    points: str = Field(description="base64 of little-endian float16 (x, y) pairs, one per "
                                    "point")
    labels: str = Field(description="base64 of one byte per point: its label")
    indices: str = Field(description="base64 of little-endian int32 per point: its index in "
                                     "the reference set (GET /api/models/{name}/digits/{index})")


class ReferenceDigit(BaseModel):
    model: str
    index: int
    label: int = Field(ge=0)
    encoding: Literal["uint8"] = Field(description="base64 of 784 bytes, row-major, ink = 255")
    data: str

class CounterfactualRequest(DrawingInput):
    model: ModelName
    target: Annotated[int, Field(ge=0, lt=MAX_CLASSES), BeforeValidator(_whole)] = Field(
        description="the class (an index into the model's `classes`) the changed drawing "
                    "should be read as")
    epsilon: float = Field(default=0.3, gt=0.0, le=1.0, allow_inf_nan=False,
                           description="the most any pixel may change (L∞ bound)")
    add_only: bool = Field(default=False, description="only add ink (no pixel gets lighter): "
                                                      "a change a person could draw")
    seed: WholeNumber = Field(default=0, ge=0, le=2**32 - 1,
                              description="seed of the random start")


class CounterfactualResponse(BaseModel):
    model: str
    target: int = Field(ge=0)
    reached: bool = Field(description="the network reads the changed drawing as the target")
    label: int = Field(ge=0, description="the changed drawing's predicted class")
    probabilities: Probabilities
    original_label: int = Field(ge=0)
    original_probabilities: Probabilities
    pixels: EncodedArray = Field(description="the changed 28×28 drawing (ink = 1)")
    difference: EncodedArray = Field(description="changed − drawn, 28×28 (more ink > 0)")
    steps: int = Field(description="gradient steps taken (at most max_steps)")
    max_steps: int
    epsilon: float
    add_only: bool
    l2: float = Field(description="Euclidean length of the change (28×28 pixels in [0, 1])")
    linf: float = Field(description="largest change of one pixel")
    ink_added: float = Field(description="sum of the pixels' increases (in pixels of full ink)")
    ink_removed: float = Field(description="sum of the pixels' decreases")
    timing_ms: Timing


# ----- switching units off (issue 16) -----------------------------------------------------------


class UnitRef(Strict):
    layer: str = Field(min_length=1, max_length=100,
                       description="a convolution, pooling or dense layer, e.g. `conv1`")
    index: WholeNumber = Field(ge=0, description="a channel of a layer with feature maps, or a "
                                                 "dense layer's output")


Ablate = Annotated[list[UnitRef] | None, Field(
    max_length=MAX_ABLATED,
    description="Units to switch off for this request only: each channel (every position of "
                "its feature map) or dense unit outputs zero, as if its weights and bias were "
                "zero; the served network itself is never changed. Omitted, null or []: none.",
    json_schema_extra=_no_default)]


class Ablation(BaseModel):
    units: list[UnitRef] = Field(description="the units that were off, as given (duplicates "
                                             "removed)")
    original_label: int = Field(ge=0, description="the prediction with every unit on")
    original_probabilities: Probabilities
    label_changed: bool
    drop: float = Field(description="how much the originally predicted class's probability "
                                    "fell (negative: it rose)")


class RankRequest(DrawingInput):
    model: ModelName
    layer: str = Field(min_length=1, max_length=100,
                       description="a convolution, pooling or dense layer, e.g. `conv2`")
    target: Target


class RankedUnit(BaseModel):
    index: int
    probability: float = Field(description="the target class's probability with this unit off")
    drop: float = Field(description="the target's probability as drawn minus `probability` "
                                    "(positive: the unit was helping)")


class RankResponse(BaseModel):
    model: str
    layer: str
    label: int = Field(ge=0, description="the prediction with every unit on")
    probabilities: Probabilities
    target: int = Field(ge=0, description="the class whose probability is tracked")
    units: list[RankedUnit] = Field(description="every unit of the layer, largest drop first")
