"""Helpers for the browser tests: waiting for the page, drawing digits as mouse strokes, and
reading what a canvas shows."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

# Strokes in pad coordinates (0..1 across the drawing pad), drawn like a person would.
ONE = [[(0.52, 0.18), (0.50, 0.50), (0.48, 0.82)]]
ZERO = [[(0.5 + 0.2 * math.sin(t / 24 * 2 * math.pi), 0.5 - 0.3 * math.cos(t / 24 * 2 * math.pi))
         for t in range(26)]]
SEVEN = [[(0.28, 0.22), (0.72, 0.22), (0.56, 0.5), (0.44, 0.82)]]
FOUR = [[(0.38, 0.18), (0.3, 0.52), (0.72, 0.52)], [(0.62, 0.3), (0.6, 0.84)]]


def wait_idle(pg) -> None:
    """Wait until no prediction is in flight and the 3D view has drawn the latest state."""
    # Selector waits, not wait_for_function: the page's CSP forbids the eval that needs.
    pg.wait_for_selector("body[data-busy='0']", state="attached")
    wait_still(pg)


def wait_still(pg) -> None:
    """Wait until the 3D view has drawn its latest state and its camera and layout are at rest
    (or the view is unavailable and says so)."""
    pg.wait_for_selector("#network-view[data-still='1'], #view-message:not([hidden])",
                         state="attached")


def draw(pg, strokes, steps: int = 6, release: bool = True) -> None:
    """Draw strokes on #draw-canvas with the mouse; each segment in `steps` moves."""
    box = pg.locator("#draw-canvas").bounding_box()

    def at(p):
        return box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"]

    for i, stroke in enumerate(strokes):
        pg.mouse.move(*at(stroke[0]))
        pg.mouse.down()
        for p in stroke[1:]:
            pg.mouse.move(*at(p), steps=steps)
        if release or i < len(strokes) - 1:
            pg.mouse.up()


def predicted(pg) -> str:
    wait_idle(pg)
    return pg.locator("#prediction").inner_text().strip()


def snapshot(locator) -> np.ndarray:
    """What an element shows, as an (H, W, 3) uint8 array."""
    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB"))


def changed_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the drawn (non-background) pixels that differ noticeably between two images."""
    a = a.astype(int)
    b = b.astype(int)
    background = a[0, 0]
    content = (np.abs(a - background).max(axis=2) > 24) | (np.abs(b - background).max(axis=2) > 24)
    changed = np.abs(a - b).max(axis=2) > 24
    return float((changed & content).sum() / max(1, content.sum()))


def label_box(pg, title: str, scope: str = "") -> dict:
    """Bounding box of the 3D view's label for the layer whose title starts with `title` (in
    the element `scope` selects, when given)."""
    label = pg.locator(f"{scope} .layer-label".strip(),
                       has=pg.locator(".l-title", has_text=title)).first
    return label.bounding_box()


def hover_unit_below(pg, title: str, max_px: int = 160, active: bool = False,
                     scope: str = "", readout: str = "#hover-readout") -> tuple[float, float]:
    """Move the mouse down from a layer's label until the hover readout names a unit (with a
    non-zero value when `active`); `scope` and `readout` select another 3D view's. Beside the
    centre line too: a plane with an even number of map columns has a gap down its middle.
    The main view first comes to rest (opening or closing the unit panel reframes it)."""
    if not scope:
        wait_still(pg)
    box = label_box(pg, title, scope)
    readout = pg.locator(readout)
    for dx in (0, -12, 12, -24, 24):
        x = box["x"] + box["width"] / 2 + dx
        for dy in range(24, max_px, 6 if not active else 3):
            y = box["y"] + box["height"] + dy
            pg.mouse.move(x, y)
            if readout.is_visible() and not (
                    active and readout.locator(".ro-value").inner_text().startswith("0.000")):
                return x, y
    raise AssertionError(f"no unit found below the {title} label")
