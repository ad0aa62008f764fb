"""cnnvis's pure-NumPy convolutional networks: layers, networks, training and weights I/O."""

from .networks import ARCHITECTURES, Sequential, build
from .weights import WeightsError, load, load_checked, save

__all__ = ["ARCHITECTURES", "Sequential", "WeightsError", "build", "load", "load_checked", "save"]
