"""Optimizers over a dict of named parameters (book ch. 6.1): SGD, Momentum, Adam.

Adam follows Kingma & Ba 2015, Algorithm 1, with bias-corrected moment estimates.
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


class Optimizer:
    """Updates ``params`` in place from ``grads`` with the same keys; ``lr`` may be changed."""

    def __init__(self, lr: float = 0.01):
        if lr <= 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.lr = float(lr)

    def step(self, params: Params, grads: Params) -> None:
        missing = set(params) - set(grads)
        if missing:
            raise ValueError(f"no gradient for {sorted(missing)}")
        for key, p in params.items():
            self._update(key, p, grads[key])

    def _update(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        p -= self.lr * g


class SGD(Optimizer):
    """p ← p − lr·g"""


class Momentum(Optimizer):
    """v ← μ·v − lr·g;  p ← p + v"""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        super().__init__(lr)
        self.momentum = float(momentum)
        self.velocity: Params = {}

    def _update(self, key, p, g):
        v = self.velocity.setdefault(key, np.zeros_like(p))
        v *= self.momentum
        v -= self.lr * g
        p += v


class Adam(Optimizer):
    """m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − lr·m̂ / (√v̂ + ε),
    with m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t)."""

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.t = 0
        self.m: Params = {}
        self.v: Params = {}

    def step(self, params, grads):
        self.t += 1
        super().step(params, grads)

    def _update(self, key, p, g):
        m = self.m.setdefault(key, np.zeros_like(p))
        v = self.v.setdefault(key, np.zeros_like(p))
        tmp = np.empty_like(p)  # one scratch array, every step in place: no temporaries
        m *= self.beta1
        np.multiply(g, 1 - self.beta1, out=tmp)
        m += tmp
        v *= self.beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - self.beta2
        v += tmp
        np.multiply(v, 1 / (1 - self.beta2**self.t), out=tmp)  # v̂
        np.sqrt(tmp, out=tmp)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)  # m / (√v̂ + ε), then × lr / (1 − β1^t) = lr·m̂ / (√v̂ + ε)
        tmp *= self.lr / (1 - self.beta1**self.t)
        p -= tmp


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(name: str, lr: float) -> Optimizer:
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](lr=lr)
