"""POST /api/unit: one unit's exact inputs, weights, sum, bias and output, checked against the
network's own layer-by-layer pass (float32) and against the arithmetic done again here in
float64, for every layer of every tiny architecture; bad requests get a clear 4xx."""

import numpy as np
import pytest
from drawings import pixels

from model import load_checked
from model.layers import Affine, Convolution, MaxPooling, Pooling

P = pixels(0)
MODELS = ["tiny", "tiny_lenet", "tiny_alexnet"]
ELEMENTWISE = ("activation", "normalisation", "identity")


def post(client, body, status=200):
    r = client.post("/api/unit", json=body)
    assert r.status_code == status, r.text
    return r.json()


def forward(net):
    x = np.round(np.asarray(P, np.float64), 4).astype(np.float32)[None, None]
    logits, outputs = net.forward(x, keep=True)
    return x, logits, outputs


def units_of(size: int) -> list[int]:
    """The first, the last and a few in between (the corners of a padded window included)."""
    return sorted({0, 1, size // 3, size // 2 + 1, size - 1})


@pytest.mark.parametrize("name", MODELS)
def test_every_layer_unit_matches_the_forward_pass(client, tiny_dir, name):
    net = load_checked(tiny_dir / f"{name}.json")[0]
    x, logits, outputs = forward(net)
    names = [n for n, _ in net.layers]
    for at, (layer_name, layer) in enumerate(net.layers):
        out = outputs[layer_name][0].reshape(-1)
        prev = (outputs[names[at - 1]] if at else x)[0]
        for index in units_of(out.size):
            a = post(client, {"pixels": P, "model": name, "layer": layer_name, "index": index})
            where = (name, layer_name, index)
            assert a["model"] == name and a["layer"] == layer_name and a["index"] == index
            assert a["kind"] == layer.kind and a["role"] == layer.role, where
            assert a["reads"] == (names[at - 1] if at else "input"), where
            assert a["label"] == int(logits[0].argmax())
            coords = np.unravel_index(index, net.shapes[layer_name])
            assert a["coords"] == [int(c) for c in coords], where
            # The layer's own output for the unit, bit for bit (float32).
            assert np.float32(a["output"]) == out[index], where
            inputs = np.asarray(a["inputs"], np.float32).reshape(a["input_shape"])
            if isinstance(layer, (Convolution, Pooling)):
                k = layer.kernel_size if isinstance(layer, Convolution) else layer.pool_size
                c, oy, ox = (int(v) for v in coords)
                padded = np.pad(prev, ((0, 0), (layer.pad,) * 2, (layer.pad,) * 2))
                window = padded[:, oy * layer.stride:oy * layer.stride + k,
                                ox * layer.stride:ox * layer.stride + k]
                rows = oy * layer.stride - layer.pad + np.arange(k)
                cols = ox * layer.stride - layer.pad + np.arange(k)
                inside = ((rows >= 0) & (rows < prev.shape[1]))[:, None] & \
                    ((cols >= 0) & (cols < prev.shape[2]))[None, :]
                assert a["padding"] == (~inside).ravel().tolist(), where
                if isinstance(layer, Convolution):
                    np.testing.assert_array_equal(inputs, window)
                    kernel = net.params[f"{layer_name}.weight"][c]
                    np.testing.assert_array_equal(np.float32(a["weights"]), kernel.ravel())
                    assert np.float32(a["bias"]) == net.params[f"{layer_name}.bias"][c]
                    exact = float(np.dot(window.ravel().astype(np.float64),
                                         kernel.ravel().astype(np.float64)))
                    assert a["sum"] == pytest.approx(exact, rel=1e-5, abs=1e-5), where
                    assert a["sum"] + a["bias"] == pytest.approx(a["output"], rel=1e-5,
                                                                 abs=1e-5), where
                else:
                    np.testing.assert_array_equal(inputs, window[c])
                    if isinstance(layer, MaxPooling):
                        cells = np.where(inside, window[c], -np.inf).ravel()
                        assert a["winner"] == int(np.argmax(cells))
                        assert np.float32(a["output"]) == cells[a["winner"]], where
                    else:
                        assert a["winner"] is None
                        assert a["output"] == pytest.approx(float(window[c].mean()), rel=1e-5,
                                                            abs=1e-6), where
            elif isinstance(layer, Affine):
                assert a["padding"] is None and a["input_shape"] == [prev.size]
                np.testing.assert_array_equal(inputs, prev.reshape(-1))
                column = net.params[f"{layer_name}.weight"][:, index]
                np.testing.assert_array_equal(np.float32(a["weights"]), column)
                assert np.float32(a["bias"]) == net.params[f"{layer_name}.bias"][index]
                exact = float(np.dot(prev.reshape(-1).astype(np.float64),
                                     column.astype(np.float64)))
                assert a["sum"] == pytest.approx(exact, rel=1e-5, abs=1e-5), where
                assert a["sum"] + a["bias"] == pytest.approx(a["output"], rel=1e-5,
                                                             abs=1e-5), where
            else:
                assert a["input_shape"] == [1] and a["weights"] is a["sum"] is a["bias"] is None
                assert np.float32(a["inputs"][0]) == prev.reshape(-1)[index], where
            # The unit after each elementwise layer that follows, as the page merges them.
            expected = []
            for following_name, following in net.layers[at + 1:]:
                values = outputs[following_name][0].reshape(-1)
                if following.role not in ELEMENTWISE or values.size != out.size:
                    break
                expected.append((following_name, following.kind, values[index]))
            assert [(f["name"], f["kind"]) for f in a["after"]] == [e[:2] for e in expected]
            for f, e in zip(a["after"], expected, strict=True):
                assert np.float32(f["value"]) == e[2], where


@pytest.mark.parametrize("body, status, words", [
    ({"pixels": P, "layer": "conv9", "index": 0}, 404, "no layer 'conv9'"),
    ({"pixels": P, "layer": "conv1", "index": 10**7}, 404, "there is no unit 10000000"),
    ({"pixels": P, "layer": "conv1", "index": -1}, 422, "index"),
    ({"pixels": P, "layer": "conv1", "index": 1.5}, 422, "index"),
    ({"pixels": P, "layer": "", "index": 0}, 422, "layer"),
    ({"pixels": P, "index": 0}, 422, "layer"),
    ({"pixels": P, "layer": "conv1", "index": 0, "model": "nope"}, 404, "unknown model"),
    ({"pixels": [[0.0] * 28] * 28, "layer": "conv1", "index": 0}, 422, "draw something first"),
    ({"layer": "conv1", "index": 0}, 422, "exactly one"),
])
def test_bad_requests_are_refused_clearly(client, body, status, words):
    detail = post(client, body, status)["detail"]
    assert words in detail, detail
