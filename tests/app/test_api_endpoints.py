"""Every endpoint's answer, on small untrained networks of three architectures."""

import base64
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from drawings import SAMPLE, data_url, drawing, pixels
from fastapi.testclient import TestClient
from PIL import Image

from app.encoding import dequantize_uint8
from app.main import create_app
from model import load_checked
from model.data import REPO_ROOT

MODEL_FIELDS = {"name", "arch", "description", "param_count", "test_accuracy", "input_shape",
                "layers", "has_misclassified", "run", "has_units", "dataset", "classes"}


def loaded(tiny_dir, name):
    return load_checked(tiny_dir / f"{name}.json")


def test_health_and_readiness(client, tiny_dir):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready"
    names = {m["name"]: m["sha256"] for m in ready["models"]}
    assert set(names) == {"tiny", "tiny_lenet", "tiny_alexnet"}  # notes.json is not a model
    assert names["tiny"] == json.loads((tiny_dir / "tiny.json").read_text())["sha256"]


def test_not_ready_before_startup(tiny_settings):
    c = TestClient(create_app(tiny_settings))  # no `with`: the lifespan has not run
    r = c.get("/readyz")
    assert r.status_code == 503 and "not loaded" in r.json()["detail"]
    r = c.post("/api/predict", json={"pixels": pixels(0)})
    assert r.status_code == 503 and "not loaded yet" in r.json()["detail"]
    assert c.get("/healthz").status_code == 200


def test_model_list(client, tiny_dir):
    body = client.get("/api/models").json()
    assert body["default"] == "tiny"
    models = {m["name"]: m for m in body["models"]}
    assert set(models) == {"tiny", "tiny_lenet", "tiny_alexnet"}
    for name, summary in models.items():
        assert set(summary) == MODEL_FIELDS
        assert summary["run"] is None  # shipped, not trained from the page
        net, _, _ = loaded(tiny_dir, name)
        assert summary["param_count"] == net.param_count()
        assert summary["input_shape"] == [1, 28, 28]
        assert summary["test_accuracy"] == 0.5
        assert [layer["name"] for layer in summary["layers"]] == [n for n, _ in net.layers]
        assert sum(layer["params"] for layer in summary["layers"]) == net.param_count()
    conv = models["tiny"]["layers"][0]
    assert conv == {"name": "conv1", "kind": "conv", "output_shape": [4, 24, 24], "params": 104,
                    "role": "weighted", "window": {"kernel": 5, "stride": 1, "padding": 0},
                    "hyperparams": {"out_channels": 4, "kernel_size": 5, "stride": 1, "pad": 0}}
    roles = {layer["kind"]: (layer["role"], layer["window"] is not None)
             for layer in models["tiny_alexnet"]["layers"]}
    assert roles == {"conv": ("weighted", True), "relu": ("activation", False),
                     "lrn": ("normalisation", False), "maxpool": ("pooling", True),
                     "affine": ("weighted", False),
                     "dropout": ("identity", False)}
    kinds = {layer["kind"] for layer in models["tiny_alexnet"]["layers"]}
    assert {"conv", "relu", "lrn", "maxpool", "affine", "dropout"} <= kinds
    assert "The book's SimpleConvNet" in models["tiny"]["description"]


def test_model_detail(client):
    body = client.get("/api/models/tiny").json()
    assert set(body) == MODEL_FIELDS | {"training", "history", "per_class_accuracy",
                                        "confusion_matrix"}
    assert body["training"] == {"config": {"epochs": 1}, "command": "made in tests",
                                "duration": 0.1, "selected_epoch": 1}
    assert body["history"] == [{"epoch": 1, "loss": 2.3}]
    assert body["per_class_accuracy"] == [0.5] * 10
    assert body["confusion_matrix"] == np.eye(10, dtype=int).tolist()


def test_model_detail_of_the_shipped_network(real_client):
    body = real_client.get("/api/models/simple_convnet").json()
    assert body["test_accuracy"] > 0.98
    assert body["training"]["selected_epoch"] >= 1 and body["training"]["duration"] > 0
    assert body["training"]["command"].startswith("cnnvis train")
    assert len(body["history"]) >= body["training"]["selected_epoch"]
    assert len(body["per_class_accuracy"]) == 10
    assert np.asarray(body["confusion_matrix"]).sum() == 10000


@pytest.mark.parametrize("as_flat", [False, True])
def test_predict_pixels_matches_the_network(client, tiny_dir, as_flat):
    values = pixels(7)
    body = {"pixels": sum(values, []) if as_flat else values, "model": "tiny_lenet"}
    r = client.post("/api/predict", json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert set(answer) == {"model", "label", "class", "probabilities", "input", "timing_ms",
                           "ablation"}
    net, _, _ = loaded(tiny_dir, "tiny_lenet")
    x = np.round(np.asarray(values), 4).astype(np.float32)[None, None]
    expected = net.predict(x)[0]
    np.testing.assert_allclose(answer["probabilities"], expected, rtol=1e-5, atol=1e-7)
    assert answer["label"] == int(expected.argmax()) and answer["model"] == "tiny_lenet"
    np.testing.assert_array_equal(np.asarray(answer["input"], np.float32), x[0, 0])
    assert set(answer["timing_ms"]) == {"preprocess", "inference", "total"}
    assert answer["timing_ms"]["total"] >= answer["timing_ms"]["inference"] >= 0


def test_predict_uses_the_default_model_when_none_is_named(client):
    assert client.post("/api/predict", json={"pixels": pixels(3)}).json()["model"] == "tiny"
    r = client.post("/api/predict", json={"pixels": pixels(3), "model": None})
    assert r.json()["model"] == "tiny"


def test_predict_image_and_file_agree(client):
    png = drawing(15)
    by_url = client.post("/api/predict", json={"image": data_url(png)}).json()
    by_file = client.post("/api/predict/file", files={"file": ("d.png", png, "image/png")}).json()
    assert by_url["probabilities"] == by_file["probabilities"]
    assert by_url["input"] == by_file["input"]
    named = client.post("/api/predict/file", files={"file": ("d.png", png, "image/png")},
                        data={"model": "tiny_alexnet"}).json()
    assert named["model"] == "tiny_alexnet"
    image = np.asarray(by_url["input"])
    assert image.shape == (28, 28) and image.max() == 1.0 and image[:2].sum() == 0


def test_jpeg_data_url(client):
    r = client.post("/api/predict", json={"image": data_url(drawing(30, fmt="JPEG"),
                                                            "image/jpeg")})
    assert r.status_code == 200, r.text


def test_compare_runs_every_model(client):
    r = client.post("/api/compare", json={"pixels": pixels(5)})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"dataset", "input", "results"} and body["dataset"] == "mnist"
    assert [res["model"] for res in body["results"]] == ["tiny", "tiny_alexnet", "tiny_lenet"]
    for res in body["results"]:
        assert set(res) == {"model", "label", "class", "probabilities", "test_accuracy",
                            "param_count", "ablation"}
        assert res["class"] == str(res["label"])
        single = client.post("/api/predict", json={"pixels": pixels(5), "model": res["model"]})
        assert single.json()["probabilities"] == res["probabilities"]


@pytest.mark.parametrize("name", ["tiny", "tiny_lenet", "tiny_alexnet"])
def test_activations_decode_to_the_forward_pass(client, tiny_dir, name):
    r = client.post("/api/activations", json={"pixels": pixels(22), "model": name})
    assert r.status_code == 200
    body = r.json()
    net, _, _ = loaded(tiny_dir, name)
    x = np.asarray(body["input"], np.float32)[None, None]
    _, outputs = net.forward(x, keep=True)
    layers = body["layers"]
    assert [layer["name"] for layer in layers] == ["input"] + [n for n, _ in net.layers]
    assert [layer["kind"] for layer in layers] == ["input"] + [lay.kind for _, lay in net.layers]
    for layer in layers:
        expected = x[0] if layer["name"] == "input" else outputs[layer["name"]][0]
        assert layer["shape"] == list(expected.shape) and layer["encoding"] == "uint8"
        decoded = dequantize_uint8(base64.b64decode(layer["data"]), layer["min"], layer["max"],
                                   tuple(layer["shape"]))
        step = (layer["max"] - layer["min"]) / 255
        assert np.abs(decoded - expected).max() <= step / 2 + 1e-6 * max(1, abs(layer["max"]))
        assert layer["min"] == pytest.approx(float(expected.min()))
        assert layer["max"] == pytest.approx(float(expected.max()))


def test_filters_trained_and_initial(client, tiny_dir):
    net, _, initial = loaded(tiny_dir, "tiny")
    for state, expected in (("trained", net.params["conv1.weight"]),
                            ("initial", initial["conv1.weight"])):
        body = client.get(f"/api/models/tiny/filters?state={state}").json()
        assert body["layer"] == "conv1" and body["state"] == state and body["shape"] == [4, 1, 5, 5]
        values = np.frombuffer(base64.b64decode(body["data"]), "<f4").reshape(body["shape"])
        np.testing.assert_array_equal(values, expected)
        # Reported as the shortest decimal that reads back to the same float32.
        assert np.float32(body["min"]) == expected.min()
        assert np.float32(body["max"]) == expected.max()
    lenet = client.get("/api/models/tiny_lenet/filters?layer=conv2").json()
    assert lenet["shape"] == [4, 3, 5, 5] and lenet["encoding"] == "float32"


def test_filters_png(client):
    r = client.get("/api/models/tiny/filters.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    with_initial = Image.open(io.BytesIO(r.content))
    r = client.get("/api/models/tiny_lenet/filters.png?layer=conv2")
    assert r.status_code == 200
    only_trained = Image.open(io.BytesIO(r.content))
    assert with_initial.format == only_trained.format == "PNG"
    # tiny: two panels of 4 tiles; lenet conv2: one panel, 4 filters × 3 channels.
    assert with_initial.width > 2 * 4 * 5 * 8 and only_trained.height > 4 * 5 * 8


def test_params_float16(client, tiny_dir):
    net, _, _ = loaded(tiny_dir, "tiny_alexnet")
    for key in ("conv1.weight", "fc1.weight", "fc3.bias"):
        body = client.get(f"/api/models/tiny_alexnet/params/{key}").json()
        expected = net.params[key]
        assert body["param"] == key and body["shape"] == list(expected.shape)
        values = np.frombuffer(base64.b64decode(body["data"]), "<f2").reshape(expected.shape)
        np.testing.assert_allclose(values, expected, rtol=1e-3, atol=1e-4)
        assert np.float32(body["min"]) == expected.min() and body["encoding"] == "float16"


def test_samples(client):
    body = client.get("/api/samples").json()
    assert len(body["samples"]) == len(SAMPLE["labels"])
    for item, image, label, index in zip(body["samples"], SAMPLE["images"], SAMPLE["labels"],
                                         SAMPLE["indices"], strict=True):
        assert item["label"] == label and item["index"] == index and item["encoding"] == "uint8"
        assert item["class"] == str(label)
        np.testing.assert_array_equal(
            np.frombuffer(base64.b64decode(item["data"]), np.uint8).reshape(28, 28), image)


def test_page_and_static_files(client):
    if not (REPO_ROOT / "templates" / "index.html").is_file():
        pytest.skip("templates/index.html is written by the front-end work, not present here")
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text.lower()
    static = sorted(p for p in (REPO_ROOT / "static").rglob("*") if p.is_file())
    if static:
        rel = static[0].relative_to(REPO_ROOT / "static").as_posix()
        assert client.get(f"/static/{rel}").status_code == 200


def test_openapi_documents_every_error_status(client):
    spec = client.get("/openapi.json").json()
    ops = {(path, method): op for path, item in spec["paths"].items()
           for method, op in item.items()}
    for key in (("/api/predict", "post"), ("/api/activations", "post"),
                ("/api/predict/file", "post")):
        assert {"200", "400", "404", "413", "415", "422", "503"} <= set(ops[key]["responses"])
    assert {"200", "404", "422"} <= set(ops[("/api/models/{name}/filters", "get")]["responses"])
    layer_schema = spec["components"]["schemas"]["LayerActivation"]["properties"]["encoding"]
    assert "min + q * (max - min) / 255" in layer_schema["description"]


def test_importing_the_app_reads_no_example_and_the_schema_builds_them_once():
    code = ("import app.main, app.examples as e\n"
            "assert e.drawing_examples.cache_info().currsize == 0\n"
            "schema = app.main.app.openapi()\n"
            "body = schema['paths']['/api/predict']['post']['requestBody']\n"
            "assert set(body['content']['application/json']['examples']) == {'drawing', 'pixels'}\n"
            "assert e.drawing_examples.cache_info().misses == 1\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)
