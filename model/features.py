"""What a network's output layer reads: the features of the layer before it, for one image or a
whole dataset in batches (the representation in which nearest neighbours and the atypical-drawing
score are measured; Sun et al. 2022, "Out-of-distribution detection with deep nearest
neighbors")."""

from __future__ import annotations

import numpy as np

from .networks import Sequential
from .testset import layer_outputs


def feature_layer(net: Sequential) -> str:
    """The layer whose output the output layer reads, past identity layers (dropout, which does
    nothing at inference): ``relu2`` in simple_convnet, ``tanh4`` in lenet5."""
    at = len(net.layers) - 2
    while at > 0 and net.layers[at][1].role == "identity":
        at -= 1
    if at < 0:
        raise ValueError("a network needs a layer before its output to have features")
    return net.layers[at][0]


def features(net: Sequential, x: np.ndarray, batch_size: int = 100,
             threads: int = 1) -> np.ndarray:
    """The feature layer's output for a set of inputs, by model/testset.py's batched pass.

    Input: (N, *input_shape). Output: (N, D) float32, D the feature layer's size.
    """
    name = feature_layer(net)

    def flat(out: np.ndarray) -> np.ndarray:
        return out.reshape(len(out), -1).astype(np.float32, copy=False)

    return layer_outputs(net, x, {name: flat}, batch_size, threads)[name]


def with_logits(net: Sequential, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One pass giving ``(features (N, D), logits (N, classes))`` for a small batch."""
    name = feature_layer(net)
    logits, outputs = net.forward(x, keep=True)
    return outputs[name].reshape(len(x), -1).astype(np.float32), logits
