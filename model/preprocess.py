"""Turn what a person draws into what the dataset's images look like, ink = 1 on 0. MNIST (LeCun
et al., the MNIST database page): the digit fitted into a 20×20 box with anti-aliasing, placed in
28×28 by its centre of mass. Fashion-MNIST (Xiao et al. 2017, section 2): the product trimmed to
its bounding box, its longer side resized to 28 and centred. Pure NumPy; Pillow only decodes.
"""

from __future__ import annotations

import functools
import io
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

MNIST_SIDE = 28
BOX_SIDE = 20
# How a drawing is fitted (model/dataset_registry.py names each dataset's): "digit" into the
# 20×20 box placed by centre of mass, "fill" into the whole 28×28 frame, centred by its box.
MODES = ("digit", "fill")
# MNIST's centre of mass sits at (14, 14) in pixel-index coordinates (mean over the shipped sample
# is 13.98, 14.02), so a digit is translated to put its own centre of mass there.
CENTRE = 14.0
# Below this contrast (on a 0..1 scale) between the darkest and lightest pixel nothing was drawn.
MIN_CONTRAST = 0.1
# Ink weaker than this fraction of the strongest stroke is treated as background noise (JPEG
# ringing, paper texture); it decides the bounding box, so it must stay small for clean input.
NOISE_FLOOR = 0.05
# Large images are box-averaged down to at most this side before any float work.
WORK_SIDE = 1024
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as Pillow's "L"

BLANK_MESSAGE = "draw something first: the image has no ink"
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"), (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x01\x00", "ICO"), (b"%PDF", "PDF"), (b"<svg", "SVG"), (b"<?xml", "XML/SVG"),
)


class PreprocessError(ValueError):
    """The input cannot be turned into a digit image; the message says why."""


class BlankImageError(PreprocessError):
    """Nothing was drawn."""


class InvalidImageError(PreprocessError):
    """The bytes are not a decodable PNG/JPEG (corrupt, truncated or not an image)."""


class UnsupportedImageError(PreprocessError):
    """A real image, but in a format other than PNG or JPEG."""


class ImageTooLargeError(PreprocessError):
    """The image header declares more pixels (or a longer side) than allowed."""


@dataclass(frozen=True)
class Preprocessed:
    """The steps from a drawing to the network's input.

    ``crop_box`` is ``(top, left, bottom, right)`` (bottom/right exclusive) of the ink in the
    decoded image; ``cropped`` is that region as ink (H, W); ``fitted`` is it resized into the
    box, (h, w) with max(h, w) == 20 for a digit and 28 for ``fill``; ``offset`` is
    ``(row, col)`` where ``fitted``'s top-left corner lands in the 28×28 ``image`` (float32,
    ink = 1); ``mode`` is how it was fitted.
    """

    image: np.ndarray
    crop_box: tuple[int, int, int, int]
    cropped: np.ndarray
    fitted: np.ndarray
    offset: tuple[int, int]
    polarity: str
    source_shape: tuple[int, int]
    mode: str = "digit"


# ----- decoding --------------------------------------------------------------------------------
def sniff_format(data: bytes) -> str | None:
    """The image format named by the first bytes (``"PNG"``, ``"JPEG"``, ``"GIF"``...) or None."""
    head = data[:16]
    if head[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    for magic, name in _SIGNATURES:
        if head.startswith(magic):
            return name
    return None


def _open(data: bytes, max_pixels: int, max_side: int) -> tuple[Image.Image, str]:
    """The image's header read and its size checked, no pixel decoded yet: ``(image, format)``."""
    if not data:
        raise InvalidImageError("the image is empty (0 bytes)")
    kind = sniff_format(data)
    if kind is None:
        raise InvalidImageError("the data is not an image: PNG or JPEG expected")
    if kind not in ("PNG", "JPEG"):
        raise UnsupportedImageError(f"{kind} images are not accepted: send PNG or JPEG")
    try:
        img = Image.open(io.BytesIO(data), formats=(kind,))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"the image is far too large ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImageError(f"cannot read the {kind} header ({exc})") from None
    width, height = img.size
    if width < 1 or height < 1:
        raise InvalidImageError(f"the {kind} image has no pixels ({width}×{height})")
    if width * height > max_pixels:
        raise ImageTooLargeError(f"the image is {width}×{height} = {width * height} pixels; at "
                                 f"most {max_pixels} are accepted")
    if max(width, height) > max_side:
        raise ImageTooLargeError(f"the image is {width}×{height}; the longest side accepted is "
                                 f"{max_side} pixels")
    return img, kind


def _pixels(img: Image.Image, kind: str, mode: str | None = None,
            dtype: type = np.uint8) -> np.ndarray:
    """The decoded pixels (converted to ``mode`` unless None) as ``dtype``; a corrupt or
    truncated file is an InvalidImageError."""
    try:
        img.load()
        return np.asarray(img if mode is None else img.convert(mode), dtype=dtype)
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as exc:
        raise InvalidImageError(f"the {kind} image is corrupt or truncated ({exc})") from None


def _rgba(img: Image.Image, kind: str) -> np.ndarray:
    """An opened image's pixels as RGBA float32 (H, W, 4) in [0, 1] (decode_image)."""
    if img.mode.startswith("I"):
        # 16-bit grayscale: Pillow's RGBA conversion would clip it, so scale by hand.
        gray = np.clip(_pixels(img, kind, dtype=np.float32) / 65535.0, 0.0, 1.0)
        return np.dstack([gray, gray, gray, np.ones_like(gray)])
    return _reduce(_pixels(img, kind, "RGBA"), WORK_SIDE)


def decode_image(data: bytes, max_pixels: int = 4_000_000, max_side: int = 4096) -> np.ndarray:
    """Decode PNG/JPEG bytes into RGBA float32 (H, W, 4) in [0, 1], with straight alpha.

    The size is read from the header and refused before any pixel is decoded. Images larger than
    ``WORK_SIDE`` are box-averaged down (alpha-weighted) so later steps stay cheap.
    """
    return _rgba(*_open(data, max_pixels, max_side))


def read_gray(data: bytes, max_pixels: int = 4_000_000,
              max_side: int = 4096) -> tuple[np.ndarray, str | None]:
    """PNG/JPEG bytes → ``(gray, polarity)`` as ``to_gray(decode_image(data))`` gives them.

    An opaque 8-bit gray image (the page's pad picture) skips the RGBA round trip: each level is
    looked up in the table of what the RGBA path makes of it, so the values are the same floats.
    """
    img, kind = _open(data, max_pixels, max_side)
    if img.mode == "L" and "transparency" not in img.info and max(img.size) <= WORK_SIDE:
        return _GRAY_LEVELS[_pixels(img, kind)], None
    return to_gray(_rgba(img, kind))


def _reduce(rgba: np.ndarray, side: int) -> np.ndarray:
    """uint8 RGBA (H, W, 4) → float32 RGBA in [0, 1], box-averaged by an integer factor so the
    longest side is at most ``side``. Colours are averaged weighted by alpha (premultiplied), so
    the invisible colour of transparent pixels never bleeds into strokes."""
    h, w = rgba.shape[:2]
    f = -(-max(h, w) // side)
    if f == 1:
        return np.multiply(rgba, np.float32(1 / 255), dtype=np.float32)  # one pass, one array
    ph, pw = -h % f, -w % f
    if ph or pw:
        rgba = np.pad(rgba, ((0, ph), (0, pw), (0, 0)), mode="edge")
    hh, ww = rgba.shape[0] // f, rgba.shape[1] // f
    alpha = rgba[..., 3].astype(np.uint32)
    a_sum = alpha.reshape(hh, f, ww, f).sum(axis=(1, 3), dtype=np.uint64)  # (hh, ww)
    out = np.empty((hh, ww, 4), dtype=np.float32)
    for c in range(3):
        weighted = (rgba[..., c] * alpha).reshape(hh, f, ww, f).sum(axis=(1, 3), dtype=np.uint64)
        out[..., c] = np.where(a_sum > 0, weighted / np.maximum(a_sum, 1) / 255.0, 0.0)
    out[..., 3] = a_sum / (255.0 * f * f)
    return out


# ----- colour → gray ---------------------------------------------------------------------------
def _border(a: np.ndarray) -> np.ndarray:
    """The outermost ring of a 2-D array (all of it when it is tiny)."""
    if min(a.shape) <= 2:
        return a.ravel()
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


def to_gray(rgba: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Flatten RGBA (H, W, 4) to gray (H, W) in [0, 1]; returns ``(gray, polarity)``.

    Transparency: when the background (the border) is transparent and the opaque part is a
    minority, the opaque pixels are strokes: alpha is the ink coverage whatever their colour
    (a canvas with dark strokes on a transparent background), and the result is light-on-dark
    ("alpha"). Otherwise transparent pixels are composited over the background's own gray and
    the polarity is left to :func:`preprocess_array` (None).
    """
    rgba = np.asarray(rgba, dtype=np.float32)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected RGBA of shape (H, W, 4), got {rgba.shape}")
    # Term by term, not a matrix product: BLAS would round differently by shape, and read_gray's
    # table must hold the very floats this gives.
    lum = rgba[..., 0] * LUMA[0] + rgba[..., 1] * LUMA[1] + rgba[..., 2] * LUMA[2]
    alpha = rgba[..., 3]
    if alpha.min() >= 1.0:
        return lum, None
    opaque = alpha >= 0.5
    if np.median(_border(alpha)) < 0.5:
        if opaque.mean() < 0.5:
            return alpha.copy(), "alpha"
        background = float(np.median(lum[opaque]))
    else:
        background = float(np.median(_border(lum)[_border(opaque)]))
    return lum * alpha + background * (1.0 - alpha), None


# What the RGBA path makes of each opaque gray level 0..255 (read_gray's table).
_GRAY_LEVELS = to_gray(_reduce(np.repeat(np.arange(256, dtype=np.uint8), 4).reshape(1, 256, 4)
                               | np.array([0, 0, 0, 255], dtype=np.uint8), WORK_SIDE))[0][0]
_GRAY_LEVELS.flags.writeable = False


# ----- geometry --------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1024)
def _resample_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) resampling weights; rows sum to 1 (cached, read-only: sizes repeat).

    Shrinking averages over area (each output pixel is the ink coverage of the input pixels it
    overlaps), the anti-aliasing that turns a fine drawing into gray levels as MNIST's were;
    enlarging interpolates linearly between pixel centres.
    """
    scale = n_in / n_out
    if scale >= 1.0:
        lo = np.arange(n_out)[:, None] * scale  # output pixel j spans [j*s, (j+1)*s) in input
        i = np.arange(n_in)[None, :]
        weights = np.clip(np.minimum(lo + scale, i + 1) - np.maximum(lo, i), 0.0, None)
    else:
        centres = (np.arange(n_out) + 0.5) * scale - 0.5  # in input pixel-centre coordinates
        centres = np.clip(centres, 0.0, n_in - 1)
        weights = np.maximum(0.0, 1.0 - np.abs(np.arange(n_in)[None, :] - centres[:, None]))
    weights = weights / weights.sum(axis=1, keepdims=True)
    weights.flags.writeable = False
    return weights


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Anti-aliased separable resize of a 2-D float image to (height, width)."""
    h, w = image.shape
    if (h, w) == (height, width):
        return image.astype(np.float32, copy=True)
    rows = _resample_matrix(h, height)  # (height, h)
    cols = _resample_matrix(w, width)  # (width, w)
    return (rows @ image.astype(np.float64) @ cols.T).astype(np.float32)


def fit_box(cropped: np.ndarray, side: int = BOX_SIDE) -> np.ndarray:
    """Resize so the longer side is ``side``, preserving the aspect ratio."""
    h, w = cropped.shape
    scale = side / max(h, w)
    return resize(cropped, max(1, round(h * scale)), max(1, round(w * scale)))


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, col) centre of mass in pixel-index coordinates."""
    total = float(image.sum())
    rows = np.arange(image.shape[0], dtype=np.float64)
    cols = np.arange(image.shape[1], dtype=np.float64)
    return (float(image.sum(axis=1) @ rows) / total, float(image.sum(axis=0) @ cols) / total)


def place_by_centre_of_mass(fitted: np.ndarray,
                            side: int = MNIST_SIDE) -> tuple[np.ndarray, tuple[int, int]]:
    """Put ``fitted`` into a ``side``×``side`` field with its centre of mass at (14, 14),
    shifted by whole pixels and kept inside the field. Returns ``(image, (row, col))``."""
    h, w = fitted.shape
    cy, cx = centre_of_mass(fitted)
    centre = CENTRE * side / MNIST_SIDE
    top = int(np.clip(np.floor(centre - cy + 0.5), 0, side - h))
    left = int(np.clip(np.floor(centre - cx + 0.5), 0, side - w))
    out = np.zeros((side, side), dtype=np.float32)
    out[top:top + h, left:left + w] = fitted
    return out, (top, left)


# ----- the pipeline ----------------------------------------------------------------------------
def detect_polarity(gray: np.ndarray) -> str:
    """``"dark-on-light"`` when the border (the background) is light, else ``"light-on-dark"``."""
    return "dark-on-light" if float(np.median(_border(gray))) > 0.5 else "light-on-dark"


def ink_map(gray: np.ndarray, polarity: str) -> np.ndarray:
    """Ink coverage in [0, 1]: distance from the background level, stretched so the strongest
    stroke is 1 (any ink colour counts fully) and faint noise below ``NOISE_FLOOR`` is 0."""
    background = float(np.median(_border(gray)))
    if polarity == "dark-on-light":
        distance = background - gray
    elif polarity in ("light-on-dark", "alpha"):
        distance = gray - background
    else:
        raise ValueError(f"unknown polarity {polarity!r}")
    peak = float(distance.max())
    if peak < MIN_CONTRAST:
        raise BlankImageError(BLANK_MESSAGE)
    floor = NOISE_FLOOR * peak
    return np.clip((distance - floor) / (peak - floor), 0.0, 1.0).astype(np.float32)


def place_centred(fitted: np.ndarray,
                  side: int = MNIST_SIDE) -> tuple[np.ndarray, tuple[int, int]]:
    """Put ``fitted`` in the middle of a ``side``×``side`` field (its box centred, the odd pixel
    going to the bottom/right). Returns ``(image, (row, col))``."""
    h, w = fitted.shape
    top, left = (side - h) // 2, (side - w) // 2
    out = np.zeros((side, side), dtype=np.float32)
    out[top:top + h, left:left + w] = fitted
    return out, (top, left)


def preprocess_array(gray: np.ndarray, polarity: str | None = None,
                     mode: str = "digit") -> Preprocessed:
    """Gray image (H, W) float in [0, 1], either polarity → a 28×28 input (ink = 1).

    Steps: polarity from the border (unless given), ink map, crop to the ink's bounding box,
    fit preserving the aspect ratio (anti-aliased), stretch to full contrast, then place:
    ``digit`` fits into 20×20 and places by centre of mass in 28×28 (MNIST); ``fill`` fits the
    longer side to 28 and centres the box (Fashion-MNIST). A drawing without ink raises
    BlankImageError.
    """
    if mode not in MODES:
        raise ValueError(f"unknown preprocessing mode {mode!r}; modes: {', '.join(MODES)}")
    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2 or gray.size == 0:
        raise ValueError(f"expected a non-empty 2-D gray image, got shape {gray.shape}")
    if not np.all(np.isfinite(gray)):
        raise ValueError("the gray image contains NaN or infinity")
    gray = np.clip(gray, 0.0, 1.0)
    polarity = polarity or detect_polarity(gray)
    ink = ink_map(gray, polarity)
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    box = (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
    cropped = ink[box[0]:box[2], box[1]:box[3]]
    fitted = fit_box(cropped, BOX_SIDE if mode == "digit" else MNIST_SIDE)
    # Thin strokes lose contrast when shrunk; MNIST digits always reach full ink.
    fitted = np.clip(fitted / max(float(fitted.max()), 1e-6), 0.0, 1.0).astype(np.float32)
    place = place_by_centre_of_mass if mode == "digit" else place_centred
    image, offset = place(fitted)
    return Preprocessed(image=image, crop_box=box, cropped=cropped, fitted=fitted, offset=offset,
                        polarity=polarity, source_shape=(int(gray.shape[0]), int(gray.shape[1])),
                        mode=mode)


def preprocess_image(data: bytes, max_pixels: int = 4_000_000, max_side: int = 4096,
                     mode: str = "digit") -> Preprocessed:
    """PNG/JPEG bytes → :class:`Preprocessed` (decode, composite, gray, then preprocess_array)."""
    gray, polarity = read_gray(data, max_pixels, max_side)
    return preprocess_array(gray, polarity, mode)


def is_blank(pixels: np.ndarray) -> bool:
    """True when an MNIST-like input (ink = 1) has no pixel of noticeable ink."""
    return float(np.max(pixels, initial=0.0)) < MIN_CONTRAST
