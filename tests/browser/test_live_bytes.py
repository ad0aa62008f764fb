"""The page's bytes per stroke (issue 18): the pad's PNG encoded off the main thread is the
canvas's own picture, smaller, and answered exactly alike; live answers hold the layers drawn."""

from __future__ import annotations

import base64
import io
import json
import urllib.request

import numpy as np
from pagetools import SEVEN, draw, hover_unit_below, predicted
from PIL import Image

ENCODE_BOTH = """async () => {
  const { PadEncoder } = await import('/static/js/padencoder.js');
  const canvas = document.getElementById('draw-canvas');
  const encoder = new PadEncoder();
  return [await encoder.encode(canvas), canvas.toDataURL('image/png'), Boolean(encoder.worker)];
}"""


def png(url: str) -> Image.Image:
    assert url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def activations(server_url: str, image: str) -> dict:
    request = urllib.request.Request(server_url + "/api/activations", method="POST",
                                     data=json.dumps({"image": image}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as r:
        answer = json.load(r)
    answer.pop("timing_ms")
    return answer


def test_the_workers_png_is_the_canvas_picture_smaller(page, server_url):
    page.click("#clear")
    draw(page, SEVEN)
    assert predicted(page) == "7"
    ours, canvas, in_worker = page.evaluate(ENCODE_BOTH)
    assert in_worker, "the module worker did not start"
    mine, theirs = png(ours), png(canvas)
    assert mine.mode == "L" and mine.size == theirs.size
    np.testing.assert_array_equal(np.asarray(mine.convert("RGBA")),
                                  np.asarray(theirs.convert("RGBA")))
    assert len(ours) < len(canvas) / 2
    assert activations(server_url, ours) == activations(server_url, canvas)


def test_live_answers_hold_the_drawn_layers_and_a_selected_units_group(page):
    page.click("#clear")
    bodies = []
    page.on("request", lambda r: bodies.append(json.loads(r.post_data))
            if r.url.endswith("/api/activations") else None)
    draw(page, SEVEN)
    assert predicted(page) == "7"
    shown = ["input", "relu1", "pool1", "relu2", "fc2"]  # SimpleConvNet's merged groups
    assert bodies and all(b["layers"] == shown for b in bodies)
    assert all(b["image"].startswith("data:image/png;base64,") for b in bodies)
    # The unit panel on conv1 · relu1 needs conv1 too: the drawing is asked about again.
    page.mouse.click(*hover_unit_below(page, "conv1"))
    page.locator("#inspect").wait_for(state="visible")
    predicted(page)
    assert bodies[-1]["layers"] == ["input", "relu1", "pool1", "relu2", "fc2", "conv1"]
