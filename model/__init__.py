"""cnnvis's pure-NumPy convolutional networks: layers, networks, training and weights I/O."""

from . import zoo  # noqa: F401  (registers lenet5, alexnet, deep_convnet)
from .networks import ARCHITECTURES, Sequential, build
from .weights import WeightsError, load, load_checked, save

__all__ = ["ARCHITECTURES", "Sequential", "WeightsError", "build", "load", "load_checked", "save"]
