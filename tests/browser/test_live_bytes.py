"""The page's bytes per stroke (issue 18): the pad's PNG encoded off the main thread is the
canvas's own picture, smaller, and its ink's box is answered exactly alike; answers hold the
layers drawn, those the page can compute (derive.js) computed from the others."""

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
  const { image, whole } = await encoder.encode(canvas);
  return [image, whole, canvas.toDataURL('image/png'), Boolean(encoder.worker)];
}"""

# The page's own answer (state.js): the layers it shows or derived, and the picture it sent.
SHOWN = """async (names) => {
  const { state } = await import('/static/js/state.js');
  const values = (n) => Array.from(state.result.layers.get(n)?.values || []);
  return [state.source.image, Object.fromEntries(names.map((n) => [n, values(n)]))];
}"""

# derive.js on a full answer cut down to the layers the page would ask for (every one needed):
# what it asked for, and the values of each layer it derived and of the layer before that.
DERIVE = """async ([answer, model]) => {
  const { answerLayers, layersToAsk } = await import('/static/js/derive.js');
  const names = ['input', ...model.layers.map((l) => l.name)];
  const ask = layersToAsk(model, names);
  const cut = { ...answer, layers: answer.layers.filter((l) => ask.includes(l.name)) };
  const layers = answerLayers(cut, model);
  const derived = (n) => n !== undefined && !ask.includes(n);
  const keep = names.filter((n, i) => derived(n) || derived(names[i + 1]));
  return [ask, Object.fromEntries(keep.map((n) => [n, Array.from(layers.get(n)?.values || [])]))];
}"""


def png(url: str) -> Image.Image:
    assert url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def post(server_url: str, body: dict) -> dict:
    request = urllib.request.Request(server_url + "/api/activations", method="POST",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as r:
        answer = json.load(r)
    answer.pop("timing_ms")
    return answer


def activations(server_url: str, image: str, model: str | None = None) -> dict:
    return post(server_url, {"image": image, **({"model": model} if model else {})})


def served_models(server_url: str) -> list[dict]:
    with urllib.request.urlopen(server_url + "/api/models") as r:
        return json.load(r)["models"]


def decoded(layer: dict) -> tuple[np.ndarray, float]:
    """A layer's values as the page decodes them (codec.js), and its quantisation step."""
    q = np.frombuffer(base64.b64decode(layer["data"]), dtype=np.uint8).astype(np.float64)
    step = (layer["max"] - layer["min"]) / 255
    return (layer["min"] + q * step).astype(np.float32).reshape(layer["shape"]), step


def max_pool(x: np.ndarray, window: dict, out_shape: list[int]) -> np.ndarray:
    """(C, H, W) → (C, OH, OW), padding never winning (model/layers.py MaxPooling)."""
    k, s, p = window["kernel"], window["stride"], window["padding"]
    padded = np.pad(x, ((0, 0), (p, p), (p, p)), constant_values=-np.inf)
    _, oh, ow = out_shape
    return np.max([padded[:, dy:dy + s * oh:s, dx:dx + s * ow:s]
                   for dy in range(k) for dx in range(k)], axis=0)


def check_derived(model: dict, server: dict, values: dict, asked: list[str]) -> list[str]:
    """Every layer in the page's ``values`` that it was not ``asked`` for (derived) is the
    server's within half its quantisation step plus the error carried from the layer it was
    computed from; a derived max pool is exactly the max pool of the page's values of its input;
    the derived input holds the answer's rows exactly. Returns the derived names in order."""
    sent = {layer["name"]: decoded(layer) for layer in server["layers"]}
    carried = {"input": 0.0}  # how far the page's values of a layer may be from the true ones
    names = ["input", *(layer["name"] for layer in model["layers"])]
    derived = []
    for i, layer in enumerate([None, *model["layers"]]):
        name = names[i]
        truth, step = sent[name]
        if name in asked:
            carried[name] = step / 2
        if name in asked or name not in values:
            continue
        derived.append(name)
        mine = np.asarray(values[name], dtype=np.float32).reshape(truth.shape)
        if layer is None:
            rows = np.asarray(server["input"], dtype=np.float32)
            (h, w), (_, height, width) = rows.shape, truth.shape
            top, left = (height - h) // 2, (width - w) // 2  # model/inputs.py fit_input
            np.testing.assert_array_equal(mine[0, top:top + h, left:left + w], rows)
            around = mine.copy()
            around[0, top:top + h, left:left + w] = 0
            assert not around.any()
        else:
            carried[name] = carried[names[i - 1]]
            if layer["kind"] == "maxpool":
                before = np.asarray(values[names[i - 1]], dtype=np.float32)
                np.testing.assert_array_equal(mine, max_pool(
                    before.reshape(sent[names[i - 1]][0].shape), layer["window"],
                    layer["output_shape"]))
        gap = float(np.abs(mine.astype(np.float64) - truth).max())
        rounding = 1e-6 * (1 + float(np.abs(truth).max()))  # float32 values on both sides
        assert gap <= carried[name] + step / 2 + rounding, (model["name"], name, gap)
    return derived


def test_the_workers_png_is_the_canvas_picture_smaller_and_cropped_to_the_ink(page, server_url):
    page.click("#clear")
    draw(page, SEVEN)
    assert predicted(page) == "7"
    crop, ours, canvas, in_worker = page.evaluate(ENCODE_BOTH)
    assert in_worker, "the module worker did not start"
    mine, theirs = png(ours), png(canvas)
    assert mine.mode == "L" and mine.size == theirs.size
    whole = np.asarray(theirs.convert("L"))
    np.testing.assert_array_equal(np.asarray(mine.convert("RGBA")),
                                  np.asarray(theirs.convert("RGBA")))
    assert len(ours) < len(canvas) / 2
    # The crop: the ink's box and one pixel of paper, read from the canvas's own picture.
    rows = np.flatnonzero(whole.any(axis=1))
    cols = np.flatnonzero(whole.any(axis=0))
    cut = png(crop)
    assert cut.mode == "L" and len(crop) < len(ours)
    np.testing.assert_array_equal(np.asarray(cut),
                                  whole[rows[0] - 1:rows[-1] + 2, cols[0] - 1:cols[-1] + 2])
    answer = activations(server_url, crop)
    assert answer == activations(server_url, ours) == activations(server_url, canvas)


def test_live_answers_ask_for_the_layers_drawn_that_the_page_cannot_derive(page, server_url):
    page.click("#clear")
    bodies = []
    page.on("request", lambda r: bodies.append(json.loads(r.post_data))
            if r.url.endswith("/api/activations") else None)
    draw(page, SEVEN)
    assert predicted(page) == "7"
    # SimpleConvNet's merged groups show input, relu1, pool1, relu2 and fc2: the input is the
    # answer's own 28×28 and pool1 the max pool of relu1.
    assert bodies and all(b["layers"] == ["relu1", "relu2", "fc2"] for b in bodies)
    assert all(png(b["image"]).size[0] < 280 for b in bodies)
    shown = ["input", "relu1", "pool1", "relu2", "fc2"]
    image, values = page.evaluate(SHOWN, shown)
    assert image == bodies[-1]["image"]
    models = served_models(server_url)
    model = next(m for m in models if m["name"] == "simple_convnet")
    full = activations(server_url, image, "simple_convnet")
    derived = check_derived(model, full, values, ["relu1", "relu2", "fc2"])
    assert derived == ["input", "pool1"]
    # Every served network, every layer needed (the tour): max pools (padded ones too) and
    # dropouts are derived, average pools are not (8-bit inputs would not give them exactly).
    pooled = 0
    for model in models:
        full = activations(server_url, image, model["name"])
        asked, values = page.evaluate(DERIVE, [full, model])
        derived = check_derived(model, full, values, asked)
        names = ["input", *(layer["name"] for layer in model["layers"])]
        assert sorted(derived + asked) == sorted(names), model["name"]
        for layer in model["layers"]:
            assert (layer["name"] in derived) == (layer["kind"] in ("maxpool", "dropout")), \
                (model["name"], layer["name"])
        pooled += sum(layer["window"] is not None and layer["window"]["padding"] > 0
                      for layer in model["layers"] if layer["kind"] == "maxpool")
    assert pooled, "no padded max pool among the served networks"
    # The unit panel on conv1 · relu1 needs conv1 too: the drawing is asked about again.
    page.mouse.click(*hover_unit_below(page, "conv1"))
    page.locator("#inspect").wait_for(state="visible")
    predicted(page)
    assert bodies[-1]["layers"] == ["conv1", "relu1", "relu2", "fc2"]
