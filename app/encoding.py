"""Compact array encodings for JSON answers: base64 of uint8 (per-array min/max scale), float16
and float32 (little-endian, C order), and float32 values as the shortest JSON numbers."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def finite_range(values: np.ndarray) -> tuple[float, float]:
    """(min, max) as float32-exact Python floats; (0, 0) for an empty array."""
    if values.size == 0:
        return 0.0, 0.0
    return float32_value(values.min()), float32_value(values.max())


def float32_value(value) -> float:
    """A float32 as the shortest decimal that reads back to the same float32 (short JSON)."""
    return float(str(np.float32(value)))


def float32_list(values: np.ndarray) -> list:
    """Nested lists of shortest-decimal floats, one level per axis."""
    arr = np.asarray(values, dtype=np.float32)
    if arr.ndim == 0:
        return float32_value(arr)
    if arr.ndim == 1:
        return [float(str(v)) for v in arr]
    return [float32_list(row) for row in arr]


def quantize_uint8(values: np.ndarray) -> tuple[float, float, bytes]:
    """Quantise to bytes ``q`` with ``value ≈ min + q * (max - min) / 255`` (C order).

    The error is at most half a step, ``(max - min) / 510``; a constant array gives all zeros.
    Returns ``(min, max, bytes)``.
    """
    arr = np.asarray(values, dtype=np.float64)
    lo, hi = finite_range(arr)
    if hi > lo:
        q = np.rint((arr - lo) * (255.0 / (hi - lo)))
        q = np.clip(q, 0, 255).astype(np.uint8)
    else:
        q = np.zeros(arr.shape, dtype=np.uint8)
    return lo, hi, np.ascontiguousarray(q).tobytes()


def encode_array(values: np.ndarray) -> dict[str, Any]:
    """An array as ``{shape, min, max, encoding: "uint8", data}``: :func:`quantize_uint8` in
    base64, the form of every feature map, heat map and matrix in the answers."""
    lo, hi, data = quantize_uint8(values)
    return {"shape": list(np.shape(values)), "min": lo, "max": hi, "encoding": "uint8",
            "data": b64(data)}


def encode_bytes(values: np.ndarray) -> dict[str, Any]:
    """Small non-negative integers (< 256) as ``{shape, encoding: "uint8", data}``, raw bytes
    in base64, unscaled."""
    arr = np.asarray(values)
    return {"shape": list(arr.shape), "encoding": "uint8",
            "data": b64(np.ascontiguousarray(arr, dtype=np.uint8).tobytes())}


def dequantize_uint8(data: bytes, lo: float, hi: float, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`quantize_uint8` (float64)."""
    q = np.frombuffer(data, dtype=np.uint8).astype(np.float64)
    return (lo + q * ((hi - lo) / 255.0)).reshape(shape)


def float32_bytes(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype="<f4").tobytes()


def float16_bytes(values: np.ndarray) -> bytes:
    """Little-endian float16, saturated at ±65504 so no value becomes infinite."""
    limit = float(np.finfo(np.float16).max)
    clipped = np.clip(np.asarray(values, dtype=np.float32), -limit, limit)
    return np.ascontiguousarray(clipped, dtype="<f2").tobytes()
