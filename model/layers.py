"""Layers with forward and backward passes that keep no per-call state (book ch. 5 and 7).

Every layer's ``forward(params, x, ...)`` returns ``(out, cache)`` and ``backward(params, cache,
dout)`` returns ``(dx, grads)``: the cache travels with the caller, never on ``self``, so one
loaded network can serve many threads at once. Parameters live in a dict owned by the network.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from .functional import (
    conv_output_size,
    fold,
    note_winner,
    pad_hw,
    scatter_windows,
    softmax,
    unfold,
    windows,
)

Params = dict[str, np.ndarray]
Shape = tuple[int, ...]


class Layer(ABC):
    """Base class: hyperparameters and parameter shapes; forward/backward are pure."""

    kind = "layer"
    #: What the layer does to its input, for views that draw any layer without knowing its kind:
    #: ``weighted`` (learned weights), ``pooling``, ``activation`` (elementwise), ``normalisation``
    #: (across channels) or ``identity`` (no change at inference).
    role = "identity"

    def window(self) -> dict[str, int] | None:
        """Spatial window geometry ``{"kernel", "stride", "padding"}`` of a sliding-window layer,
        None for layers that see their whole input or one value at a time."""
        return None

    def param_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        """Local parameter names (``weight``, ``bias``) and shapes for a per-sample input shape."""
        return {}

    def init_params(self, in_shape: Shape, rng: np.random.Generator, dtype=np.float32) -> Params:
        return {}

    def output_shape(self, in_shape: Shape) -> Shape:
        return in_shape

    def hyperparams(self) -> dict[str, Any]:
        return {}

    @abstractmethod
    def forward(self, p: Params, x: np.ndarray, train: bool = False,
                rng: np.random.Generator | None = None) -> tuple[np.ndarray, Any]:
        """Return ``(out, cache)``; the cache is only needed (and only complete) when training."""

    @abstractmethod
    def backward(self, p: Params, cache: Any, dout: np.ndarray,
                 need_dx: bool = True) -> tuple[np.ndarray | None, Params]:
        """Return ``(dx, grads)`` with grads keyed by local parameter name."""


def he_std(fan_in: int) -> float:
    """He et al. 2015: std = sqrt(2 / fan_in) keeps ReLU activations' variance constant."""
    return float(np.sqrt(2.0 / fan_in))


def init_std(scheme: str | float, fan_in: int) -> float:
    """``"he"``, ``"xavier"`` (1/sqrt(fan_in), LeCun/Glorot for tanh and sigmoid) or a number."""
    if scheme == "he":
        return he_std(fan_in)
    if scheme == "xavier":
        return float(np.sqrt(1.0 / fan_in))
    if isinstance(scheme, (int, float)) and not isinstance(scheme, bool) and scheme > 0:
        return float(scheme)
    raise ValueError(f"weight init must be 'he', 'xavier' or a positive std, got {scheme!r}")


class Convolution(Layer):
    """2D convolution as im2col + one matrix product.

    Input: (N, C, H, W)
    Output: (N, F, OH, OW), ``OH = (H + 2*pad - KH) // stride + 1``, same for OW
    Parameters: ``weight`` (F, C, KH, KW), ``bias`` (F,)
    """

    kind = "conv"
    role = "weighted"

    def __init__(self, out_channels: int, kernel_size: int, stride: int = 1, pad: int = 0,
                 weight_init: str | float = "he"):
        self.out_channels = int(out_channels)
        self.kernel_size = int(kernel_size)
        self.stride = int(stride)
        self.pad = int(pad)
        self.weight_init = weight_init

    def hyperparams(self):
        return {"out_channels": self.out_channels, "kernel_size": self.kernel_size,
                "stride": self.stride, "pad": self.pad}

    def window(self):
        return {"kernel": self.kernel_size, "stride": self.stride, "padding": self.pad}

    def param_shapes(self, in_shape):
        k = self.kernel_size
        return {"weight": (self.out_channels, in_shape[0], k, k), "bias": (self.out_channels,)}

    def init_params(self, in_shape, rng, dtype=np.float32):
        shapes = self.param_shapes(in_shape)
        fan_in = in_shape[0] * self.kernel_size**2
        std = init_std(self.weight_init, fan_in)
        return {"weight": (rng.standard_normal(shapes["weight"]) * std).astype(dtype),
                "bias": np.zeros(shapes["bias"], dtype=dtype)}

    def output_shape(self, in_shape):
        c, h, w = in_shape
        k, s, p = self.kernel_size, self.stride, self.pad
        return (self.out_channels, conv_output_size(h, k, s, p), conv_output_size(w, k, s, p))

    def forward(self, p, x, train=False, rng=None):
        n = x.shape[0]
        k = self.kernel_size
        _, oh, ow = self.output_shape(x.shape[1:])
        cols = unfold(x, k, k, self.stride, self.pad)  # (N, C*KH*KW, OH*OW)
        w_mat = p["weight"].reshape(self.out_channels, -1)  # (F, C*KH*KW)
        out = np.matmul(w_mat, cols)  # (N, F, OH*OW): one GEMM per image, NCHW without a transpose
        out += p["bias"][:, None]
        return out.reshape(n, self.out_channels, oh, ow), ((cols, x.shape) if train else None)

    def backward(self, p, cache, dout, need_dx=True):
        cols, x_shape = cache
        n, f = dout.shape[:2]
        dflat = dout.reshape(n, f, -1)  # (N, F, OH*OW)
        w_mat = p["weight"].reshape(f, -1)
        dw = np.matmul(dflat, cols.transpose(0, 2, 1)).sum(axis=0)  # (F, C*KH*KW)
        grads = {"weight": dw.reshape(p["weight"].shape),
                 "bias": dflat.sum(axis=0).sum(axis=1)}  # reduce over contiguous axes first
        dx = None
        if need_dx:
            k = self.kernel_size
            dx = fold(np.matmul(w_mat.T, dflat), x_shape, k, k, self.stride, self.pad)
        return dx, grads


class Pooling(Layer):
    """Shared geometry of max and average pooling: any window, stride and padding."""

    def __init__(self, pool_size: int = 2, stride: int | None = None, pad: int = 0):
        self.pool_size = int(pool_size)
        self.stride = int(stride if stride is not None else pool_size)
        self.pad = int(pad)
        if self.pad > self.pool_size // 2:
            raise ValueError(f"pad {pad} must be at most half the pool size {pool_size}")

    def hyperparams(self):
        return {"pool_size": self.pool_size, "stride": self.stride, "pad": self.pad}

    def window(self):
        return {"kernel": self.pool_size, "stride": self.stride, "padding": self.pad}

    def output_shape(self, in_shape):
        c, h, w = in_shape
        k, s, p = self.pool_size, self.stride, self.pad
        return (c, conv_output_size(h, k, s, p), conv_output_size(w, k, s, p))


class MaxPooling(Pooling):
    """Max over each window; padding counts as -inf so it never wins.

    Input: (N, C, H, W)
    Output: (N, C, OH, OW), ``OH = (H + 2*pad - K) // stride + 1``
    The loop runs over the K*K window offsets, each a strided view of the whole batch: no window
    copies, and the first maximum in a window wins (as argmax), so the backward is exact.
    """

    kind = "maxpool"
    role = "pooling"

    def _offset_views(self, x):
        k, s = self.pool_size, self.stride
        _, oh, ow = self.output_shape(x.shape[1:])
        xp = pad_hw(x, self.pad, -np.inf)
        for dy in range(k):
            for dx in range(k):
                yield dy * k + dx, xp[:, :, dy:dy + s * oh:s, dx:dx + s * ow:s]

    def forward(self, p, x, train=False, rng=None):
        views = self._offset_views(x)
        _, out = next(views)  # a view of x until the first maximum makes a new array
        owned = False
        winner = np.zeros(out.shape, dtype=np.uint8) if train else None
        for offset, view in views:
            if train:
                note_winner(winner, view, out, offset)
            if owned:
                np.maximum(out, view, out=out)
            else:
                out, owned = np.maximum(out, view), True
        if not owned:  # a 1×1 window
            out = out.copy()
        return out, ((x.shape, winner) if train else None)

    def backward(self, p, cache, dout, need_dx=True):
        x_shape, winner = cache
        n, c, h, w = x_shape
        k, s, pad = self.pool_size, self.stride, self.pad
        oh, ow = dout.shape[2:]
        overlapping = s < k
        tiles_exactly = not overlapping and pad == 0 and h == s * oh and w == s * ow
        alloc = np.empty if tiles_exactly and s == k else np.zeros
        dx = alloc((n, c, h + 2 * pad, w + 2 * pad), dtype=dout.dtype)
        for offset in range(k * k):
            dy, dxo = divmod(offset, k)
            target = dx[:, :, dy:dy + s * oh:s, dxo:dxo + s * ow:s]
            if overlapping:
                target += dout * (winner == offset)
            else:  # each input position belongs to at most one window: write, don't add
                np.multiply(dout, winner == offset, out=target)
        return dx[:, :, pad:pad + h, pad:pad + w], {}


class AveragePooling(Pooling):
    """Mean over each window (zero padding counted, as LeNet's subsampling had no padding).

    Input: (N, C, H, W)
    Output: (N, C, OH, OW), ``OH = (H + 2*pad - K) // stride + 1``
    """

    kind = "avgpool"
    role = "pooling"

    def forward(self, p, x, train=False, rng=None):
        # As MaxPooling: one strided view of the batch per window offset, summed elementwise;
        # a mean over the two window axes of the 6-D view is a slow strided reduction.
        k = self.pool_size
        win = windows(x, k, k, self.stride, self.pad)  # (N, C, OH, OW, K, K), a view
        out = np.array(win[..., 0, 0], dtype=x.dtype)
        for ky in range(k):
            for kx in range(k):
                if ky or kx:
                    out += win[..., ky, kx]
        out /= k * k
        return out, x.shape

    def backward(self, p, cache, dout, need_dx=True):
        x_shape = cache
        k = self.pool_size
        share = dout / (k * k)  # (N, C, OH, OW)
        n, c, h, w = x_shape
        oh, ow = dout.shape[2:]
        if self.stride == k and self.pad == 0:
            # Tiling windows: each input pixel gets its one window's share, so the gradient is
            # the shares broadcast over their K×K tiles (rows or columns past the last whole
            # window get none).
            tiled = np.broadcast_to(share[:, :, :, None, :, None],
                                    (n, c, oh, k, ow, k)).reshape(n, c, oh * k, ow * k)
            if (oh * k, ow * k) == (h, w):
                return tiled, {}
            dx = np.zeros(x_shape, dtype=dout.dtype)
            dx[:, :, :oh * k, :ow * k] = tiled
            return dx, {}
        cols = np.broadcast_to(share[:, :, None, None, :, :], (n, c, k, k, oh, ow))
        return scatter_windows(cols, x_shape, self.stride, self.pad), {}


class Affine(Layer):
    """Fully connected layer; flattens any trailing axes first.

    Input: (N, *) with D = prod(*) features
    Output: (N, out_features)
    Parameters: ``weight`` (D, out_features), ``bias`` (out_features,)
    """

    kind = "affine"
    role = "weighted"

    def __init__(self, out_features: int, weight_init: str | float = "he"):
        self.out_features = int(out_features)
        self.weight_init = weight_init

    def hyperparams(self):
        return {"out_features": self.out_features}

    def param_shapes(self, in_shape):
        return {"weight": (int(np.prod(in_shape)), self.out_features),
                "bias": (self.out_features,)}

    def init_params(self, in_shape, rng, dtype=np.float32):
        shapes = self.param_shapes(in_shape)
        std = init_std(self.weight_init, shapes["weight"][0])
        return {"weight": (rng.standard_normal(shapes["weight"]) * std).astype(dtype),
                "bias": np.zeros(shapes["bias"], dtype=dtype)}

    def output_shape(self, in_shape):
        return (self.out_features,)

    def forward(self, p, x, train=False, rng=None):
        x2 = x.reshape(x.shape[0], -1)  # (N, D)
        out = x2 @ p["weight"]
        out += p["bias"]
        return out, (x2, x.shape)

    def backward(self, p, cache, dout, need_dx=True):
        x2, x_shape = cache
        grads = {"weight": x2.T @ dout, "bias": dout.sum(axis=0)}
        dx = (dout @ p["weight"].T).reshape(x_shape) if need_dx else None
        return dx, grads


class ReLU(Layer):
    """max(x, 0). Input: (N, *) -> Output: same shape."""

    kind = "relu"
    role = "activation"

    def forward(self, p, x, train=False, rng=None):
        out = np.maximum(x, 0)
        return out, (out > 0 if train else None)

    def backward(self, p, cache, dout, need_dx=True):
        return dout * cache, {}


class Tanh(Layer):
    """``scale * tanh(slope * x)``; LeCun et al. 1998 use scale 1.7159, slope 2/3.

    Input: (N, *) -> Output: same shape.
    """

    kind = "tanh"
    role = "activation"

    def __init__(self, scale: float = 1.0, slope: float = 1.0):
        self.scale = float(scale)
        self.slope = float(slope)

    def hyperparams(self):
        return {"scale": self.scale, "slope": self.slope}

    def forward(self, p, x, train=False, rng=None):
        t = np.tanh(self.slope * x)
        return (self.scale * t).astype(x.dtype, copy=False), t

    def backward(self, p, cache, dout, need_dx=True):
        t = cache
        return (dout * (self.scale * self.slope) * (1 - t * t)).astype(dout.dtype, copy=False), {}


class Sigmoid(Layer):
    """1 / (1 + exp(-x)), computed as 0.5 * (1 + tanh(x / 2)) so it cannot overflow.

    Input: (N, *) -> Output: same shape.
    """

    kind = "sigmoid"
    role = "activation"

    def forward(self, p, x, train=False, rng=None):
        y = 0.5 * (1 + np.tanh(0.5 * x))
        return y, y

    def backward(self, p, cache, dout, need_dx=True):
        y = cache
        return dout * y * (1 - y), {}


class Flatten(Layer):
    """Input: (N, C, H, W) -> Output: (N, C*H*W)."""

    kind = "flatten"
    role = "identity"

    def output_shape(self, in_shape):
        return (int(np.prod(in_shape)),)

    def forward(self, p, x, train=False, rng=None):
        return x.reshape(x.shape[0], -1), x.shape

    def backward(self, p, cache, dout, need_dx=True):
        return dout.reshape(cache), {}


class Dropout(Layer):
    """Inverted dropout (Srivastava et al. 2014): drop with probability ``rate`` while training
    and rescale the survivors, so inference is the identity. Without an rng (a differentiable
    inference pass, e.g. for saliency) it is the identity too.

    Input: (N, *) -> Output: same shape.
    """

    kind = "dropout"
    role = "identity"

    def __init__(self, rate: float = 0.5):
        if not 0 <= rate < 1:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)

    def hyperparams(self):
        return {"rate": self.rate}

    def forward(self, p, x, train=False, rng=None):
        if not train or rng is None or self.rate == 0:
            return x, None
        keep = (rng.random(x.shape, dtype=np.float32) >= self.rate)
        scale = np.asarray(1.0 / (1.0 - self.rate), dtype=x.dtype)
        mask = keep * scale
        return x * mask, mask

    def backward(self, p, cache, dout, need_dx=True):
        return (dout if cache is None else dout * cache), {}


class SoftmaxWithLoss:
    """Softmax followed by mean cross-entropy over integer labels (book ch. 5.6.3).

    Input: logits (N, K), labels (N,) -> loss (scalar); backward gives dlogits (N, K).
    """

    kind = "softmax_loss"

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> tuple[float, Any]:
        probs = softmax(logits)
        n = logits.shape[0]
        loss = float(-np.mean(np.log(probs[np.arange(n), labels] + 1e-12)))
        return loss, (probs, labels)

    def backward(self, cache: Any) -> np.ndarray:
        probs, labels = cache
        n = probs.shape[0]
        d = probs.copy()
        d[np.arange(n), labels] -= 1
        return d / n


class LocalResponseNorm(Layer):
    """Local response normalisation across channels (Krizhevsky et al. 2012, section 3.3):
    ``b_c = a_c / (k + alpha * sum_{|j-c| <= size//2} a_j²)^beta``, the sum clipped at the edges.

    The paper's constants are the defaults (alpha is not divided by ``size``, unlike PyTorch).
    Input: (N, C, H, W) -> Output: same shape.
    """

    kind = "lrn"
    role = "normalisation"

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0):
        if int(size) != size or size < 1 or size % 2 == 0:
            raise ValueError(f"LRN size must be a positive odd integer, got {size!r}")
        if k <= 0 or alpha < 0 or beta < 0:
            raise ValueError(f"LRN needs k > 0, alpha >= 0, beta >= 0 (got {k}, {alpha}, {beta})")
        self.size = int(size)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.k = float(k)

    def hyperparams(self):
        return {"size": self.size, "alpha": self.alpha, "beta": self.beta, "k": self.k}

    def _channel_sum(self, x: np.ndarray) -> np.ndarray:
        """Sum over the ``size`` neighbouring channels of every channel (zeros past the edges)."""
        out = x.copy()
        for d in range(1, min(self.size // 2, x.shape[1] - 1) + 1):
            out[:, d:] += x[:, :-d]  # the neighbour d channels below
            out[:, :-d] += x[:, d:]  # and d channels above
        return out

    def forward(self, p, x, train=False, rng=None):
        dtype = x.dtype
        scale = (self.k + self.alpha * self._channel_sum(x * x)).astype(dtype, copy=False)
        inv = scale ** np.asarray(-self.beta, dtype=dtype)
        out = x * inv
        return out, ((x, scale, inv) if train else None)

    def backward(self, p, cache, dout, need_dx=True):
        # d b_i / d a_j = [i = j] s_i^-beta - 2 alpha beta a_i a_j s_i^(-beta-1) for j near i; the
        # neighbourhood is symmetric, so the second term is a channel window sum again.
        x, scale, inv = cache
        inner = self._channel_sum(dout * x * inv / scale)
        dx = dout * inv - np.asarray(2 * self.alpha * self.beta, dtype=x.dtype) * x * inner
        return dx.astype(dout.dtype, copy=False), {}

