"""The shipped SimpleConvNet through the API: sample digits as pixels and as drawings, the
activations' size budget and their agreement with ``net.forward(keep=True)``."""

import base64

import numpy as np
import pytest
from drawings import SAMPLE, data_url, drawing, pixels

from app.encoding import dequantize_uint8
from model import load
from model.data import REPO_ROOT

PICKS = [c * 10 + k for c in range(10) for k in (1, 6)]
BUDGET = 64 * 1024


@pytest.fixture(scope="module")
def net():
    return load("simple_convnet", REPO_ROOT / "weights")


@pytest.fixture(scope="module")
def clean_labels(net):
    return net.predict(SAMPLE["images"][:, None].astype(np.float32) / 255.0).argmax(axis=1)


def test_sample_pixels_are_classified_as_the_network_does(real_client, clean_labels):
    labels = [real_client.post("/api/predict", json={"pixels": pixels(i)}).json()["label"]
              for i in range(len(SAMPLE["labels"]))]
    np.testing.assert_array_equal(labels, clean_labels)
    assert np.mean(np.asarray(labels) == SAMPLE["labels"]) >= 0.95


@pytest.mark.parametrize("style", [
    {}, {"dark_on_light": False}, {"transparent": True}, {"fmt": "JPEG"}, {"scale": 3},
], ids=["dark on light", "light on dark", "transparent", "jpeg", "small"])
def test_drawn_digits_get_the_clean_digits_label(real_client, clean_labels, style):
    media = "image/jpeg" if style.get("fmt") == "JPEG" else "image/png"
    for i in PICKS:
        r = real_client.post("/api/predict", json={"image": data_url(drawing(i, **style), media)})
        assert r.status_code == 200, r.text
        assert r.json()["label"] == clean_labels[i], (style, i)


def _check_layers(body, net):
    x = np.asarray(body["input"], np.float32)[None, None]
    _, outputs = net.forward(x, keep=True)
    assert [layer["name"] for layer in body["layers"]] == ["input"] + [n for n, _ in net.layers]
    for layer in body["layers"]:
        expected = x[0] if layer["name"] == "input" else outputs[layer["name"]][0]
        decoded = dequantize_uint8(base64.b64decode(layer["data"]), layer["min"], layer["max"],
                                   tuple(layer["shape"]))
        step = (layer["max"] - layer["min"]) / 255
        assert np.abs(decoded - expected).max() <= step / 2 * (1 + 1e-5) + 1e-7, layer["name"]


@pytest.mark.parametrize("source", ["pixels", "drawing", "noise"])
def test_activations_fit_the_budget_and_match_the_forward_pass(real_client, net, source):
    if source == "pixels":
        body = {"pixels": pixels(57)}
    elif source == "drawing":
        body = {"image": data_url(drawing(88, transparent=True))}
    else:  # the longest possible JSON: 784 distinct non-zero values with four decimals
        body = {"pixels": np.random.default_rng(0).uniform(0.1001, 0.9999, (28, 28)).tolist()}
    r = real_client.post("/api/activations", json=body)
    assert r.status_code == 200
    assert len(r.content) <= BUDGET, len(r.content)
    _check_layers(r.json(), net)
    shapes = {layer["name"]: layer["shape"] for layer in r.json()["layers"]}
    assert shapes == {"input": [1, 28, 28], "conv1": [30, 24, 24], "relu1": [30, 24, 24],
                      "pool1": [30, 12, 12], "fc1": [100], "relu2": [100], "fc2": [10]}


def test_filters_png_shows_initial_and_trained(real_client):
    r = real_client.get("/api/models/simple_convnet/filters.png")
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
    body = real_client.get("/api/models/simple_convnet/filters?state=initial").json()
    assert body["shape"] == [30, 1, 5, 5]
