"""The networks' input side: a request's drawing (PNG/JPEG data URL or bytes) or ready pixels
become MNIST's 28×28 digit (ink = 1, LeCun et al., the MNIST database page), rounded as every
answer echoes it, and centred in a network's larger input by zero padding (and back)."""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass

import numpy as np

from .preprocess import (
    BLANK_MESSAGE,
    MNIST_SIDE,
    BlankImageError,
    InvalidImageError,
    UnsupportedImageError,
    is_blank,
    preprocess_image,
)

# Finer than MNIST's 1/255 steps, and a decimal of at most 6 significant digits survives the
# trip through float32: the rounded float64 values are the shortest JSON of the float32 image.
DECIMALS = 4
DATA_URL_TYPES = ("image/png", "image/jpeg")


@dataclass(frozen=True)
class Prepared:
    """The 28×28 float32 image (ink = 1) the networks get, the same values as JSON rows, and how
    long it took to make them."""

    image: np.ndarray
    rows: list[list[float]]
    preprocess_ms: float


def elapsed_ms(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter()``), to the microsecond."""
    return round((time.perf_counter() - started) * 1000.0, 3)


def _rounded(images: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(images, dtype=np.float64), DECIMALS)


def round_input(images: np.ndarray) -> np.ndarray:
    """float32 images rounded to ``DECIMALS``, so that the ``input`` an answer echoes (short JSON)
    is exactly what the network saw."""
    return _rounded(images).astype(np.float32)


def _prepared(image: np.ndarray, started: float) -> Prepared:
    # The JSON rows come from the rounded float64 values: the same shortest decimals that
    # formatting each float32 would give, without formatting 784 values one by one.
    rounded = _rounded(image)
    return Prepared(rounded.astype(np.float32), rounded.tolist(), elapsed_ms(started))


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


def prepare_bytes(data: bytes, max_pixels: int, max_side: int,
                  started: float | None = None, mode: str = "digit") -> Prepared:
    """PNG/JPEG bytes → the preprocessed 28×28 input (model/preprocess.py; ``mode`` is the
    dataset's preprocessing)."""
    started = time.perf_counter() if started is None else started
    result = preprocess_image(data, max_pixels, max_side, mode)
    return _prepared(result.image, started)


def prepare(image: str | None, pixels: np.ndarray | list[float] | None, max_pixels: int,
            max_side: int, mode: str = "digit") -> Prepared:
    """A drawing (data URL, preprocessed as ``mode`` says) or ready pixels (784 values,
    ink = 1, taken as they are) → the 28×28 input."""
    started = time.perf_counter()
    if image is not None:
        return prepare_bytes(decode_data_url(image), max_pixels, max_side, started, mode)
    x = np.asarray(pixels, dtype=np.float64).reshape(MNIST_SIDE, MNIST_SIDE)
    if is_blank(x):
        raise BlankImageError(BLANK_MESSAGE)
    return _prepared(x, started)


def _corner(outer: tuple[int, int], inner: tuple[int, int]) -> tuple[int, int]:
    """(top, left) of an ``inner`` image centred in an ``outer`` one."""
    return (outer[0] - inner[0]) // 2, (outer[1] - inner[1]) // 2


def fit_input(images: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """Digits placed in the centre of a network's (possibly larger) input, zero around them.

    Input: (N, h, w) float32, h and w at most H and W. Output: (N, 1, H, W) for an input shape
    (1, H, W).
    """
    _, h, w = input_shape
    top, left = _corner((h, w), images.shape[1:])
    out = np.zeros((images.shape[0], 1, h, w), dtype=np.float32)
    out[:, 0, top:top + images.shape[1], left:left + images.shape[2]] = images
    return out


def drawing_window(heat: np.ndarray) -> np.ndarray:
    """The inverse of :func:`fit_input` for a map over the network's input: the 28×28 part that
    covers the digit. Input: (H, W). Output: (28, 28)."""
    top, left = _corner(heat.shape, (MNIST_SIDE, MNIST_SIDE))
    return heat[top:top + MNIST_SIDE, left:left + MNIST_SIDE]
