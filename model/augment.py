"""Training-time data augmentation, vectorised over the batch and driven by an explicit rng.

Simard et al. 2003 ("Best practices for CNNs applied to visual document analysis"): digits stay
digits when shifted, rotated, scaled a little or elastically distorted. Garments also stay
garments when mirrored, and random erasing (Zhong et al. 2017, "Random Erasing Data
Augmentation") hides a part of them.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def random_shift(x: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Move each image by an independent integer offset in [-max_shift, max_shift]² (zero fill).

    Input: (N, C, H, W) -> Output: (N, C, H, W), a new array
    """
    if max_shift <= 0:
        return x
    n, c, h, w = x.shape
    s = int(max_shift)
    padded = np.pad(x, ((0, 0), (0, 0), (s, s), (s, s)))
    views = sliding_window_view(padded, (h, w), axis=(2, 3))  # (N, C, 2s+1, 2s+1, H, W)
    dy = rng.integers(0, 2 * s + 1, size=n)
    dx = rng.integers(0, 2 * s + 1, size=n)
    return views[np.arange(n), :, dy, dx]  # (N, C, H, W)


def affine_warp(x: np.ndarray, angle: np.ndarray, scale: np.ndarray, shift: np.ndarray,
                displacement: np.ndarray | None = None) -> np.ndarray:
    """Rotate (degrees, counter-clockwise on screen), scale and translate each image about its
    centre, then optionally displace every pixel; bilinear sampling, zero outside the image.

    Input: x (N, C, H, W); angle (N,); scale (N,); shift (N, 2) as (dy, dx) pixels;
    displacement (N, 2, H, W) as (dy, dx) source offsets per output pixel, or None
    Output: (N, C, H, W), a new array. Zero angle and shift, unit scale and no displacement
    give ``x`` back exactly.
    """
    n, c, h, w = x.shape
    angle = np.asarray(angle, dtype=np.float64).reshape(n, 1, 1)
    scale = np.asarray(scale, dtype=np.float64).reshape(n, 1, 1)
    shift = np.asarray(shift, dtype=np.float64).reshape(n, 2)
    if np.any(scale <= 0):
        raise ValueError("scale factors must be positive")
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    gy, gx = np.meshgrid(np.arange(h, dtype=np.float64) - cy, np.arange(w, dtype=np.float64) - cx,
                         indexing="ij")
    # Inverse map: output pixel p samples the source at R(-angle) (p - centre - shift) / scale.
    ty = gy[None] - shift[:, 0, None, None]  # (N, H, W)
    tx = gx[None] - shift[:, 1, None, None]
    rad = np.deg2rad(angle)
    cos, sin = np.cos(rad), np.sin(rad)
    # y points down, so a counter-clockwise turn on screen is (y, x) -> (y cos - x sin, ...).
    src_y = (cos * ty + sin * tx) / scale + cy
    src_x = (-sin * ty + cos * tx) / scale + cx
    if displacement is not None:
        src_y = src_y + displacement[:, 0]
        src_x = src_x + displacement[:, 1]
    return bilinear_sample(x, src_y, src_x)


def bilinear_sample(x: np.ndarray, src_y: np.ndarray, src_x: np.ndarray) -> np.ndarray:
    """Sample every image at fractional source coordinates, zero outside.

    Input: x (N, C, H, W); src_y, src_x (N, H, W) -> Output: (N, C, H, W)
    """
    n, c, h, w = x.shape
    y0 = np.floor(src_y).astype(np.int64)
    x0 = np.floor(src_x).astype(np.int64)
    fy = (src_y - y0).astype(x.dtype)[:, None]  # (N, 1, H, W)
    fx = (src_x - x0).astype(x.dtype)[:, None]
    flat = x.reshape(n, c, h * w)
    batch = np.arange(n)[:, None, None]

    def tap(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)  # (N, H, W)
        idx = np.where(inside, yy * w + xx, 0)
        vals = flat[batch, :, idx]  # (N, H, W, C)
        return vals.transpose(0, 3, 1, 2) * inside[:, None]  # (N, C, H, W)

    top = tap(y0, x0) * (1 - fx) + tap(y0, x0 + 1) * fx
    bottom = tap(y0 + 1, x0) * (1 - fx) + tap(y0 + 1, x0 + 1) * fx
    return (top * (1 - fy) + bottom * fy).astype(x.dtype, copy=False)


def gaussian_smooth(field: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of the two trailing axes, zero padding, kernel radius 2·sigma.

    Input: (..., H, W) -> Output: same shape
    """
    radius = max(int(np.ceil(2 * sigma)), 1)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = field
    for axis in (-2, -1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad)
        size = out.shape[axis]
        acc = np.zeros_like(out)
        for i, t in enumerate(taps):
            acc += t * np.take(padded, np.arange(i, i + size), axis=axis)
        out = acc
    return out


def elastic_field(n: int, h: int, w: int, alpha: float, sigma: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Simard et al. 2003 elastic distortion: uniform(-1, 1) displacements smoothed by a
    Gaussian of width ``sigma`` and scaled by ``alpha`` pixels.

    Output: (N, 2, H, W) as (dy, dx)
    """
    noise = rng.uniform(-1.0, 1.0, size=(n, 2, h, w))
    return alpha * gaussian_smooth(noise, sigma)


def random_distort(x: np.ndarray, rng: np.random.Generator, shift: float = 0.0,
                   rotation: float = 0.0, scale: float = 0.0, elastic_alpha: float = 0.0,
                   elastic_sigma: float = 4.0) -> np.ndarray:
    """Random affine (and optionally elastic) distortion, independent per image: translation
    uniform in [-shift, shift]² pixels, angle uniform in [-rotation, rotation] degrees, scale
    factor uniform in [1 - scale, 1 + scale]. Labels are untouched: digits stay the same digit.

    Input: (N, C, H, W) -> Output: (N, C, H, W), a new array
    """
    for label, value in (("shift", shift), ("rotation", rotation), ("scale", scale),
                         ("elastic_alpha", elastic_alpha)):
        if value < 0:
            raise ValueError(f"{label} must be non-negative, got {value}")
    if not 0 <= scale < 1:
        raise ValueError(f"scale must be in [0, 1), got {scale}")
    if elastic_sigma <= 0:
        raise ValueError(f"elastic_sigma must be positive, got {elastic_sigma}")
    n, _, h, w = x.shape
    angles = rng.uniform(-rotation, rotation, size=n)
    factors = rng.uniform(1 - scale, 1 + scale, size=n)
    offsets = rng.uniform(-shift, shift, size=(n, 2))
    field = elastic_field(n, h, w, elastic_alpha, elastic_sigma, rng) if elastic_alpha else None
    return affine_warp(x, angles, factors, offsets, field)


def random_flip(x: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Mirror each image left-right with probability ``p`` (a shoe facing the other way is still
    a shoe; a mirrored 3 is not a 3, so this is for garments).

    Input: (N, C, H, W) -> Output: (N, C, H, W), a new array
    """
    if not 0 <= p <= 1:
        raise ValueError(f"flip probability must be in [0, 1], got {p}")
    chosen = rng.random(len(x)) < p
    out = x.copy()
    out[chosen] = x[chosen, :, :, ::-1]
    return out


def random_erase(x: np.ndarray, p: float, rng: np.random.Generator,
                 area: tuple[float, float] = (0.02, 0.25),
                 aspect: tuple[float, float] = (0.3, 3.3)) -> np.ndarray:
    """Random erasing (Zhong et al. 2017): with probability ``p`` an image gets one rectangle of
    ``area`` (fraction of the image) and ``aspect`` (height / width, log-uniform) filled with
    uniform noise in [0, 1].

    Input: (N, C, H, W) -> Output: (N, C, H, W), a new array
    """
    if not 0 <= p <= 1:
        raise ValueError(f"erase probability must be in [0, 1], got {p}")
    n, c, h, w = x.shape
    chosen = rng.random(n) < p
    target = rng.uniform(area[0], area[1], size=n) * h * w
    ratio = np.exp(rng.uniform(np.log(aspect[0]), np.log(aspect[1]), size=n))
    eh = np.clip(np.round(np.sqrt(target * ratio)), 1, h).astype(np.int64)
    ew = np.clip(np.round(np.sqrt(target / ratio)), 1, w).astype(np.int64)
    top = rng.integers(0, h - eh + 1)
    left = rng.integers(0, w - ew + 1)
    rows = np.arange(h)[None, :, None]
    cols = np.arange(w)[None, None, :]
    inside = ((rows >= top[:, None, None]) & (rows < (top + eh)[:, None, None])
              & (cols >= left[:, None, None]) & (cols < (left + ew)[:, None, None]))
    inside &= chosen[:, None, None]  # (N, H, W)
    noise = rng.random((n, c, h, w), dtype=np.float32).astype(x.dtype, copy=False)
    return np.where(inside[:, None], noise, x)
