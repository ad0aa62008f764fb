"""``"ablate"`` on predict, activations, compare and explain, and POST /api/units/rank: answers
equal to a network whose weights were zeroed, the shared model untouched while 24 threads ask with
different units off, and clear 404s naming the valid layers and units."""

import base64
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from drawings import pixels

from app.encoding import dequantize_uint8
from model import load_checked
from model.ablation import ablated
from model.functional import softmax

P = pixels(0)


def post(client, path, body, status=200):
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    return r.json()


def x_of(net):
    return np.round(np.asarray(P, np.float64), 4).astype(np.float32)[None, None]


def zeroed(net, layer, units):
    clone = net.astype(np.float32)
    clone.params = {k: v.copy() for k, v in net.params.items()}
    w = clone.params[f"{layer}.weight"]
    if w.ndim == 4:
        w[units] = 0
    else:
        w[:, units] = 0
    clone.params[f"{layer}.bias"][units] = 0
    return clone


@pytest.mark.parametrize("path", ["/api/predict", "/api/activations"])
def test_predict_and_activations_answer_as_zeroed_weights_and_say_how_it_moved(client, tiny_dir,
                                                                              path):
    net = load_checked(tiny_dir / "tiny_alexnet.json")[0]
    off = [{"layer": "conv2", "index": 1}, {"layer": "conv2", "index": 3},
           {"layer": "conv2", "index": 1}]
    a = post(client, path, {"pixels": P, "model": "tiny_alexnet", "ablate": off})
    reference = softmax(zeroed(net, "conv2", [1, 3]).logits(x_of(net)))[0]
    original = softmax(net.logits(x_of(net)))[0]
    np.testing.assert_allclose(a["probabilities"], reference, rtol=1e-4, atol=1e-6)
    effect = a["ablation"]
    assert effect["units"] == off[:2]  # duplicates removed
    np.testing.assert_allclose(effect["original_probabilities"], original, rtol=1e-5, atol=1e-7)
    assert effect["original_label"] == int(original.argmax())
    assert effect["label_changed"] == (a["label"] != effect["original_label"])
    assert effect["drop"] == pytest.approx(float(original[effect["original_label"]]
                                                 - reference[effect["original_label"]]),
                                           abs=1e-5)
    if path == "/api/activations":
        conv2 = next(layer for layer in a["layers"] if layer["name"] == "conv2")
        values = dequantize_uint8(base64.b64decode(conv2["data"]), conv2["min"],
                                  conv2["max"], tuple(conv2["shape"]))
        assert np.allclose(values[[1, 3]], 0, atol=(conv2["max"] - conv2["min"]) / 255)
    plain = post(client, path, {"pixels": P, "model": "tiny_alexnet"})
    assert plain["ablation"] is None
    np.testing.assert_allclose(plain["probabilities"], original, rtol=1e-5, atol=1e-7)


def test_explain_and_compare_switch_the_units_off_too(client, tiny_dir):
    net = load_checked(tiny_dir / "tiny.json")[0]
    off = [{"layer": "fc1", "index": 5}]
    a = post(client, "/api/explain", {"pixels": P, "model": "tiny", "method": "saliency",
                                      "target": 2, "ablate": off})
    reference = softmax(zeroed(net, "fc1", [5]).logits(x_of(net)))[0]
    np.testing.assert_allclose(a["probabilities"], reference, rtol=1e-4, atol=1e-6)
    assert a["ablation"]["units"] == off
    results = {r["model"]: r for r in post(client, "/api/compare",
                                           {"pixels": P, "ablate": off})["results"]}
    np.testing.assert_allclose(results["tiny"]["probabilities"], reference, rtol=1e-4, atol=1e-6)
    assert results["tiny"]["ablation"]["units"] == off
    # tiny_lenet's fc1 has 12 units, tiny_alexnet's 16: both have unit 5; all models have fc1
    assert all(r["ablation"] is not None for r in results.values())
    wide = post(client, "/api/compare", {"pixels": P, "ablate": [{"layer": "fc1", "index": 14}]})
    assert {r["model"]: r["ablation"] is not None for r in wide["results"]} == {
        "tiny": True, "tiny_alexnet": True, "tiny_lenet": False}


def test_the_ranking_equals_switching_each_unit_off_alone(client, tiny_dir):
    net = load_checked(tiny_dir / "tiny_alexnet.json")[0]
    a = post(client, "/api/units/rank", {"pixels": P, "model": "tiny_alexnet", "layer": "conv3"})
    x = x_of(net)
    base = softmax(net.logits(x))[0]
    assert a["target"] == a["label"] == int(base.argmax()) and a["layer"] == "conv3"
    assert sorted(u["index"] for u in a["units"]) == list(range(6))
    drops = [u["drop"] for u in a["units"]]
    assert drops == sorted(drops, reverse=True)
    for u in a["units"]:
        alone = softmax(ablated(net, {"conv3": [u["index"]]}).logits(x))[0]
        assert u["probability"] == pytest.approx(float(alone[a["target"]]), rel=1e-4, abs=1e-6)
    targeted = post(client, "/api/units/rank", {"pixels": P, "model": "tiny_alexnet",
                                                "layer": "fc1", "target": 7})
    assert targeted["target"] == 7 and len(targeted["units"]) == 16


def test_many_requests_with_different_units_off_never_disturb_each_other(client, tiny_dir):
    net = load_checked(tiny_dir / "tiny_alexnet.json")[0]
    bodies = [{"pixels": P, "model": "tiny_alexnet",
               "ablate": [{"layer": ("conv1", "pool2", "fc1")[i % 3], "index": i % 4}]}
              if i % 4 else {"pixels": P, "model": "tiny_alexnet"} for i in range(48)]
    serial = [post(client, "/api/predict", body)["probabilities"] for body in bodies]
    with ThreadPoolExecutor(24) as pool:
        parallel = list(pool.map(lambda b: post(client, "/api/predict", b)["probabilities"],
                                 bodies))
    assert parallel == serial
    assert len({tuple(p) for p in serial}) > 3  # the units off did change the answers
    served = client.app.state.registry.get("tiny_alexnet").net
    assert type(dict(served.layers)["conv1"]).__name__ == "Convolution"
    for key, value in served.params.items():
        np.testing.assert_array_equal(value, net.params[key])


@pytest.mark.parametrize("path,body,needle", [
    ("/api/predict", {"ablate": [{"layer": "relu1", "index": 0}]},
     "layers with units: conv1, pool1, fc1, fc2"),
    ("/api/activations", {"ablate": [{"layer": "conv1", "index": 4}]},
     "has 4 units (0-3); there is no unit 4"),
    ("/api/explain", {"method": "saliency", "ablate": [{"layer": "nope", "index": 0}]},
     "no unit layer 'nope'"),
    ("/api/units/rank", {"layer": "relu2"}, "layers with units: conv1, pool1, fc1, fc2"),
])
def test_unknown_units_are_404s_naming_the_valid_ones(client, path, body, needle):
    r = client.post(path, json={"pixels": P, "model": "tiny", **body})
    assert r.status_code == 404 and needle in r.json()["detail"], r.text


@pytest.mark.parametrize("ablate", [[{"layer": "conv1"}], [{"layer": "conv1", "index": -1}],
                                    [{"layer": "", "index": 0}], "conv1",
                                    [{"layer": "conv1", "index": 0}] * 257])
def test_malformed_ablate_is_a_422(client, ablate):
    r = client.post("/api/predict", json={"pixels": P, "model": "tiny", "ablate": ablate})
    assert r.status_code == 422, r.text
