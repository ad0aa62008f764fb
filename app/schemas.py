"""Every request and response body of the cnnvis API (pydantic v2, strict, documented)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SIDE = 28
PIXELS = SIDE * SIDE

UINT8_ENCODING = (
    "`uint8`: `data` is base64 of one byte q per value in C (row-major) order; "
    "value = min + q * (max - min) / 255 (all values equal min when max == min), so the error is "
    "at most (max - min) / 510."
)
FLOAT32_ENCODING = "`float32`: `data` is base64 of little-endian IEEE float32 values in C order."
FLOAT16_ENCODING = ("`float16`: `data` is base64 of little-endian IEEE float16 values in C order "
                    "(`min`/`max` are exact, from the float32 weights).")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


Pixel = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
PixelRows = Annotated[list[Annotated[list[Pixel], Field(min_length=SIDE, max_length=SIDE)]],
                      Field(min_length=SIDE, max_length=SIDE)]
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
    if not math.isfinite(value):
        return f"pixels{where} is {value}; NaN and infinity are not allowed"
    if not 0.0 <= value <= 1.0:
        return f"pixels{where} = {value} is outside [0, 1] (ink = 1, background = 0)"
    return None


def check_pixels(value: Any) -> list[float]:
    """Validate 28×28 nested or 784 flat pixel values; returns the 784 values flat (row-major).

    Raises ValueError naming the first problem (shape, ragged row, type, range or NaN).
    """
    shape_hint = "pixels must be 28 rows of 28 numbers or a flat list of 784 numbers"
    if not isinstance(value, list):
        raise ValueError(f"{shape_hint}; got {type(value).__name__}")
    if value and all(isinstance(row, list) for row in value):
        if len(value) != SIDE:
            raise ValueError(f"{shape_hint}; got {len(value)} rows")
        flat: list[Any] = []
        for r, row in enumerate(value):
            if len(row) != SIDE:
                raise ValueError(f"{shape_hint}; row {r} has {len(row)} values (ragged rows are "
                                 f"not accepted)")
            for c, v in enumerate(row):
                problem = _pixel_error(f"[{r}][{c}]", v)
                if problem:
                    raise ValueError(problem)
            flat.extend(row)
        return [float(v) for v in flat]
    if any(isinstance(v, list) for v in value):
        raise ValueError(f"{shape_hint}; got a mix of lists and numbers")
    if len(value) != PIXELS:
        raise ValueError(f"{shape_hint}; got a flat list of {len(value)} values")
    for i, v in enumerate(value):
        problem = _pixel_error(f"[{i}]", v)
        if problem:
            raise ValueError(problem)
    return [float(v) for v in value]


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
    def _pixels(cls, value: Any, handler) -> list[float]:
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


class CompareRequest(DrawingInput):
    pass


# ----- answers ---------------------------------------------------------------------------------
class Timing(BaseModel):
    preprocess: float = Field(description="decoding and preprocessing, milliseconds")
    inference: float = Field(description="the network's forward pass, milliseconds")
    total: float = Field(description="the whole request after parsing, milliseconds")


Probabilities = Annotated[list[float], Field(min_length=10, max_length=10,
                                             description="softmax probability per digit 0-9")]
InputImage = Annotated[list[list[float]], Field(
    description="The 28×28 image the network saw (rows of floats in [0, 1], ink = 1, rounded to "
                "4 decimals before inference).")]


class PredictResponse(BaseModel):
    model: str
    label: int = Field(ge=0, le=9)
    probabilities: Probabilities
    input: InputImage
    timing_ms: Timing


class LayerActivation(BaseModel):
    name: str = Field(description="`input` for the input itself, else the layer's name")
    kind: str = Field(description="`input`, `conv`, `relu`, `maxpool`, `affine`...")
    shape: list[int] = Field(description="per-sample shape, e.g. [30, 24, 24] or [100]")
    min: float
    max: float
    encoding: Literal["uint8"] = Field(description=UINT8_ENCODING)
    data: str


class ActivationsResponse(PredictResponse):
    layers: list[LayerActivation] = Field(
        description="The input, then every layer's output in network order. " + UINT8_ENCODING)


class CompareResult(BaseModel):
    model: str
    label: int = Field(ge=0, le=9)
    probabilities: Probabilities
    test_accuracy: float | None
    param_count: int


class CompareResponse(BaseModel):
    input: InputImage
    results: list[CompareResult]


class LayerInfo(BaseModel):
    name: str
    kind: str
    hyperparams: dict[str, Any]
    output_shape: list[int]
    params: int


class ModelSummary(BaseModel):
    name: str
    arch: str
    description: str
    param_count: int
    test_accuracy: float | None
    input_shape: list[int]
    layers: list[LayerInfo]


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
        description="rows: true digit, columns: predicted digit (MNIST test set)")


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
    index: int = Field(description="position in the official MNIST test set")
    label: int
    encoding: Literal["uint8"] = Field(description="base64 of 784 bytes, row-major, ink = 255")
    data: str


class SamplesResponse(BaseModel):
    samples: list[Sample]


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
    404: "Unknown model, layer or parameter (the message lists the valid names)",
    413: "Request body or image too large",
    415: "Wrong content type, or an image format other than PNG/JPEG",
    422: "Invalid request fields (shape, type, range), or a blank drawing ('draw a digit first')",
    503: "The models are not loaded yet",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting each error status with its JSON body."""
    return {code: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[code]}
            for code in codes}
