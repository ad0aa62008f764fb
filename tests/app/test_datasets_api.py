"""Two datasets served side by side: /api/datasets, each model's dataset and class names,
"class" beside "label" in answers, samples and comparisons per dataset (tiny models)."""

import base64
import json

import numpy as np
import pytest
from drawings import data_url, drawing
from fastapi.testclient import TestClient
from tiny_models import TINY, write_tiny

from app.config import Settings
from app.main import create_app
from model.data import load_sample
from model.dataset_registry import DATASETS, FASHION_MNIST
from model.inputs import round_input
from model.preprocess import preprocess_image


@pytest.fixture(scope="module")
def mixed_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("mixed")
    arch, config = TINY["tiny"]
    write_tiny(directory, "tiny", arch, config, seed=0)
    write_tiny(directory, "tiny_fashion", arch, config, seed=1, dataset="fashion-mnist")
    return directory


@pytest.fixture(scope="module")
def mixed(mixed_dir):
    settings = Settings(weights_dir=mixed_dir, default_model="tiny", min_self_test_accuracy=0.0)
    with TestClient(create_app(settings)) as c:
        yield c


def pixels(seed):
    return np.random.default_rng(seed).random((28, 28)).round(3).tolist()


def test_datasets_list_their_classes_and_models(mixed):
    body = mixed.get("/api/datasets").json()
    assert body["default"] == "mnist"
    listed = {d["name"]: d for d in body["datasets"]}
    assert list(listed) == list(DATASETS)
    for name, dataset in DATASETS.items():
        assert listed[name]["classes"] == list(dataset.classes)
        assert listed[name]["preprocessing"] == dataset.preprocessing
    assert (listed["mnist"]["models"], listed["mnist"]["default_model"]) == (["tiny"], "tiny")
    assert listed["fashion-mnist"]["models"] == ["tiny_fashion"]
    assert listed["fashion-mnist"]["default_model"] == "tiny_fashion"
    assert listed["fashion-mnist"]["licence"] == "MIT" and "Zalando" in listed[
        "fashion-mnist"]["credit"]


def test_models_name_their_dataset_and_classes(mixed):
    models = {m["name"]: m for m in mixed.get("/api/models").json()["models"]}
    assert (models["tiny"]["dataset"], models["tiny"]["classes"]) == ("mnist", list("0123456789"))
    assert models["tiny_fashion"]["dataset"] == "fashion-mnist"
    assert models["tiny_fashion"]["classes"] == list(FASHION_MNIST.classes)
    assert mixed.get("/api/models/tiny_fashion").json()["classes"][9] == "Ankle boot"


@pytest.mark.parametrize("route", ["/api/predict", "/api/activations"])
def test_answers_name_the_class_of_the_label(mixed, route):
    for seed in range(3):
        fashion = mixed.post(route, json={"pixels": pixels(seed), "model": "tiny_fashion"}).json()
        assert fashion["class"] == FASHION_MNIST.classes[fashion["label"]]
        digit = mixed.post(route, json={"pixels": pixels(seed), "model": "tiny"}).json()
        assert digit["class"] == str(digit["label"])


def test_compare_keeps_to_one_dataset(mixed):
    body = mixed.post("/api/compare", json={"pixels": pixels(0)}).json()
    assert body["dataset"] == "mnist" and [r["model"] for r in body["results"]] == ["tiny"]
    body = mixed.post("/api/compare", json={"pixels": pixels(0),
                                            "dataset": "fashion-mnist"}).json()
    assert [r["model"] for r in body["results"]] == ["tiny_fashion"]
    assert body["results"][0]["class"] == FASHION_MNIST.classes[body["results"][0]["label"]]
    r = mixed.post("/api/compare", json={"pixels": pixels(0), "dataset": "cifar"})
    assert r.status_code == 404 and "datasets: mnist, fashion-mnist" in r.json()["detail"]


def test_samples_per_dataset(mixed):
    shipped = load_sample(dataset="fashion-mnist")
    body = mixed.get("/api/samples", params={"dataset": "fashion-mnist"}).json()
    assert body["dataset"] == "fashion-mnist" and len(body["samples"]) == 100
    for item, image, label, index in zip(body["samples"], shipped["images"], shipped["labels"],
                                         shipped["indices"], strict=True):
        assert (item["label"], item["index"]) == (label, index)
        assert item["class"] == FASHION_MNIST.classes[label]
        np.testing.assert_array_equal(
            np.frombuffer(base64.b64decode(item["data"]), np.uint8).reshape(28, 28), image)
    assert mixed.get("/api/samples").json()["dataset"] == "mnist"
    assert mixed.get("/api/samples", params={"dataset": "svhn"}).status_code == 404
    assert mixed.get("/api/samples", params={"dataset": "x" * 101}).status_code == 422


def test_a_manifest_of_an_unknown_dataset_stops_startup(tmp_path):
    arch, config = TINY["tiny"]
    write_tiny(tmp_path, "odd", arch, config)
    manifest = json.loads((tmp_path / "odd.json").read_text())
    manifest["dataset"] = {"name": "svhn"}
    (tmp_path / "odd.json").write_text(json.dumps(manifest))
    app = create_app(Settings(weights_dir=tmp_path, min_self_test_accuracy=0.0))
    with pytest.raises(RuntimeError, match=r"odd\.json: .*unknown dataset 'svhn'"):
        with TestClient(app):
            pass


def test_a_drawing_is_prepared_the_way_of_the_models_dataset(mixed):
    png = drawing(3)
    for model, mode in (("tiny", "digit"), ("tiny_fashion", "fill")):
        answer = mixed.post("/api/predict", json={"image": data_url(png), "model": model}).json()
        expected = round_input(preprocess_image(png, mode=mode).image)
        np.testing.assert_array_equal(np.asarray(answer["input"], np.float32), expected)
    steps = mixed.post("/api/preprocess", json={"image": data_url(png),
                                                "dataset": "fashion-mnist"}).json()
    assert steps["preprocessing"] == "fill" and max(steps["fitted"]["shape"]) == 28
    steps = mixed.post("/api/preprocess", json={"image": data_url(png)}).json()
    assert steps["preprocessing"] == "digit" and max(steps["fitted"]["shape"]) == 20
    r = mixed.post("/api/preprocess", json={"image": data_url(png), "dataset": "nope"})
    assert r.status_code == 404


# every route that takes a drawing, with what else it needs (neighbors: see test_neighbors_api)
DRAWING_ROUTES = {
    "/api/predict": {}, "/api/activations": {}, "/api/explain": {"method": "saliency"},
    "/api/robustness": {}, "/api/units/rank": {"layer": "conv1"},
    "/api/counterfactual": {"target": 1}, "/api/unit": {"layer": "conv1", "index": 0},
}


@pytest.mark.parametrize("route", DRAWING_ROUTES)
def test_every_drawing_route_prepares_the_way_of_the_models_dataset(mixed, route):
    """The answer for a drawing equals the answer for the 28×28 input its model's dataset
    prepares from it (for Fashion-MNIST the fill, never the digit's 20×20 fit)."""
    png = drawing(3)
    for model, mode in (("tiny", "digit"), ("tiny_fashion", "fill")):
        prepared = round_input(preprocess_image(png, mode=mode).image)
        body = {"model": model, **DRAWING_ROUTES[route]}
        drawn = mixed.post(route, json={"image": data_url(png), **body})
        given = mixed.post(route, json={"pixels": prepared.tolist(), **body})
        assert drawn.status_code == given.status_code == 200, (drawn.text, given.text)
        drawn, given = drawn.json(), given.json()
        for answer in (drawn, given):
            answer.pop("timing_ms", None)
            answer.pop("input", None)  # echoed differently for an image and for pixels
        assert drawn == given


@pytest.mark.parametrize("route", ["/api/explain", "/api/robustness", "/api/units/rank",
                                   "/api/counterfactual"])
def test_a_target_outside_the_models_classes_is_refused(mixed, route):
    body = {"pixels": pixels(0), "model": "tiny_fashion", **DRAWING_ROUTES[route], "target": 10}
    r = mixed.post(route, json=body)
    assert r.status_code == 422
    assert "10 classes" in r.json()["detail"]
    body["target"] = 9
    assert mixed.post(route, json=body).status_code == 200
