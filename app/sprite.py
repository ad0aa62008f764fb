"""Many small grayscale digits as one PNG (a sprite sheet): a whole layer's top test digits in
one compact answer, cut apart by the page."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def digits_png(images: np.ndarray, columns: int) -> bytes:
    """Tiles (N, h, w) uint8, row-major in rows of ``columns``, as an 8-bit grayscale PNG of
    ``ceil(N / columns)·h`` × ``min(N, columns)·w`` pixels (unused tiles 0).

    Tile i's top-left corner is ``((i // columns)·h, (i % columns)·w)``.
    """
    n, h, w = images.shape
    cols = max(1, min(n, columns))
    rows = -(-n // cols)
    sheet = np.zeros((rows * h, cols * w), dtype=np.uint8)
    for i, tile in enumerate(images):
        r, c = divmod(i, cols)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = tile
    out = io.BytesIO()
    # the fastest zlib level: 1/20 of the time of the smallest file, for 15 % more bytes
    Image.fromarray(sheet).save(out, format="PNG", compress_level=1)
    return out.getvalue()
