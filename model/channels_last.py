"""Runs of convolution → activation → pooling in channels-last (NHWC) layout: the speed path
for training and plain inference of multi-channel conv stacks (DeepConvNet, book ch. 8.1; LeNet-5's
tanh and average pooling). The layer-by-layer passes stay the reference; tests hold the two
together.

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
from .layers import AveragePooling, Convolution, Layer, MaxPooling, Params, ReLU, Tanh


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


#: Input channels up to which a 'same' convolution's weight gradient comes from shifted views
#: (DeepConvNet's conv1 and conv2: 0.8 against 1.7 ms and 6.1 against 7.4 ms for 50 images on
#: one thread; with 32 channels and more the im2col GEMM is faster).
SHIFTED_MAX_CHANNELS = 16


def shifted_weight_grad(xp: np.ndarray, dyp: np.ndarray, k: int) -> np.ndarray:
    """The weight gradient of a stride-1 'same' convolution (pad = (K-1)/2) without im2col.

    Input: xp (N, Hp, Wp, C), the input padded by pad; dyp (N, Hp, Wp, F), the output
    gradient padded likewise (zero borders).
    Output: (KH*KW*C, F), rows in im2col_nhwc's column order.

    Flattened to rows, the input value that window offset (ky, kx) pairs with output-gradient
    row r sits at row ``r + (ky-pad)*Wp + (kx-pad)``: one GEMM over contiguous rows per offset,
    the borders' zero gradients cancelling the rows that wrap into the next image row or image.
    """
    n, hp, wp, c = xp.shape
    f = dyp.shape[3]
    pad = (k - 1) // 2
    rows, grads = xp.reshape(-1, c), dyp.reshape(-1, f)
    lo = pad * wp + pad  # the first and last ``lo`` rows of the gradient are border zeros
    hi = n * hp * wp - lo
    dw = np.empty((k, k, c, f), dtype=xp.dtype)
    for ky in range(k):
        for kx in range(k):
            shift = (ky - pad) * wp + (kx - pad)
            np.matmul(rows[lo + shift:hi + shift].T, grads[lo:hi], out=dw[ky, kx])
    return dw.reshape(k * k * c, f)


class StageCache(NamedTuple):
    xp: np.ndarray  # (N, H + 2*pad, W + 2*pad, C) the stage's input, padded for the conv
    x_shape: tuple[int, ...]  # (N, H, W, C)
    out: np.ndarray  # (N, OH', OW', F) the stage's output; with tanh: tanh(slope*z) before
    # scaling and pooling, (N, OH, OW, F)
    winner: np.ndarray | None  # (N, PH, PW, F) uint8: which window offset held each maximum
    y_shape: tuple[int, ...]  # (N, OH, OW, F): the conv output


class Stage:
    """One convolution with the activation and the pooling after it (either may be absent), in
    NHWC, pure like the layers: parameters in, caches out. The activation is a ReLU or a
    (scaled) tanh; the pooling a max pool (after a ReLU or nothing) or a tiling average pool.

    Input: (N, H, W, C)
    Output: (N, OH', OW', F), the values of pool(act(conv(x))) layer by layer in NHWC, where
    ``OH = (H + 2*pad - KH) // stride + 1`` and, with pooling, ``OH' = (OH + 2*ppad - K) //
    pstride + 1`` (else OH' = OH); same for widths.
    """

    def __init__(self, conv: Convolution, act: ReLU | Tanh | None,
                 pool: MaxPooling | AveragePooling | None, chunk_bytes: int = CHUNK_BYTES):
        if isinstance(pool, MaxPooling) and isinstance(act, Tanh):
            raise ValueError("a max pool runs before the activation: only after a ReLU")
        if isinstance(pool, AveragePooling) and (
                not isinstance(act, Tanh) or pool.stride != pool.pool_size or pool.pad):
            raise ValueError("average pools only after a tanh, tiling (stride = size, no pad)")
        self.conv, self.act, self.pool = conv, act, pool
        self.relu = isinstance(act, ReLU)
        self.tanh = act if isinstance(act, Tanh) else None
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
        if self.tanh is not None:
            return self._tanh_forward(p, y, xp, x.shape, train)
        winner = None
        if self.pool is not None:  # before bias and ReLU: the same maxima on a quarter
            y, winner = self._pool_forward(y, train)
        y += p["bias"]
        if self.relu:
            np.maximum(y, 0, out=y)
        return y, (StageCache(xp, x.shape, y, winner, y_shape) if train else None)

    def _tanh_forward(self, p: Params, y: np.ndarray, xp: np.ndarray, x_shape: tuple[int, ...],
                      train: bool) -> tuple[np.ndarray, Any]:
        """bias, ``scale * tanh(slope * z)`` in place, then the tiling average pool, if any, on
        the unscaled tanh with the scale folded into its 1/(k*k)."""
        y_shape = y.shape
        y += p["bias"]
        y *= self.tanh.slope
        np.tanh(y, out=y)  # t = tanh(slope * z), kept for the backward
        factor = self.tanh.scale
        if self.pool is None:
            out = y * np.asarray(factor, dtype=y.dtype)
        else:
            k = self.pool.pool_size
            n, oh, ow, f = y_shape
            ph, pw = oh // k, ow // k
            tiles = y[:, :ph * k, :pw * k].reshape(n, ph, k, pw, k, f)
            out = tiles[:, :, 0, :, 0].copy()
            for ky in range(k):
                for kx in range(k):
                    if ky or kx:
                        out += tiles[:, :, ky, :, kx]
            out *= np.asarray(factor / (k * k), dtype=y.dtype)
        return out, (StageCache(xp, x_shape, y, None, y_shape) if train else None)

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
        if self.tanh is not None:
            dy = self._tanh_backward(out, dout)
            bias_grad = dy.reshape(-1, f).sum(axis=0)
        else:
            if self.relu:
                np.multiply(dout, out > 0, out=dout)
            bias_grad = dout.reshape(-1, f).sum(axis=0)
            dy = self._pool_backward(dout, winner, y_shape) if self.pool is not None else dout
        dy2 = dy.reshape(-1, f)  # (N*OH*OW, F)
        c = self.conv
        k, s = c.kernel_size, c.stride
        weight = p["weight"]
        # The flipped-kernel correlation unfolds the padded output gradient (F wide, H×W rows);
        # col2im multiplies out C-wide columns for OH×OW rows and adds them back KH*KW times:
        # the first wins unless its matrix is much the larger (LeNet's conv2: 16 maps of 10×10
        # padded by 4 for 6 input channels).
        flipped = (need_dx and s == 1 and c.pad <= k - 1
                   and f * x_shape[1] * x_shape[2] <= 2 * x_shape[3] * oh * ow)
        # A 'same' convolution on few input channels takes its weight gradient from shifted
        # views of the padded input (see shifted_weight_grad): no im2col of the input at all.
        shifted = s == 1 and 2 * c.pad == k - 1 and x_shape[3] <= SHIFTED_MAX_CHANNELS
        dyp = pad_nhwc(dy, k - 1 - c.pad) if flipped or shifted else None  # same pad if both
        w_flip = flipped_weight_matrix(weight) if flipped else None  # (KH*KW*F, C)
        dx = np.empty(x_shape, dtype=xp.dtype) if flipped else None
        hw = x_shape[1] * x_shape[2]
        dw = shifted_weight_grad(xp, dyp, k) if shifted else None
        if flipped or not shifted:
            # a chunk holds the input's im2col rows (C wide) if needed, and the gradient's
            # (F wide) if needed
            row_bytes = k * k * (x_shape[3] * (not shifted) + f * flipped) * xp.itemsize
            step = self._chunk(oh * ow, row_bytes)
            for i in range(0, n, step):
                if not shifted:
                    cols = im2col_nhwc(xp[i:i + step], k, k, s)  # (chunk*OH*OW, KH*KW*C)
                    part = np.matmul(cols.T, dy2[i * oh * ow:(i + step) * oh * ow])
                    if dw is None:
                        dw = part  # (KH*KW*C, F)
                    else:
                        dw += part
                if flipped:
                    # dx = dy padded by K-1-pad, correlated with the flipped kernel: a 'full'
                    # correlation whose output is exactly H×W, since OH = H + 2*pad - K + 1.
                    dcols = im2col_nhwc(dyp[i:i + step], k, k)  # (chunk*H*W, KH*KW*F)
                    np.matmul(dcols, w_flip,
                              out=dx.reshape(-1, dx.shape[3])[i * hw:(i + step) * hw])
        grads = {"weight": dw.reshape(k, k, weight.shape[1], f).transpose(3, 2, 0, 1).copy(),
                 "bias": bias_grad}
        if need_dx and not flipped:
            dx = self._scatter_input_grad(weight, dy, x_shape)
        return dx, grads

    def _tanh_backward(self, t: np.ndarray, dout: np.ndarray) -> np.ndarray:
        """The gradient w.r.t. the conv output z: d/dz of scale * tanh(slope * z) is
        scale * slope * (1 - t²), times each position's share of its pooling window's gradient
        (none past the last whole window)."""
        grad = np.multiply(t, t)
        np.subtract(1, grad, out=grad)
        factor = self.tanh.scale * self.tanh.slope
        if self.pool is None:
            grad *= np.asarray(factor, dtype=grad.dtype)
            grad *= dout
            return grad
        k = self.pool.pool_size
        n, oh, ow, f = t.shape
        ph, pw = dout.shape[1:3]
        grad *= np.asarray(factor / (k * k), dtype=grad.dtype)
        share = np.broadcast_to(dout[:, :, None, :, None], (n, ph, k, pw, k, f))
        grad[:, ph * k:] = 0  # rows and columns past the last whole window (if any)
        grad[:, :, pw * k:] = 0
        tiles = grad[:, :ph * k, :pw * k].view()
        tiles.shape = (n, ph, k, pw, k, f)  # splitting axes: always a view, never a copy
        tiles *= share
        return grad

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
        """col2im for strided or over-padded convolutions, and where the flipped kernel's matrix
        would be much the larger: each window's gradient added back. Channel-major while adding
        (runs of OW values, not of C), NHWC once at the end."""
        c = self.conv
        k, s, pad = c.kernel_size, c.stride, c.pad
        n, h, w, channels = x_shape
        _, oh, ow, f = dy.shape
        dcols = np.matmul(weight_matrix(weight), dy.reshape(-1, f).T).reshape(
            k, k, channels, n, oh, ow)  # (KH, KW, C, N, OH, OW)
        dx = np.zeros((channels, n, h + 2 * pad, w + 2 * pad), dtype=dy.dtype)
        for ky in range(k):
            for kx in range(k):
                dx[:, :, ky:ky + s * oh:s, kx:kx + s * ow:s] += dcols[ky, kx]
        return np.ascontiguousarray(dx[:, :, pad:pad + h, pad:pad + w].transpose(1, 2, 3, 0))


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


def _stage_pool(act: Layer | None, layer: Layer) -> bool:
    """Whether ``layer`` can end a stage whose activation is ``act``."""
    if type(layer) is MaxPooling:
        return not isinstance(act, Tanh)
    return (type(layer) is AveragePooling and isinstance(act, Tanh)
            and layer.stride == layer.pool_size and layer.pad == 0)


def plan_chains(layers: list[tuple[str, Layer]], skip: set[int],
                min_stages: int = 2) -> dict[int, ChannelsLastChain]:
    """Chains by the index of their first layer: maximal runs of convolution [→ ReLU or tanh]
    [→ max or tiling average pooling] over layers not in ``skip``, of at least ``min_stages``
    convolutions. Exact types only, so a changed layer (an ablation's masked subclass) ends a
    run."""
    chains: dict[int, ChannelsLastChain] = {}

    def usable(at: int) -> Layer | None:
        return layers[at][1] if at < len(layers) and at not in skip else None

    i = 0
    while i < len(layers):
        start, stages = i, []
        while type(usable(i)) is Convolution:
            name, conv = layers[i]
            i += 1
            act = usable(i) if type(usable(i)) in (ReLU, Tanh) else None
            i += act is not None
            pool = usable(i) if usable(i) is not None and _stage_pool(act, usable(i)) else None
            i += pool is not None
            stages.append((name, Stage(conv, act, pool)))
        if len(stages) >= min_stages:
            chains[start] = ChannelsLastChain(stages, i - start)
        if i == start:
            i += 1
    return chains
