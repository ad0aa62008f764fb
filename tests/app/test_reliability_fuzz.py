"""Property-based fuzzing of the image-decoding path (hypothesis): arbitrary bytes, mutated and
spliced PNG/JPEG files and arbitrary data URLs either give a valid 28×28 input or raise one of
the declared client errors (blank, invalid, unsupported, too large) — nothing else escapes."""

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from drawings import SAMPLE
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from app import service
from app.config import Settings
from model.dataset_registry import MNIST
from model.preprocess import (
    BlankImageError,
    ImageTooLargeError,
    InvalidImageError,
    PreprocessError,
    UnsupportedImageError,
    decode_image,
    preprocess_image,
)

DECLARED = (BlankImageError, ImageTooLargeError, InvalidImageError, UnsupportedImageError)
LIMITS = {"max_pixels": 200_000, "max_side": 1024}
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
# Pillow warns about huge declared sizes before the pixel limit refuses them; expected here.
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


def encode(array: np.ndarray, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **options)
    return buffer.getvalue()


def seeds() -> list[bytes]:
    """Valid files in many encodings: the shapes a mutation starts from."""
    digit = np.asarray(Image.fromarray(SAMPLE["images"][5]).resize((56, 56)))
    gray = 255 - digit
    rgb = np.dstack([gray, gray // 2, gray])
    rgba = np.dstack([gray, gray, gray, digit])
    out = [encode(gray, "PNG"), encode(rgb, "PNG", optimize=True), encode(rgba, "PNG"),
           encode(gray, "JPEG", quality=30),
           encode(rgb, "JPEG", progressive=True), encode(rgb, "JPEG", subsampling=0)]
    out.append(_save(Image.fromarray(gray).convert("P"), "PNG"))
    out.append(_save(Image.fromarray(gray).convert("1"), "PNG"))
    out.append(_save(Image.fromarray(gray.astype(np.uint16) * 257), "PNG"))
    out.append(_save(Image.fromarray(rgb).convert("CMYK"), "JPEG"))
    out.append(_save(Image.fromarray(rgba).convert("LA"), "PNG"))
    return out


def _save(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


SEEDS = seeds()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data)))


def png_with_header(width: int, height: int, depth: int, colour: int, body: bytes) -> bytes:
    """A PNG with a valid-CRC header of any declared size/type and arbitrary image data."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(body)) + png_chunk(b"IEND", b""))


@st.composite
def mutated(draw) -> bytes:
    """A seed file with bytes flipped, cut, inserted or spliced from another seed."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "splice", "zero"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del data[max(1, at):]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif kind == "splice":
            other = draw(st.sampled_from(SEEDS))
            data[at:] = other[draw(st.integers(0, len(other) - 1)):]
        elif kind == "zero":
            data[at:at + draw(st.integers(1, 64))] = bytes(min(64, len(data) - at))
    return bytes(data)


def check(data: bytes) -> None:
    """The property: a finite 28×28 float32 image in [0, 1], or a declared client error."""
    try:
        result = preprocess_image(data, **LIMITS)
    except PreprocessError as exc:
        assert isinstance(exc, DECLARED), repr(exc)
        assert str(exc), "an error without a message"
        return
    image = result.image
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert np.all(np.isfinite(image)) and image.min() >= 0.0 and image.max() <= 1.0


@FUZZ
@given(st.binary(max_size=4096))
@example(b"")
@example(b"\x89PNG\r\n\x1a\n")
@example(b"\xff\xd8\xff")
@example(b"GIF89a")
def test_arbitrary_bytes(data):
    check(data)


@FUZZ
@given(st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb"]),
       st.binary(max_size=2048))
def test_arbitrary_bytes_behind_a_real_signature(magic, rest):
    check(magic + rest)


@FUZZ
@given(mutated())
def test_mutated_and_spliced_png_and_jpeg(data):
    check(data)


@FUZZ
@given(width=st.integers(0, 2**31 - 1), height=st.integers(0, 2**31 - 1),
       mode=st.sampled_from([(1, 0), (8, 0), (16, 0), (8, 2), (8, 3), (8, 4), (8, 6), (16, 6),
                             (3, 0), (8, 7)]),
       body=st.binary(max_size=512))
@example(width=1, height=1, mode=(8, 0), body=b"\0\0")
@example(width=100_000, height=100_000, mode=(8, 0), body=b"")
def test_png_headers_that_lie(width, height, mode, body):
    check(png_with_header(width, height, *mode, body))


def test_every_seed_decodes():
    for data in SEEDS:
        assert decode_image(data, **LIMITS).shape[2] == 4


@FUZZ
@given(st.one_of(st.text(max_size=300),
                 st.builds(lambda media, payload: f"data:{media};base64,{payload}",
                           st.sampled_from(["image/png", "image/jpeg", "IMAGE/PNG", "image/gif",
                                            "text/plain", ""]),
                           st.one_of(st.text(max_size=200),
                                     st.binary(max_size=600).map(
                                         lambda b: base64.b64encode(b).decode())))))
def test_arbitrary_data_urls(url):
    settings_ = Settings(max_image_pixels=LIMITS["max_pixels"], max_image_side=LIMITS["max_side"])
    try:
        prepared = service.prepare(url, None, settings_, MNIST)
    except PreprocessError as exc:
        assert isinstance(exc, DECLARED), repr(exc)
        return
    assert prepared.image.shape == (28, 28)


@pytest.mark.parametrize("data", SEEDS[:3])
def test_uploads_of_mutated_files_are_answered_with_declared_statuses(client, data):
    """Through HTTP too: every mutation of a real file gets 200 or a declared 4xx."""
    rng = np.random.default_rng(len(data))
    for _ in range(40):
        broken = bytearray(data)
        for at in rng.integers(0, len(broken), size=rng.integers(1, 8)):
            broken[at] ^= int(rng.integers(1, 256))
        r = client.post("/api/predict/file", files={"file": ("x.png", bytes(broken), "image/png")})
        assert r.status_code in (200, 400, 413, 415, 422), r.text
        assert r.headers["content-type"] == "application/json"
