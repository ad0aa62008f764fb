"""The book's SimpleConvNet written the book's way (float64, im2col-based pooling, per-offset
col2im loop, layers caching inputs on self) — the baseline "Deep Learning from Scratch" ch. 7
code would give, for benchmark ratios only. Not used by the product.
"""

from __future__ import annotations

import numpy as np


def _im2col(x, fh, fw, stride=1, pad=0):
    n, c, h, w = x.shape
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    col = np.zeros((n, c, fh, fw, oh, ow))
    for y in range(fh):
        for xx in range(fw):
            col[:, :, y, xx] = img[:, :, y:y + stride * oh:stride, xx:xx + stride * ow:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, -1)


def _col2im(col, shape, fh, fw, stride=1, pad=0):
    n, c, h, w = shape
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    col = col.reshape(n, oh, ow, c, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1))
    for y in range(fh):
        for xx in range(fw):
            img[:, :, y:y + stride * oh:stride, xx:xx + stride * ow:stride] += col[:, :, y, xx]
    return img[:, :, pad:h + pad, pad:w + pad]


class BookSimpleConvNet:
    """conv 30@5×5 → ReLU → pool 2×2 → affine 100 → ReLU → affine 10, state kept on self."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.p = {"W1": rng.standard_normal((30, 1, 5, 5)) * 0.01, "b1": np.zeros(30),
                  "W2": rng.standard_normal((4320, 100)) * 0.01, "b2": np.zeros(100),
                  "W3": rng.standard_normal((100, 10)) * 0.01, "b3": np.zeros(10)}
        self.m = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.t = 0

    def forward(self, x):
        p = self.p
        self.x = x
        self.col = _im2col(x, 5, 5)
        c = (self.col @ p["W1"].reshape(30, -1).T + p["b1"]).reshape(len(x), 24, 24, 30)
        c = c.transpose(0, 3, 1, 2)
        self.mask1 = c <= 0
        r = c.copy()
        r[self.mask1] = 0
        self.r_shape = r.shape
        pcol = _im2col(r, 2, 2, 2).reshape(-1, 4)
        self.arg = pcol.argmax(axis=1)
        pooled = pcol.max(axis=1).reshape(len(x), 12, 12, 30).transpose(0, 3, 1, 2)
        self.a_in = pooled.reshape(len(x), -1)
        h = self.a_in @ p["W2"] + p["b2"]
        self.mask2 = h <= 0
        h[self.mask2] = 0
        self.h = h
        return h @ p["W3"] + p["b3"]

    def train_step(self, x, t, lr=0.001):
        logits = self.forward(x)
        y = np.exp(logits - logits.max(axis=1, keepdims=True))
        y /= y.sum(axis=1, keepdims=True)
        d = y.copy()
        d[np.arange(len(t)), t] -= 1
        d /= len(t)
        g = {"W3": self.h.T @ d, "b3": d.sum(0)}
        dh = d @ self.p["W3"].T
        dh[self.mask2] = 0
        g["W2"], g["b2"] = self.a_in.T @ dh, dh.sum(0)
        da = (dh @ self.p["W2"].T).reshape(len(x), 30, 12, 12).transpose(0, 2, 3, 1)
        dmax = np.zeros((da.size, 4))
        dmax[np.arange(self.arg.size), self.arg] = da.ravel()
        dr = _col2im(dmax.reshape(-1, 30 * 4), self.r_shape, 2, 2, 2)
        dr[self.mask1] = 0
        dc = dr.transpose(0, 2, 3, 1).reshape(-1, 30)
        g["W1"] = (self.col.T @ dc).T.reshape(30, 1, 5, 5)
        g["b1"] = dc.sum(0)
        self.t += 1
        lr_t = lr * np.sqrt(1 - 0.999**self.t) / (1 - 0.9**self.t)
        for k in self.p:
            self.m[k] += (1 - 0.9) * (g[k] - self.m[k])
            self.v[k] += (1 - 0.999) * (g[k] ** 2 - self.v[k])
            self.p[k] -= lr_t * self.m[k] / (np.sqrt(self.v[k]) + 1e-7)
