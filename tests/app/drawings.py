"""Test images for the API: PNG/JPEG bytes, data URLs, and PNGs whose header lies about size."""

import base64
import io
import struct
import zlib

import numpy as np
from PIL import Image

from model.data import load_sample

SAMPLE = load_sample()


def encode(array: np.ndarray, fmt: str = "PNG", mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, fmt)
    return buffer.getvalue()


def drawing(index: int = 0, scale: int = 8, dark_on_light: bool = True, fmt: str = "PNG",
            transparent: bool = False) -> bytes:
    """Sample digit ``index`` drawn ``scale`` times larger on a 300×280 canvas, off-centre."""
    digit = Image.fromarray(SAMPLE["images"][index]).resize((28 * scale, 28 * scale),
                                                             Image.Resampling.BICUBIC)
    ink = np.zeros((280, 300), np.uint8)
    ink[20:20 + 28 * scale, 40:40 + 28 * scale] = np.asarray(digit)[:260, :260]
    if transparent:
        rgba = np.zeros((280, 300, 4), np.uint8)
        rgba[..., 3] = ink
        return encode(rgba, fmt, "RGBA")
    gray = 255 - ink if dark_on_light else ink
    return encode(np.dstack([gray] * 3), fmt)


def data_url(data: bytes, media: str = "image/png") -> str:
    return f"data:{media};base64," + base64.b64encode(data).decode("ascii")


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width×height but whose pixel data is a few bytes only."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 8)) + chunk(b"IEND", b""))


def pixels(index: int = 0) -> list[list[float]]:
    """Sample digit ``index`` as 28 rows of floats in [0, 1]."""
    return (SAMPLE["images"][index] / 255.0).tolist()
