"""A PyTorch twin of a cnnvis network: the same layers in the same order, with the same shapes
and the same weights, so a speed comparison (issue 18) times equal work. Needs the optional
``bench`` extra (torch); tests/model/test_torch_twin.py holds the twin's outputs equal."""

from __future__ import annotations

from typing import Any

import numpy as np


def twin(net, torch) -> Any:
    """``torch.nn.Sequential`` equal to ``net`` (a cnnvis Sequential), in ``net``'s dtype.

    Affine weights are stored (D, out) here and (out, D) in torch; cnnvis's LRN takes the paper's
    alpha, torch divides its alpha by the window size.
    """
    nn = torch.nn
    dtype = {np.dtype(np.float32): torch.float32,
             np.dtype(np.float64): torch.float64}[next(iter(net.params.values())).dtype]
    modules = []
    shape = net.input_shape
    for name, layer in net.layers:
        kind = layer.kind
        if kind == "conv":
            module = nn.Conv2d(shape[0], layer.out_channels, layer.kernel_size, layer.stride,
                               layer.pad)
            _load(module, net.params[f"{name}.weight"], net.params[f"{name}.bias"], torch)
        elif kind == "affine":
            linear = nn.Linear(int(np.prod(shape)), layer.out_features)
            _load(linear, net.params[f"{name}.weight"].T, net.params[f"{name}.bias"], torch)
            module = nn.Sequential(nn.Flatten(), linear) if len(shape) > 1 else linear
        elif kind == "maxpool":
            module = nn.MaxPool2d(layer.pool_size, layer.stride, layer.pad)
        elif kind == "avgpool":  # zero padding counted, as cnnvis's
            module = nn.AvgPool2d(layer.pool_size, layer.stride, layer.pad,
                                  count_include_pad=True)
        elif kind == "lrn":
            module = nn.LocalResponseNorm(layer.size, alpha=layer.alpha * layer.size,
                                          beta=layer.beta, k=layer.k)
        elif kind == "dropout":
            module = nn.Dropout(layer.rate)
        elif kind == "tanh":  # LeNet-5's scale · tanh(slope · x)
            module = _scaled_tanh(torch, layer.scale, layer.slope)
        elif kind in ("relu", "sigmoid", "flatten"):
            module = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "flatten": nn.Flatten}[kind]()
        else:
            raise ValueError(f"no PyTorch twin for layer {name!r} of kind {kind!r}")
        modules.append(module)
        shape = layer.output_shape(shape)
    return nn.Sequential(*modules).to(dtype)


def _scaled_tanh(torch, scale: float, slope: float):
    if scale == slope == 1.0:
        return torch.nn.Tanh()

    class ScaledTanh(torch.nn.Module):
        def forward(self, x):
            return scale * torch.tanh(slope * x)

    return ScaledTanh()


def _load(module, weight: np.ndarray, bias: np.ndarray, torch) -> None:
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
        module.bias.copy_(torch.from_numpy(np.ascontiguousarray(bias)))
