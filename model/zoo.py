"""The model zoo: LeNet-5 (LeCun et al. 1998), a small AlexNet (Krizhevsky et al. 2012) and the
book's DeepConvNet (Saito, "Deep Learning from Scratch", ch. 8.1), all sized for 28×28 MNIST.
"""

from __future__ import annotations

import numpy as np

from .layers import (
    Affine,
    AveragePooling,
    Convolution,
    Dropout,
    Layer,
    LocalResponseNorm,
    MaxPooling,
    ReLU,
    Shape,
    Tanh,
)
from .networks import Sequential, register

LECUN_SCALE = 1.7159
LECUN_SLOPE = 2.0 / 3.0
POOL_AFTER = {1: 1, 2: 2, 5: 3}  # AlexNet pools after conv1, conv2 and conv5


@register("lenet5", "LeNet-5 (LeCun et al. 1998) for 28×28: C1 6@5×5 pad 2, scaled tanh, "
                    "average-pool subsampling, C3 16@5×5, C5 120, F6 84, 10 outputs; "
                    "~62k parameters.")
def lenet5(rng: np.random.Generator | None = None, input_shape: Shape = (1, 28, 28),
           c1: int = 6, c3: int = 16, c5: int = 120, f6: int = 84, output_size: int = 10,
           weight_init: str | float = "xavier") -> Sequential:
    """conv1 (C1) → tanh1 → pool1 (S2) → conv2 (C3) → tanh2 → pool2 (S4) → fc1 (C5) → tanh3 →
    fc2 (F6) → tanh4 → fc3.

    Padding the 28×28 input by 2 restores the paper's 32×32 geometry (C1 28×28, S2 14×14, C3
    10×10, S4 5×5), so C5 sees 16×5×5 and a full affine layer equals the paper's 5×5 convolution.
    Departures from the paper: C3 connects to all six S2 maps (no connection table), S2/S4 are
    plain averages (no trainable coefficient and bias), the output is affine + softmax instead
    of Euclidean RBF units.
    """
    layers: list[tuple[str, Layer]] = [
        ("conv1", Convolution(c1, 5, 1, 2, weight_init)),
        ("tanh1", Tanh(LECUN_SCALE, LECUN_SLOPE)),
        ("pool1", AveragePooling(2, 2)),
        ("conv2", Convolution(c3, 5, 1, 0, weight_init)),
        ("tanh2", Tanh(LECUN_SCALE, LECUN_SLOPE)),
        ("pool2", AveragePooling(2, 2)),
        ("fc1", Affine(c5, weight_init)),
        ("tanh3", Tanh(LECUN_SCALE, LECUN_SLOPE)),
        ("fc2", Affine(f6, weight_init)),
        ("tanh4", Tanh(LECUN_SCALE, LECUN_SLOPE)),
        ("fc3", Affine(output_size, weight_init)),
    ]
    return Sequential(layers, tuple(input_shape), rng=rng)


@register("alexnet", "A small AlexNet (Krizhevsky et al. 2012): five 3×3 conv layers with ReLU, "
                     "LRN, overlapping 3×3/stride-2 max pooling, two dropout-regularised affine "
                     "layers; trained with data augmentation.")
def alexnet(rng: np.random.Generator | None = None, input_shape: Shape = (1, 28, 28),
            channels: tuple[int, ...] | list[int] = (24, 48, 64, 64, 48), hidden_size: int = 256,
            dropout: float = 0.5, lrn: bool = True, output_size: int = 10,
            weight_init: str | float = "he") -> Sequential:
    """conv1 → relu1 → [lrn1] → pool1 → conv2 → relu2 → [lrn2] → pool2 → conv3 → relu3 → conv4 →
    relu4 → conv5 → relu5 → pool3 → fc1 → relu6 → dropout1 → fc2 → relu7 → dropout2 → fc3.

    As in the paper: LRN after the first two ReLUs, pooling windows of 3 with stride 2 (they
    overlap), dropout on the two hidden affine layers. Scaled to 28×28 digits: 3×3 kernels
    with pad 1 everywhere, pooling padded by 1 (28 → 14 → 7 → 4), widths in the tens.
    """
    channels = [int(c) for c in channels]
    if len(channels) != 5:
        raise ValueError(f"alexnet needs five conv widths, got {channels}")
    layers: list[tuple[str, Layer]] = []
    for i, width in enumerate(channels, start=1):
        layers += [(f"conv{i}", Convolution(width, 3, 1, 1, weight_init)), (f"relu{i}", ReLU())]
        if lrn and i <= 2:
            layers.append((f"lrn{i}", LocalResponseNorm()))
        if i in POOL_AFTER:
            layers.append((f"pool{POOL_AFTER[i]}", MaxPooling(3, 2, 1)))
    layers += [
        ("fc1", Affine(hidden_size, weight_init)),
        ("relu6", ReLU()),
        ("dropout1", Dropout(dropout)),
        ("fc2", Affine(hidden_size, weight_init)),
        ("relu7", ReLU()),
        ("dropout2", Dropout(dropout)),
        ("fc3", Affine(output_size, weight_init)),
    ]
    return Sequential(layers, tuple(input_shape), rng=rng)


@register("deep_convnet", "The book's DeepConvNet (ch. 8.1): six 3×3 conv layers 16,16 / 32,32 / "
                          "64,64 with ReLU and 2×2 max pooling, affine 50, dropout 0.5, 10; "
                          "He init.")
def deep_convnet(rng: np.random.Generator | None = None, input_shape: Shape = (1, 28, 28),
                 channels: tuple[int, ...] | list[int] = (16, 16, 32, 32, 64, 64),
                 hidden_size: int = 50, dropout: float = 0.5, output_size: int = 10,
                 weight_init: str | float = "he") -> Sequential:
    """conv1 → relu1 → conv2 → relu2 → pool1 → conv3 → relu3 → conv4 → relu4 → pool2 → conv5 →
    relu5 → conv6 → relu6 → pool3 → fc1 → relu7 → dropout1 → fc2.

    Every conv is 3×3 with pad 1; pool3 is padded by 1 (7 → 4) so fc1 sees 64×4×4 as in the
    book (which pads conv4 by 2 instead).
    """
    channels = [int(c) for c in channels]
    if len(channels) != 6:
        raise ValueError(f"deep_convnet needs six conv widths, got {channels}")
    layers: list[tuple[str, Layer]] = []
    for i, width in enumerate(channels, start=1):
        layers += [(f"conv{i}", Convolution(width, 3, 1, 1, weight_init)), (f"relu{i}", ReLU())]
        if i % 2 == 0:
            layers.append((f"pool{i // 2}", MaxPooling(2, 2, 1 if i == 6 else 0)))
    layers += [
        ("fc1", Affine(hidden_size, weight_init)),
        ("relu7", ReLU()),
        ("dropout1", Dropout(dropout)),
        ("fc2", Affine(output_size, weight_init)),
    ]
    return Sequential(layers, tuple(input_shape), rng=rng)
