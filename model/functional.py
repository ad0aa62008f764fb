"""Pure array functions behind the layers: im2col/unfold and their adjoint, output sizes, softmax.

Reference: Saito, "Deep Learning from Scratch", ch. 7.4 (im2col turns convolution into one GEMM).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import as_strided


@lru_cache(maxsize=1024)  # called per layer per pass with a handful of distinct arguments
def conv_output_size(size: int, kernel: int, stride: int = 1, pad: int = 0) -> int:
    """Integer output length of a convolution or pooling window along one axis.

    ``out = (size + 2*pad - kernel) // stride + 1``; a ValueError if the window does not fit.
    """
    for label, value in (("size", size), ("kernel", kernel), ("stride", stride), ("pad", pad)):
        if int(value) != value:
            raise ValueError(f"{label} must be an integer, got {value!r}")
    if kernel < 1 or stride < 1 or pad < 0:
        raise ValueError(f"need kernel >= 1, stride >= 1, pad >= 0 (got {kernel}, {stride}, {pad})")
    span = size + 2 * pad - kernel
    if span < 0:
        raise ValueError(f"kernel {kernel} does not fit input {size} with padding {pad}")
    return span // stride + 1


def pad_hw(x: np.ndarray, pad: int, value: float = 0.0) -> np.ndarray:
    """Pad the two trailing spatial axes of (N, C, H, W) by ``pad`` on each side."""
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=value)


def windows(x: np.ndarray, kh: int, kw: int, stride: int = 1, pad: int = 0,
            pad_value: float = 0.0) -> np.ndarray:
    """A read-only strided view of every (kh, kw) window, without copying.

    Input: (N, C, H, W)
    Output: (N, C, OH, OW, KH, KW), ``OH = (H + 2*pad - KH) // stride + 1`` (same for OW)
    """
    n, c, h, w = x.shape
    oh = conv_output_size(h, kh, stride, pad)
    ow = conv_output_size(w, kw, stride, pad)
    xp = pad_hw(x, pad, pad_value)
    sn, sc, sh, sw = xp.strides
    return strided_view(xp, (n, c, oh, ow, kh, kw), (sn, sc, sh * stride, sw * stride, sh, sw))


def strided_view(x: np.ndarray, shape: tuple[int, ...], strides: tuple[int, ...]) -> np.ndarray:
    """A read-only view of ``x`` with the given shape and byte strides (no bounds check: the
    callers derive them from ``x``'s own shape). For a C-contiguous ``x`` the view is made by the
    ndarray constructor, which costs less than ``as_strided`` (that matters for single images)."""
    if x.flags.c_contiguous:
        view = np.ndarray(shape, x.dtype, x, 0, strides)
        view.flags.writeable = False
        return view
    return as_strided(x, shape, strides, writeable=False)


def unfold(x: np.ndarray, kh: int, kw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Per-image column matrices (PyTorch's ``unfold`` layout), what the conv layer multiplies.

    Input: (N, C, H, W)
    Output: (N, C*KH*KW, OH*OW); column ``i*OW + j`` of image n is its window at output (i, j),
    rows ordered (c, ky, kx) to match a weight reshaped from (F, C, KH, KW) to (F, C*KH*KW).
    """
    n, c = x.shape[:2]
    win = windows(x, kh, kw, stride, pad)  # (N, C, OH, OW, KH, KW)
    oh, ow = win.shape[2:4]
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)  # copies once


def fold(cols: np.ndarray, x_shape: tuple[int, int, int, int], kh: int, kw: int,
         stride: int = 1, pad: int = 0) -> np.ndarray:
    """The adjoint of :func:`unfold`: sum every column back onto its window of the image.

    Input: (N, C*KH*KW, OH*OW)
    Output: (N, C, H, W) = ``x_shape``
    """
    n, c, h, w = x_shape
    oh = conv_output_size(h, kh, stride, pad)
    ow = conv_output_size(w, kw, stride, pad)
    if cols.shape != (n, c * kh * kw, oh * ow):
        raise ValueError(f"cols has shape {cols.shape}, expected {(n, c * kh * kw, oh * ow)}")
    return scatter_windows(cols.reshape(n, c, kh, kw, oh, ow), x_shape, stride, pad)


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Unfold every receptive field into one row, so convolution becomes one matrix product
    (the book's layout, ch. 7.4).

    Input: (N, C, H, W)
    Output: (N*OH*OW, C*KH*KW); row ``(n*OH + i)*OW + j`` holds the window at output (i, j),
    its columns ordered (c, ky, kx) to match a weight reshaped from (F, C, KH, KW) to (F, C*KH*KW).
    """
    n, c = x.shape[:2]
    win = windows(x, kh, kw, stride, pad)  # (N, C, OH, OW, KH, KW)
    oh, ow = win.shape[2:4]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)  # copies once


def scatter_windows(cols: np.ndarray, x_shape: tuple[int, int, int, int], stride: int,
                    pad: int) -> np.ndarray:
    """Sum per-window values back onto the (unpadded) image they were taken from.

    Input: (N, C, KH, KW, OH, OW)
    Output: (N, C, H, W)
    """
    n, c, h, w = x_shape
    _, _, kh, kw, oh, ow = cols.shape
    img = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=cols.dtype)
    for y in range(kh):
        y_end = y + stride * oh
        for x in range(kw):
            x_end = x + stride * ow
            img[:, :, y:y_end:stride, x:x_end:stride] += cols[:, :, y, x]
    return img[:, :, pad : pad + h, pad : pad + w]


def note_winner(winner: np.ndarray, candidate: np.ndarray, best: np.ndarray,
                offset: int) -> None:
    """Record in ``winner`` (uint8, in place) the window offset holding each maximum, before
    ``best`` takes ``candidate`` into its running maximum. Offsets arrive in increasing order
    and only a strictly greater value counts, so the first maximum wins (as argmax) and the
    winner is the largest offset that beat the running maximum: one uint8 maximum, no masked
    copy (``np.copyto`` with ``where=`` is much slower)."""
    better = np.greater(candidate, best).view(np.uint8)
    np.maximum(winner, better * np.uint8(offset), out=winner)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so large logits cannot overflow.

    Input: (N, K) -> Output: (N, K)
    """
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e

