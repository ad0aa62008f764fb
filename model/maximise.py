"""Activation maximisation (Erhan et al. 2009; Simonyan et al. 2014; Olah et al., "Feature
Visualization", Distill 2017): gradient ascent on the input, through the network's own backward
pass, for the image that excites one unit most, with jitter and L2 / total-variation penalties.

A unit is a channel of a layer with feature maps (its score is its maximum over positions; the
ascent raises one position: the map's centre from noise, so the whole receptive field lies inside
the image where it can, or where the unit's best test image peaked) or one output of a dense layer.
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

# Where an ideal input came from (:func:`ideal_inputs`), in order of preference on a tie; a units
# file stores the index.
SOURCES = ("ascent from noise", "ascent from the best test image", "the best test image")


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


def target_mask(net: Sequential, layer: str, units: np.ndarray,
                positions: np.ndarray | None = None) -> np.ndarray:
    """One-hot gradients (U, *layer_shape) selecting each unit: a channel at ``positions``
    (U, 2) rows and columns in its map (default the centre), or a dense output."""
    shape = net.shapes[layer]
    dout = np.zeros((len(units), *shape), dtype=net.dtype)
    rows = np.arange(len(units))
    if len(shape) == 3:
        if positions is None:
            positions = np.tile([shape[1] // 2, shape[2] // 2], (len(units), 1))
        dout[rows, units, positions[:, 0], positions[:, 1]] = 1
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


def _check(net: Sequential, layer: str, units: np.ndarray) -> int:
    """The index of ``layer`` in the network; ValueError for an unknown layer or unit."""
    names = [name for name, _ in net.layers]
    if layer not in names:
        raise ValueError(f"unknown layer {layer!r}; layers: {', '.join(names)}")
    if units.size and (units.min() < 0 or units.max() >= net.shapes[layer][0]):
        raise ValueError(f"{layer!r} has {net.shapes[layer][0]} units; asked for {units.tolist()}")
    return names.index(layer)


def _noise(net: Sequential, units: np.ndarray, config: AscentConfig) -> tuple[np.ndarray, list]:
    """Each unit's noise start and its own random stream (which then draws its jitter): a unit's
    image does not depend on which units share its batch."""
    rngs = [np.random.default_rng([config.seed, int(u)]) for u in units]
    starts = np.stack([r.random(net.input_shape) * config.start for r in rngs])
    return starts.astype(net.dtype), rngs


def _ascend(net: Sequential, last: int, x: np.ndarray, dout: np.ndarray, rngs: list,
            config: AscentConfig) -> np.ndarray:
    """Gradient ascent of the batch ``x`` (changed in place and returned) on ``dout``'s units."""
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
            peak = np.abs(grad).reshape(len(x), -1).max(axis=1)
            grad /= np.maximum(peak, 1e-12).reshape(-1, 1, 1, 1)
            grad -= config.l2 * x + config.tv * _tv_grad(x)
            x += config.lr * grad
        np.clip(x, 0.0, 1.0, out=x)
    return x


def maximise(net: Sequential, layer: str, units: list[int] | np.ndarray,
             config: AscentConfig = DEFAULT_ASCENT) -> tuple[np.ndarray, np.ndarray]:
    """The ascent from noise of each unit of ``layer`` (a channel at its map's centre), all
    ascended together as one batch.

    Output: images (U, *input_shape) float32 in [0, 1], scores (U,) (see :func:`unit_scores`).
    Seeded: the same network, units and config give the same images.
    """
    units = np.asarray(units, dtype=np.int64)
    last = _check(net, layer, units)
    x, rngs = _noise(net, units, config)
    x = _ascend(net, last, x, target_mask(net, layer, units), rngs, config)
    return x, unit_scores(net, layer, x, units)


def ideal_inputs(net: Sequential, layer: str, units: list[int] | np.ndarray, best: np.ndarray,
                 best_score: np.ndarray, positions: np.ndarray | None = None,
                 config: AscentConfig = DEFAULT_ASCENT) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    """Each unit's ideal input: the best of its ascent from noise (:func:`maximise`), an ascent
    started from its best test image raising the position where that image peaked, and that
    image itself; so it scores at least as high as every test image, by construction.

    Input: units (U,); best (U, *input_shape) each unit's best test image as the network's input;
    best_score (U,) its score on it (from the pass over the test set); positions (U, 2) where it
    peaked in a channel's map, None for a dense layer. Output: images (U, *input_shape) in
    [0, 1], scores (U,), sources (U,) int8 indices into :data:`SOURCES`. Both ascents of all
    units run as one batch, each unit's with its own random streams.
    """
    units = np.asarray(units, dtype=np.int64)
    last = _check(net, layer, units)
    if len(net.shapes[layer]) == 3 and positions is None:
        raise ValueError(f"{layer!r} has feature maps: say where each best test image peaked")
    noise, rngs = _noise(net, units, config)
    rngs += [np.random.default_rng([config.seed, int(u), 1]) for u in units]
    x_best = np.asarray(best, dtype=net.dtype)
    x = np.concatenate([noise, x_best])
    both = np.concatenate([units, units])
    dout = np.concatenate([target_mask(net, layer, units),
                           target_mask(net, layer, units, positions)])
    x = _ascend(net, last, x, dout, rngs, config)
    found = unit_scores(net, layer, x, both).reshape(2, len(units))
    candidates = np.stack([*found, np.asarray(best_score, dtype=found.dtype)])  # (3, U)
    sources = candidates.argmax(axis=0).astype(np.int8)  # the first of equal scores
    images = np.stack([x[:len(units)], x[len(units):], x_best])[sources, np.arange(len(units))]
    return images, candidates[sources, np.arange(len(units))], sources


def ideal_inputs_parallel(net: Sequential, layer: str, units: list[int] | np.ndarray,
                          best: np.ndarray, best_score: np.ndarray,
                          positions: np.ndarray | None = None,
                          config: AscentConfig = DEFAULT_ASCENT,
                          threads: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`ideal_inputs` with the units split over ``threads`` threads (BLAS on one thread
    each, as in :meth:`Sequential.logits`); the same images as one batch, up to a GEMM's
    rounding."""
    units = np.asarray(units, dtype=np.int64)
    if threads <= 1 or len(units) < 2:
        return ideal_inputs(net, layer, units, best, best_score, positions, config)
    parts = [part for part in np.array_split(np.arange(len(units)), min(threads, len(units)))
             if len(part)]

    def run(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return ideal_inputs(net, layer, units[rows], best[rows], best_score[rows],
                            None if positions is None else positions[rows], config)

    with single_threaded_blas():
        done = list(thread_pool(len(parts)).map(run, parts))
    return tuple(np.concatenate([found[i] for found in done]) for i in range(3))
