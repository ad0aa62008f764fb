"""Activation maximisation (Erhan et al. 2009; Simonyan et al. 2014; Olah et al., "Feature
Visualization", Distill 2017): gradient ascent on the input, through the network's own backward
pass, for the image that excites one unit most, with jitter and L2 / total-variation penalties.

A unit is a channel of a layer with feature maps (its value at the map's centre is raised, so the
whole receptive field lies inside the image where it can) or one output of a dense layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .networks import Sequential
from .runtime import single_threaded_blas, thread_pool


@dataclass(frozen=True)
class AscentConfig:
    """The ascent's settings; the defaults are what the shipped units files were made with."""

    steps: int = 90  # with jitter and penalties
    polish: int = 30  # then plain signed steps of lr, shrinking linearly to lr / polish
    lr: float = 0.08  # pixels per step for the largest gradient entry
    l2: float = 0.02  # pull towards the blank background (ink 0)
    tv: float = 0.08  # pull towards smooth strokes (squared differences of neighbours)
    jitter: int = 1  # random shift of up to this many pixels each step
    seed: int = 0
    start: float = 0.5  # the start: uniform noise in [0, start]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


DEFAULT_ASCENT = AscentConfig()


def _forward(net: Sequential, x: np.ndarray, last: int) -> tuple[np.ndarray, list[Any]]:
    """Layers 0..last with their backward caches (no rng: dropout is the identity)."""
    caches = []
    for name, layer in net.layers[:last + 1]:
        x, cache = layer.forward(net.layer_params(name), x, train=True)
        caches.append(cache)
    return x, caches


def _backward(net: Sequential, caches: list[Any], dout: np.ndarray, last: int) -> np.ndarray:
    for i in range(last, -1, -1):
        name, layer = net.layers[i]
        dout, _ = layer.backward(net.layer_params(name), caches[i], dout, need_dx=True)
    return dout


def _roll(x: np.ndarray, shifts: list[tuple[int, int]]) -> np.ndarray:
    """Each image (N, C, H, W) shifted by its own (dy, dx), wrapping around."""
    return np.stack([np.roll(image, shift, axis=(1, 2)) for image, shift in zip(x, shifts,
                                                                               strict=True)])


def _tv_grad(x: np.ndarray) -> np.ndarray:
    """Gradient of Σ (neighbour differences)² over rows and columns. (N, 1, H, W) → same."""
    g = np.zeros_like(x)
    dy = x[:, :, 1:, :] - x[:, :, :-1, :]
    dx = x[:, :, :, 1:] - x[:, :, :, :-1]
    g[:, :, 1:, :] += 2 * dy
    g[:, :, :-1, :] -= 2 * dy
    g[:, :, :, 1:] += 2 * dx
    g[:, :, :, :-1] -= 2 * dx
    return g


def target_mask(net: Sequential, layer: str, units: np.ndarray) -> np.ndarray:
    """One-hot gradients (U, *layer_shape) selecting each unit: a channel's centre position or
    a dense output."""
    shape = net.shapes[layer]
    dout = np.zeros((len(units), *shape), dtype=net.dtype)
    rows = np.arange(len(units))
    if len(shape) == 3:
        dout[rows, units, shape[1] // 2, shape[2] // 2] = 1
    else:
        dout.reshape(len(units), -1)[rows, units] = 1
    return dout


def unit_scores(net: Sequential, layer: str, x: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Each image's score for its own unit: a channel's maximum over positions, a dense unit's
    value. Input: x (U, *input_shape), units (U,). Output: (U,) float32."""
    names = [name for name, _ in net.layers]
    out, _ = _forward(net, x, names.index(layer))
    picked = out[np.arange(len(units)), units]
    return picked.reshape(len(units), -1).max(axis=1)


def maximise(net: Sequential, layer: str, units: list[int] | np.ndarray,
             config: AscentConfig = DEFAULT_ASCENT) -> tuple[np.ndarray, np.ndarray]:
    """The ideal input of each unit of ``layer``, all ascended together as one batch.

    Output: images (U, *input_shape) float32 in [0, 1], scores (U,) (see :func:`unit_scores`).
    Seeded: the same network, units and config give the same images.
    """
    units = np.asarray(units, dtype=np.int64)
    names = [name for name, _ in net.layers]
    if layer not in names:
        raise ValueError(f"unknown layer {layer!r}; layers: {', '.join(names)}")
    if units.size and (units.min() < 0 or units.max() >= net.shapes[layer][0]):
        raise ValueError(f"{layer!r} has {net.shapes[layer][0]} units; asked for {units.tolist()}")
    last = names.index(layer)
    # One stream per unit: a unit's image does not depend on which units share its batch.
    rngs = [np.random.default_rng([config.seed, int(u)]) for u in units]
    x = np.stack([r.random(net.input_shape) * config.start for r in rngs]).astype(net.dtype)
    dout = target_mask(net, layer, units)
    total = config.steps + config.polish
    for step in range(total):
        plain = step >= config.steps
        shifts = [(0, 0) if plain or config.jitter == 0 else
                  tuple(int(v) for v in r.integers(-config.jitter, config.jitter + 1, 2))
                  for r in rngs]
        moved = _roll(x, shifts)
        _, caches = _forward(net, moved, last)
        grad = _roll(_backward(net, caches, dout, last), [(-a, -b) for a, b in shifts])
        if plain:  # signed steps shrinking to nothing: every pixel reaches its best bound
            x += config.lr * (total - step) / config.polish * np.sign(grad)
        else:
            peak = np.abs(grad).reshape(len(units), -1).max(axis=1)
            grad /= np.maximum(peak, 1e-12).reshape(-1, 1, 1, 1)
            grad -= config.l2 * x + config.tv * _tv_grad(x)
            x += config.lr * grad
        np.clip(x, 0.0, 1.0, out=x)
    return x, unit_scores(net, layer, x, units)


def maximise_parallel(net: Sequential, layer: str, units: list[int] | np.ndarray,
                      config: AscentConfig = DEFAULT_ASCENT,
                      threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """:func:`maximise` with the units split over ``threads`` threads (BLAS on one thread each,
    as in :meth:`Sequential.logits`); the same images as one batch, up to a GEMM's rounding."""
    units = np.asarray(units, dtype=np.int64)
    if threads <= 1 or len(units) < 2:
        return maximise(net, layer, units, config)
    parts = [part for part in np.array_split(units, min(threads, len(units))) if len(part)]
    with single_threaded_blas():
        done = list(thread_pool(len(parts)).map(lambda part: maximise(net, layer, part, config),
                                                parts))
    return (np.concatenate([images for images, _ in done]),
            np.concatenate([values for _, values in done]))
