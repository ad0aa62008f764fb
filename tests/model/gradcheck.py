"""Centred finite differences, the reference every backward pass is checked against."""

import numpy as np


def numerical_grad(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d f / d x for a scalar function ``f()`` that reads ``x`` (perturbed in place)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = f()
        x[i] = old - h
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def assert_close_grad(analytic: np.ndarray, numeric: np.ndarray, tol: float = 1e-6) -> None:
    scale = max(1.0, float(np.max(np.abs(numeric))))
    err = float(np.max(np.abs(analytic - numeric))) / scale
    assert err < tol, f"gradient mismatch: max relative error {err:.2e}"
