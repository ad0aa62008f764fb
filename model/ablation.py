"""Switching units off (ablation, as in Zeiler & Fergus 2014, section 5, and Morcos et al. 2018):
a view of a shared network in which chosen channels or dense units output zero, for one request,
and the drop in the predicted class's probability for each unit of a layer in one batched pass.
The shared network is never changed: the view shares its read-only parameters."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from .functional import softmax
from .layers import Layer
from .networks import Sequential


class _Ablated:
    """Mixed into a layer's own class: its output times ``keep`` (0 for the switched-off
    channels or units, broadcast over positions), and the gradient through the same mask."""

    __slots__ = ()

    def forward(self, p, x, train=False, rng=None):
        out, cache = super().forward(p, x, train, rng)  # type: ignore[misc]
        return out * self.keep, cache

    def backward(self, p, cache, dout, need_dx=True):
        return super().backward(p, cache, dout * self.keep, need_dx)  # type: ignore[misc]


@lru_cache(maxsize=None)
def _ablated_class(cls: type) -> type:
    """``cls`` with its output masked; still an instance of ``cls`` for every isinstance check."""
    return type(f"Ablated{cls.__name__}", (_Ablated, cls), {})


def keep_mask(shape: tuple[int, ...], off: list[int], dtype) -> np.ndarray:
    """1 everywhere but 0 for the units ``off``: (C, 1, 1) for maps (C, H, W), (F,) for (F,)."""
    keep = np.ones((shape[0],) + (1,) * (len(shape) - 1), dtype=dtype)
    keep[list(off)] = 0
    keep.flags.writeable = False
    return keep


def ablated(net: Sequential, off: Mapping[str, list[int]]) -> Sequential:
    """A view of ``net`` with units ``off[layer]`` of each named layer set to zero: the same
    read-only parameters, new layer objects only for the layers concerned. Every pass (forward,
    predict, forward_train/backward for attributions) then runs without those units."""
    names = [name for name, _ in net.layers]
    unknown = sorted(set(off) - set(names))
    if unknown:
        raise ValueError(f"unknown layer(s) {', '.join(unknown)}; layers: {', '.join(names)}")
    view = object.__new__(Sequential)
    view.__dict__.update(net.__dict__)
    layers: list[tuple[str, Layer]] = []
    for name, layer in net.layers:
        if off.get(name):
            masked = object.__new__(_ablated_class(type(layer)))
            masked.__dict__.update(layer.__dict__)  # the same hyperparameters
            masked.keep = keep_mask(net.shapes[name], off[name], net.dtype)
            layer = masked
        layers.append((name, layer))
    view.layers = layers
    touched = {names.index(name) for name, units in off.items() if units}
    view._fused = {i: block for i, block in net._fused.items()
                   if not touched & {i, i + 1, i + 2}}
    view._fused_steps = view._plan_fused_steps()
    return view


def rank_units(net: Sequential, x: np.ndarray, layer: str,
               target: int | None = None) -> dict[str, np.ndarray | int]:
    """How much each unit of ``layer`` matters for one input: the class probabilities with each
    unit switched off alone, all units in one batch (the layers before ``layer`` run once).

    Input: x (1, *input_shape). Output: ``probabilities`` (10,) as is, ``target`` (default: the
    predicted class), ``without`` (U, 10) with unit u off, ``drop`` (U,) = p[target] − without
    [u, target] (positive: the unit was helping).
    """
    names = [name for name, _ in net.layers]
    if layer not in names:
        raise ValueError(f"unknown layer {layer!r}; layers: {', '.join(names)}")
    at = names.index(layer)
    h = net._check_input(x)
    for name, found in net.layers[:at + 1]:
        h, _ = found.forward(net.layer_params(name), h)
    count = h.shape[1]
    logits = h
    for name, found in net.layers[at + 1:]:
        logits, _ = found.forward(net.layer_params(name), logits)
    base = softmax(logits)[0]
    copies = np.repeat(h, count, axis=0)  # (U, *layer_shape): copy u has unit u at zero
    copies[np.arange(count), np.arange(count)] = 0
    for name, found in net.layers[at + 1:]:
        copies, _ = found.forward(net.layer_params(name), copies)
    without = softmax(copies)
    target = int(np.argmax(base)) if target is None else int(target)
    return {"probabilities": base, "target": target, "without": without,
            "drop": base[target] - without[:, target]}
