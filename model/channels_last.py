"""Runs of convolution → ReLU → max pooling in channels-last (NHWC) layout: the speed path for
training and plain inference of multi-channel conv stacks (DeepConvNet, book ch. 8.1). The
layer-by-layer passes stay the reference; tests hold the two together.

Why NHWC (as oneDNN and cuDNN prefer for small channel counts): every window of a padded
(N, H, W, C) image is KH rows of KW*C contiguous values, so im2col is one strided copy to
(N*OH*OW, KH*KW*C) and the whole batch one GEMM whose (N*OH*OW, F) result is already the next
layer's NHWC input (no transpose). ReLU and the bias run in place; a max pool that follows runs
first on the raw GEMM output, as max pooling commutes with a per-channel bias and with ReLU
(model/fused.py). The input gradient of a stride-1 convolution is the convolution of the padded
output gradient with the flipped kernel: one im2col and one GEMM instead of col2im's KH*KW
strided scatter-adds.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .functional import conv_output_size, note_winner, strided_view
from .layers import Convolution, Layer, MaxPooling, Params, ReLU


def pad_nhwc(x: np.ndarray, pad: int, value: float = 0.0) -> np.ndarray:
    """Input: (N, H, W, C) -> Output: (N, H + 2*pad, W + 2*pad, C), borders ``value``."""
    if pad == 0:
        return x
    n, h, w, c = x.shape
    out = np.empty((n, h + 2 * pad, w + 2 * pad, c), dtype=x.dtype)
    out[:, :pad] = value
    out[:, pad + h:] = value
    out[:, pad:pad + h, :pad] = value
    out[:, pad:pad + h, pad + w:] = value
    out[:, pad:pad + h, pad:pad + w] = x
    return out


def im2col_nhwc(x: np.ndarray, kh: int, kw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Every window as one row, in one copy.

    Input: (N, H, W, C)
    Output: (N*OH*OW, KH*KW*C), ``OH = (H + 2*pad - KH) // stride + 1`` (same for OW); row
    ``(n*OH + i)*OW + j`` is the window at output (i, j), columns ordered (ky, kx, c) to match a
    weight transposed from (F, C, KH, KW) to (KH, KW, C, F) and reshaped to (KH*KW*C, F).
    """
    n, h, w, c = x.shape
    oh = conv_output_size(h, kh, stride, pad)
    ow = conv_output_size(w, kw, stride, pad)
    xp = np.ascontiguousarray(pad_nhwc(x, pad))
    if c == 1:
        # One channel: runs of KW values would be copied one by one; KH*KW shifted planes
        # (runs of OW values) make the transposed matrix instead, which BLAS reads as well.
        planes = np.empty((kh, kw, n, oh, ow), dtype=x.dtype)
        for ky in range(kh):
            for kx in range(kw):
                planes[ky, kx] = xp[:, ky:ky + stride * oh:stride, kx:kx + stride * ow:stride, 0]
        return planes.reshape(kh * kw, n * oh * ow).T  # (N*OH*OW, KH*KW), F-ordered
    sn, sh, sw, sc = xp.strides
    view = strided_view(xp, (n, oh, ow, kh, kw, c), (sn, sh * stride, sw * stride, sh, sw, sc))
    return view.reshape(n * oh * ow, kh * kw * c)  # copies once


def weight_matrix(weight: np.ndarray) -> np.ndarray:
    """(F, C, KH, KW) -> (KH*KW*C, F), rows in im2col_nhwc's column order."""
    f = weight.shape[0]
    return weight.transpose(2, 3, 1, 0).reshape(-1, f)


def flipped_weight_matrix(weight: np.ndarray) -> np.ndarray:
    """(F, C, KH, KW) -> (KH*KW*F, C): the kernel turned by 180° with input and output channels
    swapped, what a stride-1 convolution's input gradient convolves the output gradient with."""
    c = weight.shape[1]
    return weight[:, :, ::-1, ::-1].transpose(2, 3, 0, 1).reshape(-1, c)


def pool_views(x: np.ndarray, k: int, stride: int, pad: int, oh: int, ow: int):
    """(offset, view) per pooling-window offset ``dy*k + dx``: the (N, OH, OW, C) strided view
    of ``x`` (NHWC, padded with -inf so padding never wins) at that offset of every window."""
    xp = pad_nhwc(x, pad, -np.inf)
    for dy in range(k):
        for dx in range(k):
            yield dy * k + dx, xp[:, dy:dy + stride * oh:stride, dx:dx + stride * ow:stride]


#: im2col rows are made and multiplied this many bytes at a time: a chunk and its GEMM stay in
#: the core's cache (one GEMM over a whole batch's columns runs at about half the speed).
CHUNK_BYTES = 1 << 20


class StageCache(NamedTuple):
    xp: np.ndarray  # (N, H + 2*pad, W + 2*pad, C) the stage's input, padded for the conv
    x_shape: tuple[int, ...]  # (N, H, W, C)
    out: np.ndarray  # (N, OH', OW', F) the stage's output (after ReLU and pooling)
    winner: np.ndarray | None  # (N, PH, PW, F) uint8: which window offset held each maximum
    y_shape: tuple[int, ...]  # (N, OH, OW, F): the conv output


class Stage:
    """One convolution with the ReLU and the max pooling after it (either may be absent), in
    NHWC, pure like the layers: parameters in, caches out.

    Input: (N, H, W, C)
    Output: (N, OH', OW', F), the values of pool(relu(conv(x))) layer by layer in NHWC, where
    ``OH = (H + 2*pad - KH) // stride + 1`` and, with pooling, ``OH' = (OH + 2*ppad - K) //
    pstride + 1`` (else OH' = OH); same for widths.
    """

    def __init__(self, conv: Convolution, relu: bool, pool: MaxPooling | None,
                 chunk_bytes: int = CHUNK_BYTES):
        self.conv, self.relu, self.pool = conv, relu, pool
        self.chunk_bytes = chunk_bytes

    def _conv_shape(self, x_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        n, h, w, _ = x_shape
        c = self.conv
        return (n, conv_output_size(h, c.kernel_size, c.stride, c.pad),
                conv_output_size(w, c.kernel_size, c.stride, c.pad), c.out_channels)

    def _chunk(self, rows_per_image: int, row_bytes: int) -> int:
        """Images per chunk: as many as fill ``chunk_bytes`` of rows, at least one."""
        return max(1, self.chunk_bytes // (rows_per_image * row_bytes))

    def forward(self, p: Params, x: np.ndarray, train: bool = False) -> tuple[np.ndarray, Any]:
        c = self.conv
        k, s = c.kernel_size, c.stride
        n, oh, ow, f = y_shape = self._conv_shape(x.shape)
        xp = pad_nhwc(x, c.pad)
        w_mat = weight_matrix(p["weight"])  # (KH*KW*C, F)
        y = np.empty((n * oh * ow, f), dtype=x.dtype)
        step = self._chunk(oh * ow, w_mat.shape[0] * x.itemsize)
        for i in range(0, n, step):
            cols = im2col_nhwc(xp[i:i + step], k, k, s)  # (chunk*OH*OW, KH*KW*C)
            np.matmul(cols, w_mat, out=y[i * oh * ow:(i + step) * oh * ow])
        y = y.reshape(y_shape)
        winner = None
        if self.pool is not None:  # before bias and ReLU: the same maxima on a quarter
            y, winner = self._pool_forward(y, train)
        y += p["bias"]
        if self.relu:
            np.maximum(y, 0, out=y)
        return y, (StageCache(xp, x.shape, y, winner, y_shape) if train else None)

    def _pool_forward(self, y: np.ndarray, train: bool) -> tuple[np.ndarray, np.ndarray | None]:
        pool = self.pool
        _, oh, ow, _ = y.shape
        ph = conv_output_size(oh, pool.pool_size, pool.stride, pool.pad)
        pw = conv_output_size(ow, pool.pool_size, pool.stride, pool.pad)
        views = pool_views(y, pool.pool_size, pool.stride, pool.pad, ph, pw)
        _, first = next(views)
        out = first.copy()
        winner = np.zeros(out.shape, dtype=np.uint8) if train else None
        for offset, view in views:
            if train:
                note_winner(winner, view, out, offset)
            np.maximum(out, view, out=out)
        return out, winner

    def backward(self, p: Params, cache: StageCache, dout: np.ndarray,
                 need_dx: bool = True) -> tuple[np.ndarray | None, Params]:
        """``dout`` (N, OH', OW', F) is the stage's own to overwrite (the chain makes it)."""
        xp, x_shape, out, winner, y_shape = cache
        n, oh, ow, f = y_shape
        if self.relu:
            np.multiply(dout, out > 0, out=dout)
        bias_grad = dout.reshape(-1, f).sum(axis=0)
        dy = self._pool_backward(dout, winner, y_shape) if self.pool is not None else dout
        dy2 = dy.reshape(-1, f)  # (N*OH*OW, F)
        c = self.conv
        k, s = c.kernel_size, c.stride
        weight = p["weight"]
        flipped = need_dx and s == 1 and c.pad <= k - 1
        dyp = pad_nhwc(dy, k - 1 - c.pad) if flipped else None
        w_flip = flipped_weight_matrix(weight) if flipped else None  # (KH*KW*F, C)
        dx = np.empty(x_shape, dtype=xp.dtype) if flipped else None
        hw = x_shape[1] * x_shape[2]
        dw = None
        # a chunk holds both im2col matrices: the input's (C wide) and the gradient's (F wide)
        step = self._chunk(oh * ow, k * k * (x_shape[3] + f) * xp.itemsize)
        for i in range(0, n, step):
            cols = im2col_nhwc(xp[i:i + step], k, k, s)  # (chunk*OH*OW, KH*KW*C)
            part = np.matmul(cols.T, dy2[i * oh * ow:(i + step) * oh * ow])  # (KH*KW*C, F)
            if dw is None:
                dw = part
            else:
                dw += part
            if flipped:
                # dx = dy padded by K-1-pad, correlated with the flipped kernel: a 'full'
                # correlation whose output is exactly H×W, since OH = H + 2*pad - K + 1.
                dcols = im2col_nhwc(dyp[i:i + step], k, k)  # (chunk*H*W, KH*KW*F)
                np.matmul(dcols, w_flip, out=dx.reshape(-1, dx.shape[3])[i * hw:(i + step) * hw])
        grads = {"weight": dw.reshape(k, k, weight.shape[1], f).transpose(3, 2, 0, 1).copy(),
                 "bias": bias_grad}
        if need_dx and not flipped:
            dx = self._scatter_input_grad(weight, dy, x_shape)
        return dx, grads

    def _pool_backward(self, dout: np.ndarray, winner: np.ndarray,
                       y_shape: tuple[int, ...]) -> np.ndarray:
        pool = self.pool
        k, s, pad = pool.pool_size, pool.stride, pool.pad
        n, oh, ow, f = y_shape
        ph, pw = dout.shape[1:3]
        overlapping = s < k
        tiles_exactly = not overlapping and pad == 0 and oh == s * ph and ow == s * pw
        alloc = np.empty if tiles_exactly and s == k else np.zeros
        dy = alloc((n, oh + 2 * pad, ow + 2 * pad, f), dtype=dout.dtype)
        for offset in range(k * k):
            oy, ox = divmod(offset, k)
            target = dy[:, oy:oy + s * ph:s, ox:ox + s * pw:s]
            if overlapping:
                target += dout * (winner == offset)
            else:  # each position belongs to at most one window: write, don't add
                np.multiply(dout, winner == offset, out=target)
        if pad:
            dy = np.ascontiguousarray(dy[:, pad:pad + oh, pad:pad + ow])
        return dy

    def _scatter_input_grad(self, weight: np.ndarray, dy: np.ndarray,
                            x_shape: tuple[int, ...]) -> np.ndarray:
        """col2im for strided or over-padded convolutions: each window's gradient added back."""
        c = self.conv
        k, s, pad = c.kernel_size, c.stride, c.pad
        n, h, w, channels = x_shape
        _, oh, ow, _ = dy.shape
        dcols = (dy.reshape(-1, dy.shape[3]) @ weight_matrix(weight).T).reshape(
            n, oh, ow, k, k, channels)
        dx = np.zeros((n, h + 2 * pad, w + 2 * pad, channels), dtype=dy.dtype)
        for ky in range(k):
            for kx in range(k):
                dx[:, ky:ky + s * oh:s, kx:kx + s * ow:s] += dcols[:, :, :, ky, kx]
        return np.ascontiguousarray(dx[:, pad:pad + h, pad:pad + w])


class ChainCache(NamedTuple):
    chain: ChannelsLastChain
    stages: list[StageCache]


class ChannelsLastChain:
    """A run of stages between one NCHW → NHWC transpose and one back.

    Input: (N, C, H, W) -> Output: (N, F, OH', OW'), the last stage's output in NCHW.
    ``names[i]`` is stage i's convolution's layer name (its parameters' owner); ``span`` is the
    number of layers the chain replaces.
    """

    def __init__(self, stages: list[tuple[str, Stage]], span: int):
        self.names = [name for name, _ in stages]
        self.stages = [stage for _, stage in stages]
        self.span = span

    def forward(self, params: list[Params], x: np.ndarray,
                train: bool = False) -> tuple[np.ndarray, ChainCache | None]:
        h = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # (N, H, W, C); free for C = 1
        caches = []
        for p, stage in zip(params, self.stages, strict=True):
            h, cache = stage.forward(p, h, train)
            caches.append(cache)
        out = np.ascontiguousarray(h.transpose(0, 3, 1, 2))
        return out, (ChainCache(self, caches) if train else None)

    def backward(self, params: list[Params], cache: ChainCache, dout: np.ndarray,
                 need_dx: bool = True) -> tuple[np.ndarray | None, list[Params]]:
        d = np.ascontiguousarray(dout.transpose(0, 2, 3, 1))  # a copy the stages may overwrite
        grads: list[Params] = [{}] * len(self.stages)
        for i in range(len(self.stages) - 1, -1, -1):
            d, grads[i] = self.stages[i].backward(params[i], cache.stages[i], d,
                                                  need_dx=need_dx or i > 0)
        dx = None if d is None else np.ascontiguousarray(d.transpose(0, 3, 1, 2))
        return dx, grads


def plan_chains(layers: list[tuple[str, Layer]], skip: set[int],
                min_stages: int = 2) -> dict[int, ChannelsLastChain]:
    """Chains by the index of their first layer: maximal runs of convolution [→ ReLU] [→ max
    pooling] over layers not in ``skip``, of at least ``min_stages`` convolutions. Exact types
    only, so a changed layer (an ablation's masked subclass) ends a run."""
    chains: dict[int, ChannelsLastChain] = {}
    i = 0
    while i < len(layers):
        start, stages = i, []
        while i < len(layers) and i not in skip and type(layers[i][1]) is Convolution:
            name, conv = layers[i]
            i += 1
            relu = i < len(layers) and i not in skip and type(layers[i][1]) is ReLU
            i += relu
            pool = None
            if i < len(layers) and i not in skip and type(layers[i][1]) is MaxPooling:
                pool = layers[i][1]
                i += 1
            stages.append((name, Stage(conv, relu, pool)))
        if len(stages) >= min_stages:
            chains[start] = ChannelsLastChain(stages, i - start)
        if i == start:
            i += 1
    return chains
