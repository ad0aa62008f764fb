"""Convolution → ReLU → k×k max pooling (stride k) as one block: the speed path for training and
plain inference. The layer-by-layer passes stay the reference; tests hold the two together.

Why it is faster (book ch. 7.4 plus two exact identities): max pooling commutes with adding a
per-channel bias and with ReLU, so both run on the pooled quarter of the values; and im2col
columns ordered (n, dy, dx, i, j), one contiguous block per window offset (dy, dx), make pooling
k*k - 1 contiguous maxima and the whole batch a single GEMM.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from .functional import conv_output_size, note_winner, pad_hw, strided_view
from .layers import Convolution, Layer, MaxPooling, Params, ReLU


def fusable(conv: Layer, relu: Layer, pool: Layer, in_channels: int = 1) -> bool:
    """True for convolution, ReLU, then max pooling whose windows tile (stride = size, no pad),
    on a single-channel input. With many input channels the pooled-column gather and its
    scatter (inner runs of PW values at stride k) cost more than the plain unfold they replace
    (deep_convnet's 16- and 32-channel blocks are slower fused)."""
    return (in_channels == 1 and isinstance(conv, Convolution) and type(relu) is ReLU
            and isinstance(pool, MaxPooling) and pool.stride == pool.pool_size and pool.pad == 0)


@lru_cache(maxsize=256)
def pooled_geometry(x_shape: tuple[int, ...], kh: int, kw: int, stride: int, pad: int,
                    k: int) -> tuple[int, int]:
    """(PH, PW): the pooled output size, ``PH = OH // k`` with ``OH`` the conv output height
    (the conv outputs past the last whole pooling window are never computed)."""
    _, _, h, w = x_shape
    oh = conv_output_size(h, kh, stride, pad)
    ow = conv_output_size(w, kw, stride, pad)
    return conv_output_size(oh, k, k), conv_output_size(ow, k, k)


def pooled_columns(x: np.ndarray, kh: int, kw: int, stride: int, pad: int, k: int) -> np.ndarray:
    """im2col, channel-major, with the conv outputs grouped by their offset in a pooling window.

    Input: (N, C, H, W)
    Output: (C*KH*KW, N*k*k*PH*PW); column ``((n*k + dy)*k + dx)*PH*PW + i*PW + j`` holds the
    window of conv output ``(k*i + dy, k*j + dx)``, rows ordered (c, ky, kx).

    Built in two copies, faster than one: the entry for (ky, dy, i) reads input row
    ``a + stride*k*i`` with ``a = stride*dy + ky``, so only ``A = stride*(k-1) + KH`` distinct
    row phases exist (6 for a 5×5 kernel and 2×2 pool, against 5*2 = 10 (ky, dy) pairs), likewise
    for columns. The slow strided gather makes just those (A, B, N, C, PH, PW) planes; every
    column block is then a contiguous plane copied whole.
    """
    n, c = x.shape[:2]
    ph, pw = pooled_geometry(x.shape, kh, kw, stride, pad, k)
    xp = pad_hw(x, pad)
    sn, sc, sh, sw = xp.strides
    a, b, step = stride * (k - 1) + kh, stride * (k - 1) + kw, stride * k
    planes = strided_view(xp, (a, b, n, c, ph, pw),
                          (sh, sw, sn, sc, step * sh, step * sw)).copy()  # (A, B, N, C, PH, PW)
    pa, pb, pn, pc = planes.strides[:4]
    view = strided_view(planes, (c, kh, kw, n, k, k, ph * pw),
                        (pc, pa, pb, pn, stride * pa, stride * pb, planes.itemsize))
    return view.reshape(c * kh * kw, n * k * k * ph * pw)  # (C*KH*KW, N*k*k*PH*PW)


def scatter_pooled_columns(cols: np.ndarray, x_shape: tuple[int, int, int, int], kh: int, kw: int,
                           stride: int, pad: int, k: int) -> np.ndarray:
    """The adjoint of :func:`pooled_columns`: sum every column back onto its window.

    Input: (C*KH*KW, N*k*k*PH*PW)
    Output: (N, C, H, W) = ``x_shape``
    """
    n, c, h, w = x_shape
    ph, pw = pooled_geometry(x_shape, kh, kw, stride, pad, k)
    if cols.shape != (c * kh * kw, n * k * k * ph * pw):
        raise ValueError(f"cols has shape {cols.shape}, expected "
                         f"{(c * kh * kw, n * k * k * ph * pw)}")
    parts = cols.reshape(c, kh, kw, n, k, k, ph, pw)
    img = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=cols.dtype)
    step = k * stride
    for ky in range(kh):
        for kx in range(kw):
            for dy in range(k):
                y0 = dy * stride + ky
                for dx in range(k):
                    x0 = dx * stride + kx
                    target = img[:, :, y0:y0 + step * ph:step, x0:x0 + step * pw:step]
                    target += parts[:, ky, kx, :, dy, dx].transpose(1, 0, 2, 3)
    return img[:, :, pad:pad + h, pad:pad + w]


class FusedCache(NamedTuple):
    cols: np.ndarray  # (C*KH*KW, N*k*k*P)
    winner: np.ndarray  # (F, N, P) uint8: which window offset held each maximum
    pooled: np.ndarray  # (F, N, P) the block's output before the NCHW transpose
    x_shape: tuple[int, ...]


class ConvReluPool:
    """The block's two passes, pure like the layers': conv parameters in, caches out.

    Input: (N, C, H, W)
    Output: (N, F, PH, PW), the same values as pool(relu(conv(x))) layer by layer
    """

    def __init__(self, conv: Convolution, pool: MaxPooling):
        self.conv = conv
        self.k = pool.pool_size

    def _geometry(self):
        c = self.conv
        return c.kernel_size, c.kernel_size, c.stride, c.pad, self.k

    def forward(self, p: Params, x: np.ndarray, train: bool = False) -> tuple[np.ndarray, Any]:
        n = x.shape[0]
        f = self.conv.out_channels
        kk = self.k * self.k
        ph, pw = pooled_geometry(x.shape, *self._geometry())
        cols = pooled_columns(x, *self._geometry())
        y = (p["weight"].reshape(f, -1) @ cols).reshape(f, n, kk, ph * pw)  # (F, N, k*k, P)
        if not train:  # inference: no winners, one allocation
            pooled = np.maximum(y[:, :, 0], y[:, :, 1]) if kk > 1 else y[:, :, 0].copy()
            for offset in range(2, kk):
                np.maximum(pooled, y[:, :, offset], out=pooled)
            return self._finish(p, pooled, n, ph, pw), None
        pooled = y[:, :, 0].copy()
        winner = np.zeros(pooled.shape, dtype=np.uint8)
        for offset in range(1, kk):
            view = y[:, :, offset]
            note_winner(winner, view, pooled, offset)
            np.maximum(pooled, view, out=pooled)
        return self._finish(p, pooled, n, ph, pw), FusedCache(cols, winner, pooled, x.shape)

    @staticmethod
    def _finish(p: Params, pooled: np.ndarray, n: int, ph: int, pw: int) -> np.ndarray:
        """Bias and ReLU on the pooled maxima in place; (F, N, P) → (N, F, PH, PW)."""
        pooled += p["bias"][:, None, None]
        np.maximum(pooled, 0, out=pooled)
        return np.ascontiguousarray(pooled.transpose(1, 0, 2)).reshape(n, -1, ph, pw)

    def backward(self, p: Params, cache: FusedCache, dout: np.ndarray,
                 need_dx: bool = True) -> tuple[np.ndarray | None, Params]:
        cols, winner, pooled, x_shape = cache
        f, n, count = pooled.shape
        kk = self.k * self.k
        dpooled = np.empty_like(pooled)  # (F, N, P): through the ReLU
        np.multiply(dout.reshape(n, f, count).transpose(1, 0, 2), pooled > 0, out=dpooled)
        dy = np.empty((f, n, kk, count), dtype=dout.dtype)  # every position written below
        for offset in range(kk):  # through the pooling: only each window's winner
            np.multiply(dpooled, winner == offset, out=dy[:, :, offset])
        dy = dy.reshape(f, -1)  # (F, N*k*k*P)
        w_mat = p["weight"].reshape(f, -1)
        grads = {"weight": (dy @ cols.T).reshape(p["weight"].shape),
                 "bias": dpooled.reshape(f, -1).sum(axis=1)}
        dx = None
        if need_dx:
            dx = scatter_pooled_columns(w_mat.T @ dy, x_shape, *self._geometry())
        return dx, grads
