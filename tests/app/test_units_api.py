"""GET /api/models/{name}/units/{layer}[/{index}] on tiny models: the top digits against the
network's own pass over the test digits, boxes against the layer geometry, ideal inputs that beat
the best digit (shipped and computed on demand), the layer sprite, and clear 404s."""

import base64
import io

import numpy as np
import pytest
from PIL import Image
from tiny_models import FAST_ASCENT, UNIT_IMAGES

from app.encoding import dequantize_uint8
from model import load_checked
from model.maximise import SOURCES, unit_scores
from model.receptive import receptive_span
from model.testset import as_input, load_test_set
from model.units import QUANTILES, TOP, ideal_from, load_units, precomputed_layers, unit_layers

SPLIT = load_test_set()


def get(client, path, status=200):
    r = client.get(path)
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module")
def tiny_alexnet(tiny_dir):
    net = load_checked(tiny_dir / "tiny_alexnet.json")[0]
    _, outputs = net.forward(as_input(net, SPLIT.images[:UNIT_IMAGES]), keep=True)
    return net, outputs


def decoded(encoded):
    return dequantize_uint8(base64.b64decode(encoded["data"]), encoded["min"], encoded["max"],
                            tuple(encoded["shape"]))


@pytest.mark.parametrize("layer,index", [("conv1", 1), ("pool1", 3), ("fc3", 2)])
def test_a_units_top_digits_are_the_highest_scoring_test_digits(client, tiny_alexnet, layer,
                                                                 index):
    net, outputs = tiny_alexnet
    a = get(client, f"/api/models/tiny_alexnet/units/{layer}/{index}")
    assert (a["model"], a["layer"], a["index"]) == ("tiny_alexnet", layer, index)
    assert a["count"] == net.shapes[layer][0] and a["test_size"] == UNIT_IMAGES
    out = outputs[layer][:, index]
    spatial = out.ndim == 3
    assert a["spatial"] is spatial and a["kind"] == dict(net.layers)[layer].kind
    values = out.reshape(UNIT_IMAGES, -1).max(axis=1)
    assert len(a["top"]) == TOP
    assert [t["score"] for t in a["top"]] == pytest.approx(np.sort(values)[::-1][:TOP].tolist(),
                                                           rel=1e-5, abs=1e-6)
    for t in a["top"]:
        i = t["index"]
        assert t["score"] == pytest.approx(float(values[i]), rel=1e-5, abs=1e-6)
        assert t["label"] == SPLIT.labels[i]
        digit = np.frombuffer(base64.b64decode(t["data"]), np.uint8).reshape(28, 28)
        np.testing.assert_array_equal(digit, SPLIT.images[i])
        if spatial:
            y, x = t["position"]
            assert out[i, y, x] == pytest.approx(float(values[i]), rel=1e-6, abs=1e-7)
            assert t["box"] == list(receptive_span(net, layer, y, x))
        else:
            assert t["position"] is None and t["box"] == [0, 0, 28, 28]
    assert len(a["quantiles"]) == QUANTILES
    assert a["quantiles"][-1] == a["top"][0]["score"]
    assert a["quantiles"][50] == pytest.approx(float(np.median(values)), rel=1e-4, abs=1e-5)


def test_ideal_inputs_shipped_and_computed_beat_the_best_digit(client, tiny_alexnet, tiny_dir):
    net, _ = tiny_alexnet
    assert precomputed_layers(net) == ["conv1", "fc3"]
    for layer, index, source in [("conv1", 0, "shipped"), ("fc3", 4, "shipped"),
                                 ("conv3", 2, "computed")]:
        a = get(client, f"/api/models/tiny_alexnet/units/{layer}/{index}")
        assert a["optimal_source"] == source, layer
        image = decoded(a["optimal"])
        assert image.shape == (28, 28) and image.min() >= 0 and image.max() <= 1 + 1e-6
        assert a["optimal_score"] >= a["top"][0]["score"], (layer, index)
        assert a["optimal_from"] in SOURCES
        # the answer's score is the network's on the (8-bit) image, within the quantisation
        again = unit_scores(net, layer, image[None, None].astype(np.float32), np.array([index]))
        spread = a["optimal"]["max"] - a["optimal"]["min"]
        assert again[0] == pytest.approx(a["optimal_score"], rel=0.05, abs=0.02 * spread + 0.05)
        if source == "computed":
            # the default (shipped) ascents, not the tiny files' fast one
            units = load_units(tiny_dir / "tiny_alexnet.units.npz", net)
            best = as_input(net, SPLIT.images[units[f"{layer}.top_index"][[index], 0]])
            _, scores, sources = ideal_from(net, units, layer, np.array([index]), best)
            assert a["optimal_score"] == pytest.approx(float(scores[0]), rel=1e-5)
            assert a["optimal_from"] == SOURCES[sources[0]]
            assert FAST_ASCENT.steps < 90


def test_a_whole_layer_in_one_answer_with_its_sprite(client, tiny_alexnet):
    net, outputs = tiny_alexnet
    for layer in unit_layers(net):
        a = get(client, f"/api/models/tiny_alexnet/units/{layer}")
        count = net.shapes[layer][0]
        assert a["count"] == count and [u["index"] for u in a["units"]] == list(range(count))
        if layer in ("conv1", "fc3"):  # shipped ideal inputs: nothing to compute
            one = get(client, f"/api/models/tiny_alexnet/units/{layer}/{count - 1}")
            assert a["units"][-1]["top"][0] == {k: v for k, v in one["top"][0].items()
                                                if k != "data"}
            assert a["units"][-1]["optimal"] == one["optimal"]
        shipped = layer in ("conv1", "fc3")
        assert all((u["optimal"] is not None) == shipped for u in a["units"])
        assert all((u["optimal_from"] in SOURCES) == shipped for u in a["units"])
        sprite = a["sprite"]
        sheet = np.asarray(Image.open(io.BytesIO(base64.b64decode(sprite["data"]))))
        cols, tile = sprite["columns"], sprite["tile"]
        assert tile == 28 and sheet.shape == (-(-count // cols) * 28, min(count, cols) * 28)
        for u in a["units"]:
            r, c = divmod(u["index"], cols)
            np.testing.assert_array_equal(sheet[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28],
                                          SPLIT.images[u["top"][0]["index"]])


def test_boxes_of_padded_strided_layers_reach_past_the_border(client, tiny_alexnet):
    net, _ = tiny_alexnet
    a = get(client, "/api/models/tiny_alexnet/units/pool2")
    for u in a["units"]:
        top = u["top"][0]
        assert top["box"] == list(receptive_span(net, "pool2", *top["position"]))
        y0, x0, y1, x1 = top["box"]
        # back through pool2 (3, stride 2), conv2 (3), pool1 (3, stride 2), conv1 (3): 13
        assert (y1 - y0, x1 - x0) == (13, 13)
        y, x = top["position"]
        # rows 2y-1..2y+1 of conv2, 2y-2..2y+2 of pool1, 4y-5..4y+5 of conv1, 4y-6..4y+6 of the
        # input: past the border near the edges (padding 1 in every layer)
        assert (y0, x0) == (4 * y - 6, 4 * x - 6)


@pytest.mark.parametrize("path,needle", [
    ("/api/models/nope/units/conv1", "unknown model 'nope'"),
    ("/api/models/tiny/units/relu1", "layers with units: conv1, pool1, fc1, fc2"),
    ("/api/models/tiny/units/relu1/0", "layers with units: conv1, pool1, fc1, fc2"),
    ("/api/models/tiny/units/conv1/4", "has 4 units (0-3); there is no unit 4"),
    ("/api/models/tiny/units/fc1/-1", "has 16 units (0-15); there is no unit -1"),
    ("/api/models/tiny_lenet/units/conv1", "cnnvis units tiny_lenet"),
])
def test_unknown_model_layer_or_unit_is_a_404_naming_the_valid_ones(client, path, needle):
    assert needle in get(client, path, 404)["detail"]


def test_a_non_integer_unit_is_a_422_and_the_model_says_whether_it_has_units(client):
    get(client, "/api/models/tiny/units/conv1/first", 422)
    models = {m["name"]: m for m in get(client, "/api/models")["models"]}
    assert models["tiny"]["has_units"] is True and models["tiny_lenet"]["has_units"] is False
