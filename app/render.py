"""PNG of a conv layer's filters, initial and trained side by side (book ch. 7.6, fig. 7-6):
each kernel normalised to its own range (black = most negative, white = most positive weight),
enlarged with square pixels, laid out in a grid."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

BACKGROUND = (34, 40, 49)
TEXT = (230, 230, 230)
GAP = 2
MARGIN = 10
TITLE = 16
MAX_PANEL_WIDTH = 1200


def normalise(kernel: np.ndarray) -> np.ndarray:
    """A 2-D kernel scaled to [0, 255] uint8 by its own min and max (flat gray if constant)."""
    k = kernel.astype(np.float64)
    lo, hi = float(k.min()), float(k.max())
    if hi <= lo:
        return np.full(k.shape, 128, dtype=np.uint8)
    return np.rint((k - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def grid_layout(weights_shape: tuple[int, ...]) -> tuple[int, int]:
    """(rows, cols) of tiles: one row per filter and one column per input channel when there are
    several channels, else the filters in rows of at most 10 (as the book shows conv1)."""
    f, c = weights_shape[0], weights_shape[1]
    if c > 1:
        return f, c
    cols = min(f, 10)
    return -(-f // cols), cols


def panel(weights: np.ndarray, scale: int) -> np.ndarray:
    """RGB (H, W, 3) uint8 grid of every (filter, channel) kernel of (F, C, KH, KW) weights."""
    f, c, kh, kw = weights.shape
    rows, cols = grid_layout(weights.shape)
    th, tw = kh * scale, kw * scale
    out = np.empty((rows * (th + GAP) - GAP, cols * (tw + GAP) - GAP, 3), dtype=np.uint8)
    out[:] = BACKGROUND
    tiles = [(i, j) for i in range(f) for j in range(c)]
    for n, (i, j) in enumerate(tiles):
        r, col = (i, j) if c > 1 else divmod(n, cols)
        tile = np.kron(normalise(weights[i, j]), np.ones((scale, scale), dtype=np.uint8))
        y, x = r * (th + GAP), col * (tw + GAP)
        out[y:y + th, x:x + tw] = tile[..., None]
    return out


def tile_scale(weights_shape: tuple[int, ...]) -> int:
    """Enlargement so a kernel is about 40 px wide, shrunk if the grid would be too wide."""
    kw = weights_shape[3]
    _, cols = grid_layout(weights_shape)
    scale = max(1, 40 // kw)
    while scale > 1 and cols * (kw * scale + GAP) > MAX_PANEL_WIDTH:
        scale -= 1
    return scale


def filters_png(panels: list[tuple[str, np.ndarray]]) -> bytes:
    """PNG bytes showing each ``(title, weights (F, C, KH, KW))`` panel side by side."""
    scale = min(tile_scale(w.shape) for _, w in panels)
    images = [(title, panel(w, scale)) for title, w in panels]
    height = max(img.shape[0] for _, img in images) + TITLE + 2 * MARGIN
    width = sum(img.shape[1] for _, img in images) + MARGIN * (len(images) + 1)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    x = MARGIN
    for title, img in images:
        draw.text((x, MARGIN // 2), title, fill=TEXT)
        canvas.paste(Image.fromarray(img, "RGB"), (x, MARGIN + TITLE))
        x += img.shape[1] + MARGIN
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
