"""Training-time data augmentation, vectorised over the batch and driven by an explicit rng.

Random translations as in Simard et al. 2003 ("Best practices for CNNs applied to visual
document analysis"): digits stay digits when moved a few pixels.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def random_shift(x: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Move each image by an independent integer offset in [-max_shift, max_shift]² (zero fill).

    Input: (N, C, H, W) -> Output: (N, C, H, W), a new array
    """
    if max_shift <= 0:
        return x
    n, c, h, w = x.shape
    s = int(max_shift)
    padded = np.pad(x, ((0, 0), (0, 0), (s, s), (s, s)))
    views = sliding_window_view(padded, (h, w), axis=(2, 3))  # (N, C, 2s+1, 2s+1, H, W)
    dy = rng.integers(0, 2 * s + 1, size=n)
    dx = rng.integers(0, 2 * s + 1, size=n)
    return views[np.arange(n), :, dy, dx]  # (N, C, H, W)
