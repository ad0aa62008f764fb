"""Explain and teach endpoints: attributions against the network's own backward pass and finite
differences, im2col matrices that multiply to the layer's output, robustness probes, the
preprocessing steps, and the misclassified gallery (file format, startup, shipped model)."""

import base64
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from drawings import SAMPLE, data_url, drawing, encode, pixels
from fastapi.testclient import TestClient
from tiny_models import write_tiny

from app import cli, explain_service
from app.config import Settings
from app.encoding import dequantize_uint8
from app.main import create_app
from model import load_checked
from model.data import REPO_ROOT, to_float
from model.explain import default_cam_layer, gradcam, occlusion, pool_matrices, saliency, transform
from model.misclassified import errors_path, find_misclassified, save_misclassified

P = pixels(0)
MODELS = ["tiny", "tiny_lenet", "tiny_alexnet"]


def loaded(directory, name):
    return load_checked(directory / f"{name}.json")[0]


def as_input(values) -> np.ndarray:
    """What the API feeds the network for ``pixels``: rounded to 4 decimals, (1, 1, 28, 28)."""
    return np.round(np.asarray(values, np.float64), 4).astype(np.float32)[None, None]


def decode(array: dict) -> tuple[np.ndarray, float]:
    """An EncodedArray and its worst-case quantisation error (half a step, plus float slack)."""
    assert array["encoding"] == "uint8"
    values = dequantize_uint8(base64.b64decode(array["data"]), array["min"], array["max"],
                              tuple(array["shape"]))
    step = (array["max"] - array["min"]) / 255
    return values, step / 2 + 1e-6 * max(1.0, abs(array["min"]), abs(array["max"]))


def raw_bytes(array: dict) -> np.ndarray:
    assert array["encoding"] == "uint8" and "min" not in array
    return np.frombuffer(base64.b64decode(array["data"]), np.uint8).reshape(array["shape"])


def post(client, path, body, status=200):
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    return r.json()


# ----- /api/explain ---------------------------------------------------------------------------
def test_saliency_is_the_backward_pass_gradient(client, tiny_dir):
    # Faint noise keeps every ReLU and max-pool away from its kink, so finite differences agree.
    noisy = np.clip(np.asarray(P) + 0.05 * np.random.default_rng(0).random((28, 28)), 0, 1)
    body = post(client, "/api/explain", {"pixels": noisy.tolist(), "method": "saliency",
                                         "target": 3})
    assert body["method"] == "saliency" and body["target"] == 3 and body["model"] == "tiny"
    assert body["layer"] is body["patch"] is body["stride"] is body["coarse"] is None
    assert body["map_range"] == [0.0, 1.0]
    net = loaded(tiny_dir, "tiny")
    x = as_input(noisy)
    expected = saliency(net, x, 3)
    heat, tol = decode(body["map"])
    assert heat.shape == (28, 28) and 0 <= heat.min() and heat.max() <= 1 + tol
    assert np.abs(heat - expected["map"]).max() <= tol + 1e-5
    gradient, gtol = decode(body["gradient"])
    assert np.abs(gradient - expected["gradient"][0]).max() <= gtol + 1e-5
    # Independently: centred differences of the class-3 logit in float64 at the steepest pixels.
    net64 = net.astype(np.float64)
    x64 = x.astype(np.float64)
    eps = 1e-4
    for flat in np.argsort(-np.abs(gradient).ravel())[:5]:
        r, c = divmod(int(flat), 28)
        plus, minus = x64.copy(), x64.copy()
        plus[0, 0, r, c] += eps
        minus[0, 0, r, c] -= eps
        numeric = (net64.forward(plus)[0][0, 3] - net64.forward(minus)[0][0, 3]) / (2 * eps)
        assert abs(gradient[r, c] - numeric) <= gtol + 1e-4 * max(1.0, abs(numeric))
    probs = net.predict(x)[0]
    assert body["label"] == int(probs.argmax())
    np.testing.assert_allclose(body["probabilities"], probs, rtol=1e-5, atol=1e-7)
    assert body["target_probability"] == pytest.approx(float(probs[3]), rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("name", MODELS)
def test_gradcam_defaults_to_the_last_conv_activation(client, tiny_dir, name):
    net = loaded(tiny_dir, name)
    body = post(client, "/api/explain", {"pixels": P, "method": "gradcam", "model": name})
    layer = default_cam_layer(net)
    x = as_input(P)
    assert body["layer"] == layer and body["target"] == int(net.predict(x)[0].argmax())
    expected = gradcam(net, x, body["target"], layer)
    heat, tol = decode(body["map"])
    assert heat.shape == (28, 28) and np.abs(heat - expected["map"]).max() <= tol + 1e-5
    coarse, ctol = decode(body["coarse"])
    assert coarse.shape == net.shapes[layer][1:]
    assert np.abs(coarse - expected["coarse"]).max() <= ctol + 1e-5
    np.testing.assert_allclose(body["channel_weights"], expected["weights"], rtol=1e-5,
                               atol=1e-7)
    assert len(body["channel_weights"]) == net.shapes[layer][0] and body["gradient"] is None


def test_gradcam_on_a_chosen_layer_and_target(client, tiny_dir):
    body = post(client, "/api/explain",
                {"pixels": P, "method": "gradcam", "layer": "pool1", "target": 7})
    assert body["layer"] == "pool1" and body["target"] == 7
    assert body["coarse"]["shape"] == [12, 12]
    expected = gradcam(loaded(tiny_dir, "tiny"), as_input(P), 7, "pool1")
    heat, tol = decode(body["map"])
    assert np.abs(heat - expected["map"]).max() <= tol + 1e-5


@pytest.mark.parametrize("patch, stride", [(6, 2), (2, 2), (14, 14), (5, 3)])
def test_occlusion_grid_and_map(client, tiny_dir, patch, stride):
    body = post(client, "/api/explain", {"pixels": P, "method": "occlusion", "patch": patch,
                                         "stride": stride, "model": "tiny_lenet"})
    assert body["patch"] == patch and body["stride"] == stride and body["map_range"] == [-1, 1]
    side = (28 - patch) // stride + 1
    assert body["coarse"]["shape"] == [side, side]
    expected = occlusion(loaded(tiny_dir, "tiny_lenet"), as_input(P), body["target"], patch,
                         stride)
    grid, gtol = decode(body["coarse"])
    assert np.abs(grid - expected["grid"]).max() <= gtol + 1e-5
    heat, tol = decode(body["map"])
    assert heat.shape == (28, 28) and np.abs(heat - expected["map"]).max() <= tol + 1e-5
    assert -1 - tol <= heat.min() and heat.max() <= 1 + tol


def test_explain_accepts_a_drawn_image_and_whole_floats(client):
    body = post(client, "/api/explain", {"image": data_url(drawing(4)), "method": "saliency",
                                         "target": 2.0})
    assert body["target"] == 2 and body["timing_ms"]["total"] >= body["timing_ms"]["inference"]


def test_explanations_are_thread_safe(client):
    request = {"pixels": P, "method": "gradcam", "model": "tiny_alexnet"}
    expected = post(client, "/api/explain", request)["map"]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: client.post("/api/explain", json=request), range(16)))
    assert all(a.status_code == 200 and a.json()["map"] == expected for a in answers)


# ----- bad input --------------------------------------------------------------------------------
BAD = [
    ("unknown method", "/api/explain", {"pixels": P, "method": "lime"}, 422,
     "'method' is 'saliency', 'gradcam' or 'occlusion'"),
    ("no method", "/api/explain", {"pixels": P}, 422, "'method' is 'saliency'"),
    ("method not a string", "/api/explain", {"pixels": P, "method": 1}, 422, "'method' is"),
    ("body a list", "/api/explain", [1], 422, "'method' is"),
    ("target too high", "/api/explain", {"pixels": P, "method": "saliency", "target": 10}, 422,
     "target 10 is not a class of model"),
    ("target negative", "/api/explain", {"pixels": P, "method": "gradcam", "target": -1}, 422,
     "target: Input should be greater than or equal to 0"),
    ("target a string", "/api/explain", {"pixels": P, "method": "saliency", "target": "3"}, 422,
     "target: Input should be a valid integer"),
    ("target fractional", "/api/explain", {"pixels": P, "method": "saliency", "target": 2.5},
     422, "target: Input should be a valid integer"),
    ("unknown layer", "/api/explain", {"pixels": P, "method": "gradcam", "layer": "conv9"},
     404, "has no layer with feature maps called 'conv9'; Grad-CAM layers: conv1, relu1, pool1"),
    ("gradcam on an affine layer", "/api/explain",
     {"pixels": P, "method": "gradcam", "layer": "fc1"}, 404, "Grad-CAM layers: conv1"),
    ("layer for saliency", "/api/explain", {"pixels": P, "method": "saliency", "layer": "conv1"},
     422, "unexpected field 'saliency.layer'"),
    ("patch for gradcam", "/api/explain", {"pixels": P, "method": "gradcam", "patch": 4}, 422,
     "unexpected field 'gradcam.patch'"),
    ("patch too small", "/api/explain", {"pixels": P, "method": "occlusion", "patch": 1}, 422,
     "patch: Input should be greater than or equal to 2"),
    ("stride too large", "/api/explain", {"pixels": P, "method": "occlusion", "stride": 15}, 422,
     "stride: Input should be less than or equal to 14"),
    ("unknown model", "/api/explain", {"pixels": P, "method": "saliency", "model": "vgg"}, 404,
     "unknown model 'vgg'"),
    ("blank drawing", "/api/explain", {"pixels": [[0.0] * 28] * 28, "method": "saliency"}, 422,
     "draw something first"),
    ("no drawing", "/api/explain", {"method": "saliency"}, 422, "got neither"),
    ("im2col on a ReLU", "/api/im2col", {"pixels": P, "layer": "relu1"}, 404,
     "has no convolution or pooling layer 'relu1'; convolution and pooling layers: conv1, pool1"),
    ("im2col empty layer name", "/api/im2col", {"pixels": P, "layer": ""}, 422,
     "layer: String should have at least 1 character"),
    ("im2col unknown model", "/api/im2col", {"pixels": P, "model": "x"}, 404, "unknown model"),
    ("shift too far", "/api/robustness", {"pixels": P, "dx": 11}, 422,
     "dx: Input should be less than or equal to 10"),
    ("angle too large", "/api/robustness", {"pixels": P, "angle": -46}, 422,
     "angle: Input should be greater than or equal to -45"),
    ("scale too small", "/api/robustness", {"pixels": P, "scale": 0.4}, 422,
     "scale: Input should be greater than or equal to 0.5"),
    ("thickness fractional", "/api/robustness", {"pixels": P, "thickness": 1.5}, 422,
     "thickness: Input should be a valid integer"),
    ("thickness too large", "/api/robustness", {"pixels": P, "thickness": 3}, 422,
     "thickness: Input should be less than or equal to 2"),
    ("shift is a string", "/api/robustness", {"pixels": P, "dy": "2"}, 422,
     "dy: Input should be a valid number"),
    ("robustness target", "/api/robustness", {"pixels": P, "target": 12}, 422, "target"),
    ("preprocess needs an image", "/api/preprocess", {"pixels": P}, 422,
     "unexpected field 'pixels'"),
    ("preprocess without image", "/api/preprocess", {}, 422, "'image' is required"),
    ("preprocess not a data URL", "/api/preprocess", {"image": "http://x/y.png"}, 422,
     "image must be a data URL"),
    ("preprocess GIF", "/api/preprocess", {"image": "data:image/gif;base64,R0lGODdh"}, 415,
     "media type 'image/gif'"),
    ("preprocess bad base64", "/api/preprocess", {"image": "data:image/png;base64,@@"}, 400,
     "not valid base64"),
]


@pytest.mark.parametrize("path, body, status, message", [case[1:] for case in BAD],
                         ids=[case[0] for case in BAD])
def test_bad_input_is_a_clear_4xx(client, path, body, status, message):
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"detail"} and message in r.json()["detail"], r.json()["detail"]


def test_blank_preprocess_and_unknown_gallery(client):
    blank = encode(np.full((40, 40, 3), 255, np.uint8))
    r = client.post("/api/preprocess", json={"image": data_url(blank)})
    assert r.status_code == 422 and "draw something first" in r.json()["detail"]
    r = client.get("/api/models/nope/misclassified")
    assert r.status_code == 404 and "unknown model 'nope'" in r.json()["detail"]


def test_openapi_documents_every_error_status(client):
    spec = client.get("/openapi.json").json()
    body_ops = ("/api/explain", "/api/im2col", "/api/robustness")
    for path in body_ops:
        assert {"200", "400", "404", "413", "415", "422", "503"} <= set(
            spec["paths"][path]["post"]["responses"])
    assert {"200", "400", "413", "415", "422", "503"} <= set(
        spec["paths"]["/api/preprocess"]["post"]["responses"])
    assert {"200", "404", "503"} <= set(
        spec["paths"]["/api/models/{name}/misclassified"]["get"]["responses"])
    schemas = spec["components"]["schemas"]
    assert "min + q * (max - min) / 255" in schemas["EncodedArray"]["properties"]["encoding"][
        "description"]
    methods = {schemas[name]["properties"]["method"]["const"]
               for name in ("SaliencyRequest", "GradcamRequest", "OcclusionRequest")}
    assert methods == {"saliency", "gradcam", "occlusion"}


# ----- /api/im2col ----------------------------------------------------------------------------
@pytest.mark.parametrize("name, layer", [("tiny", None), ("tiny_lenet", "conv2"),
                                         ("tiny_alexnet", "conv2"), ("tiny_alexnet", "conv5")])
def test_im2col_matrices_multiply_to_the_layer_output(client, tiny_dir, name, layer):
    request = {"pixels": P, "model": name, **({"layer": layer} if layer else {})}
    body = post(client, "/api/im2col", request)
    net = loaded(tiny_dir, name)
    layer = layer or "conv1"
    conv = dict(net.layers)[layer]
    assert body["layer"] == layer and body["kind"] == "conv" and body["pool"] is None
    assert (body["kernel"], body["stride"], body["pad"]) == (conv.kernel_size, conv.stride,
                                                             conv.pad)
    _, outputs = net.forward(as_input(P), keep=True)
    actual = outputs[layer][0]  # (F, OH, OW)
    f, oh, ow = actual.shape
    cols, ctol = decode(body["conv"]["cols"])
    weight, wtol = decode(body["conv"]["weight"])
    bias, btol = decode(body["conv"]["bias"])
    c = body["input"]["shape"][0]
    k = conv.kernel_size
    assert cols.shape == (oh * ow, c * k * k) and weight.shape == (f, c * k * k)
    assert bias.shape == (f,)
    # Quantised operands: |ΔA B + A ΔB + ΔA ΔB| summed over the inner dimension, plus the bias.
    inner = c * k * k
    bound = inner * (ctol * np.abs(weight).max() + np.abs(cols).max() * wtol + ctol * wtol)
    product = cols @ weight.T + bias  # (OH*OW, F)
    assert np.abs(product - actual.reshape(f, -1).T).max() <= bound + btol + 1e-4
    sent, ptol = decode(body["conv"]["product"])
    assert np.abs(sent - actual.reshape(f, -1).T).max() <= ptol + 1e-5
    output, otol = decode(body["output"])
    assert output.shape == actual.shape and np.abs(output - actual).max() <= otol + 1e-5


@pytest.mark.parametrize("name, layer", [("tiny", "pool1"), ("tiny_alexnet", "pool3")])
def test_im2col_max_pooling_windows_and_winners(client, tiny_dir, name, layer):
    body = post(client, "/api/im2col", {"pixels": P, "model": name, "layer": layer})
    net = loaded(tiny_dir, name)
    expected = pool_matrices(net, as_input(P), layer)
    assert body["kind"] == "maxpool" and body["conv"] is None
    assert (body["kernel"], body["stride"], body["pad"]) == (expected["pool"], expected["stride"],
                                                             expected["pad"])
    windows, wtol = decode(body["pool"]["windows"])
    k = expected["pool"]
    c, oh, ow = expected["output"].shape
    assert windows.shape == (c * oh * ow, k * k)
    argmax = raw_bytes(body["pool"]["argmax"])
    np.testing.assert_array_equal(argmax, expected["argmax"])
    winners = raw_bytes(body["pool"]["winners"])
    np.testing.assert_array_equal(winners, expected["winners"].astype(np.uint8))
    assert winners.shape == expected["input"].shape
    output, otol = decode(body["output"])
    rows = np.arange(len(argmax))
    assert np.abs(windows[rows, argmax] - output.ravel()).max() <= wtol + otol
    assert np.abs(windows.max(axis=1) - expected["output"].ravel()).max() <= wtol + 1e-6


def test_im2col_average_pooling(client, tiny_dir):
    body = post(client, "/api/im2col", {"pixels": P, "model": "tiny_lenet", "layer": "pool1"})
    assert body["kind"] == "avgpool" and body["pool"]["argmax"] is body["pool"]["winners"] is None
    windows, wtol = decode(body["pool"]["windows"])
    _, outputs = loaded(tiny_dir, "tiny_lenet").forward(as_input(P), keep=True)
    assert np.abs(windows.mean(axis=1) - outputs["pool1"][0].ravel()).max() <= wtol + 1e-6


def test_im2col_refuses_answers_over_its_limit(client, monkeypatch):
    monkeypatch.setattr(explain_service, "MAX_MATRIX_VALUES", 1000)
    r = client.post("/api/im2col", json={"pixels": P})
    assert r.status_code == 422
    # conv1 of tiny: input 784 + cols 576×25 + weight 4×25 + bias 4 + product and output 2×2304
    assert r.json() == {"detail": "the matrices of conv1 hold 19,896 values; this endpoint "
                                  "returns at most 1,000 (about 2 MB)"}


def test_im2col_of_the_shipped_network_stays_small(real_client):
    for layer in ("conv1", "pool1"):
        r = real_client.post("/api/im2col", json={"pixels": P, "layer": layer})
        assert r.status_code == 200 and len(r.content) < 150_000


# ----- /api/robustness ------------------------------------------------------------------------
def test_robustness_identity_is_the_plain_prediction(client):
    plain = post(client, "/api/predict", {"pixels": P, "model": "tiny_alexnet"})
    body = post(client, "/api/robustness", {"pixels": P, "model": "tiny_alexnet"})
    assert body["input"] == plain["input"]
    assert body["label"] == body["original_label"] == plain["label"]
    np.testing.assert_allclose(body["probabilities"], plain["probabilities"], rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(body["original_probabilities"], body["probabilities"], rtol=1e-6)
    assert body["transform"] == {"dx": 0, "dy": 0, "angle": 0, "scale": 1, "thickness": 0}
    curve = body["shift_curve"]
    assert curve["shifts"] == list(range(-8, 9))
    assert body["target"] == plain["label"]
    at_zero = body["probabilities"][body["target"]]
    assert curve["horizontal"][8] == pytest.approx(at_zero, rel=1e-5)
    assert curve["vertical"][8] == pytest.approx(at_zero, rel=1e-5)


def test_robustness_transform_and_curve(client, tiny_dir):
    request = {"pixels": P, "dx": 3, "dy": -2.5, "angle": 20, "scale": 0.8, "thickness": 1,
               "target": 4}
    body = post(client, "/api/robustness", request)
    x = as_input(P)
    moved = transform(x, 3, -2.5, 20, 0.8, 1)[0, 0]
    np.testing.assert_array_equal(np.asarray(body["input"], np.float32),
                                  np.round(moved.astype(np.float64), 4).astype(np.float32))
    net = loaded(tiny_dir, "tiny")
    probs = net.predict(np.asarray(body["input"], np.float32)[None, None])[0]
    np.testing.assert_allclose(body["probabilities"], probs, rtol=1e-5, atol=1e-7)
    assert body["target"] == 4 and body["target_probability"] == pytest.approx(
        float(probs[4]), rel=1e-5, abs=1e-7)
    curve = body["shift_curve"]
    assert len(curve["horizontal"]) == len(curve["vertical"]) == 17
    # The image asked for lies on the horizontal curve at dx = 3 (dy as asked).
    assert curve["horizontal"][8 + 3] == pytest.approx(body["target_probability"], rel=1e-5)
    for i, shift in enumerate(curve["shifts"]):
        shifted = np.round(transform(x, 3, shift, 20, 0.8, 1).astype(np.float64), 4)
        p = net.predict(shifted.astype(np.float32))[0]
        assert curve["vertical"][i] == pytest.approx(float(p[4]), rel=1e-4, abs=1e-6)
        assert curve["labels_vertical"][i] == int(p.argmax())


# ----- /api/preprocess ------------------------------------------------------------------------
@pytest.mark.parametrize("transparent", [False, True])
def test_preprocess_steps_end_in_the_predicted_input(client, transparent):
    url = data_url(drawing(9, transparent=transparent))
    body = post(client, "/api/preprocess", {"image": url})
    assert body["image"] == post(client, "/api/predict", {"image": url})["input"]
    assert body["polarity"] == ("alpha" if transparent else "dark-on-light")
    assert body["source_shape"] == [280, 300]
    source, _ = decode(body["source"])
    assert max(source.shape) <= 140 and source.shape == (131, 140)
    top, left, bottom, right = body["crop_box"]
    assert 0 <= top < bottom <= 280 and 0 <= left < right <= 300
    cropped, _ = decode(body["cropped"])
    assert max(cropped.shape) <= 140 and cropped.max() > 0.5
    fitted, _ = decode(body["fitted"])
    assert max(fitted.shape) == 20 and list(fitted.shape) == body["fitted"]["shape"]
    image = np.asarray(body["image"])
    r, c = body["offset"]
    assert np.abs(image[r:r + fitted.shape[0], c:c + fitted.shape[1]] - fitted).max() < 0.01
    centre = np.add(body["offset"], body["centre_of_mass"])
    assert np.all(np.abs(centre - 14) <= 0.5 + 1e-4)


def test_preprocess_of_a_large_photo_is_bounded(client):
    ink = np.full((1500, 2000, 3), 250, np.uint8)
    ink[300:1200, 900:1000] = 20  # a thick "1"
    body = post(client, "/api/preprocess", {"image": data_url(encode(ink))})
    assert body["source_shape"] == [750, 1000]  # box-averaged by 2 before any float work
    assert body["source"]["shape"] == [105, 140] and max(body["cropped"]["shape"]) <= 140
    assert body["crop_box"][0] == pytest.approx(150, abs=1)


# ----- misclassified digits -------------------------------------------------------------------
SHIPPED_GALLERIES = sorted(p.name.removesuffix(".errors.npz")
                           for p in (REPO_ROOT / "weights").glob("*.errors.npz")
                           if p.with_name(p.name.replace(".errors.npz", ".json")).is_file())


def test_simple_convnet_ships_its_gallery():
    assert "simple_convnet" in SHIPPED_GALLERIES


@pytest.mark.parametrize("name", SHIPPED_GALLERIES)
def test_shipped_mistakes_are_really_wrong(real_client, name):
    assert real_client.get(f"/api/models/{name}").json()["has_misclassified"] is True
    r = real_client.get(f"/api/models/{name}/misclassified")
    assert r.status_code == 200, r.json()["detail"]
    body = r.json()
    digits = body["digits"]
    assert body["model"] == name and body["test_size"] == 10000 and digits
    net = load_checked(REPO_ROOT / "weights" / f"{name}.json")[0]
    images = np.stack([np.frombuffer(base64.b64decode(d["data"]), np.uint8).reshape(28, 28)
                       for d in digits])
    probs = net.predict(to_float(images))
    labels = np.array([d["label"] for d in digits])
    predicted = np.array([d["predicted"] for d in digits])
    np.testing.assert_array_equal(probs.argmax(axis=1), predicted)
    assert np.all(predicted != labels)
    np.testing.assert_allclose([d["probabilities"] for d in digits], probs, atol=1e-5)
    confidence = [d["confidence"] for d in digits]
    assert confidence == sorted(confidence, reverse=True)
    assert len({d["index"] for d in digits}) == len(digits)
    # The test-set mistakes the manifest's confusion matrix counts, pair by pair (all of them
    # unless there are more than the command keeps by default).
    matrix = np.asarray(real_client.get(f"/api/models/{name}").json()["confusion_matrix"])
    counts = np.zeros((10, 10), int)
    np.add.at(counts, (labels, predicted), 1)
    np.fill_diagonal(matrix, 0)
    assert np.all(counts <= matrix)
    kept = cli.build_parser().parse_args(["misclassified", name]).limit
    assert counts.sum() == min(matrix.sum(), kept)


def test_a_model_without_a_gallery_says_how_to_make_one(client):
    assert client.get("/api/models/tiny").json()["has_misclassified"] is False
    r = client.get("/api/models/tiny/misclassified")
    assert r.status_code == 404
    assert r.json()["detail"] == ("model 'tiny' has no misclassified gallery (tiny.errors.npz); "
                                  "make it with `cnnvis misclassified tiny --data-dir DIR`")


def fake_mnist(net, n=300):
    """Sample digits with their labels, and the network's probabilities for them."""
    images = np.concatenate([SAMPLE["images"]] * (n // len(SAMPLE["images"])))
    labels = np.concatenate([SAMPLE["labels"]] * (n // len(SAMPLE["labels"])))
    return images, labels, net.predict(to_float(images))


@pytest.fixture
def gallery_dir(tmp_path):
    net = write_tiny(tmp_path, "tiny", "simple_convnet", {"filter_num": 2, "hidden_size": 8})
    return tmp_path, net


def start(directory):
    return TestClient(create_app(Settings(weights_dir=directory, min_self_test_accuracy=0.0)))


def test_a_gallery_file_is_served_and_not_taken_for_a_model(gallery_dir):
    directory, _ = gallery_dir
    net = loaded(directory, "tiny")
    images, labels, probs = fake_mnist(net)
    found = find_misclassified(probs, images, labels, limit=50)
    sha = load_checked(directory / "tiny.json")[1]["sha256"]
    save_misclassified(errors_path(directory / "tiny.json"), found, sha)
    with start(directory) as c:
        assert [m["name"] for m in c.get("/readyz").json()["models"]] == ["tiny"]
        body = c.get("/api/models/tiny/misclassified").json()
    assert len(body["digits"]) == 50
    first = body["digits"][0]
    i = int(found["indices"][0])
    assert first["index"] == i and first["label"] == labels[i]
    assert first["predicted"] == int(probs[i].argmax()) != labels[i]
    assert first["confidence"] == pytest.approx(float(probs[i].max()))
    np.testing.assert_array_equal(
        np.frombuffer(base64.b64decode(first["data"]), np.uint8).reshape(28, 28), images[i])


def test_a_gallery_of_other_weights_is_not_served(gallery_dir):
    directory, net = gallery_dir
    images, labels, probs = fake_mnist(net)
    save_misclassified(errors_path(directory / "tiny.json"),
                       find_misclassified(probs, images, labels), "0" * 64)
    with start(directory) as c:
        r = c.get("/api/models/tiny/misclassified")
        assert c.post("/api/predict", json={"pixels": P}).status_code == 200
    assert r.status_code == 404
    assert r.json()["detail"] == ("tiny.errors.npz was made for other weights than 'tiny' has "
                                  "now; remake it with `cnnvis misclassified tiny --data-dir DIR`")


@pytest.mark.parametrize("damage, message", [
    ("pickle", "a pickle; only .npz weights are accepted, never pickle"),
    ("correct digits", "holds correctly classified digits"),
    ("unsorted", "not sorted by the confidence of the wrong answer"),
    ("extra key", "unexpected secret"),
    ("float images", "images has dtype float32, expected uint8"),
])
def test_a_damaged_gallery_stops_startup(gallery_dir, damage, message):
    directory, net = gallery_dir
    path = errors_path(directory / "tiny.json")
    images, labels, probs = fake_mnist(net)
    found = find_misclassified(probs, images, labels)
    assert len(found["labels"]) >= 2
    if damage == "pickle":
        path.write_bytes(b"\x80\x04\x95" + b"\0" * 20)
    else:
        if damage == "correct digits":
            found["labels"] = found["predicted"].copy()
        elif damage == "unsorted":
            found = {k: v[::-1] for k, v in found.items()}
        elif damage == "extra key":
            found["secret"] = np.zeros(1)
        elif damage == "float images":
            found["images"] = found["images"].astype(np.float32)
        save_misclassified(path, found, "0" * 64)
    with pytest.raises(RuntimeError, match="cnnvis cannot start: .*tiny.errors.npz: .*"
                                           + message):
        with start(directory):
            pass


def test_the_misclassified_command_writes_a_valid_gallery(gallery_dir, monkeypatch, capsys):
    directory, _ = gallery_dir
    net = loaded(directory, "tiny")
    images, labels, probs = fake_mnist(net)

    def load_dataset(dataset=None, data_dir=None, check=True):
        assert dataset.name == "mnist"  # the manifest's dataset
        return {"test_images": images, "test_labels": labels}, {}

    monkeypatch.setattr("model.data.load_dataset", load_dataset)
    assert cli.main(["misclassified", "tiny", "--weights-dir", str(directory),
                     "--limit", "20"]) == 0
    wrong = int(np.sum(probs.argmax(axis=1) != labels))
    assert f"{wrong} of {len(labels)} test images misclassified" in capsys.readouterr().out
    with start(directory) as c:
        digits = c.get("/api/models/tiny/misclassified").json()["digits"]
    assert len(digits) == min(20, wrong)
    assert all(d["predicted"] != d["label"] for d in digits)
