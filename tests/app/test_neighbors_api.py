"""POST /api/neighbors, GET /api/models/{name}/map and /digits/{index} on the shipped models'
reference sets (the MNIST training set): exact members, agreeing labels, the map and bad input."""

import base64

import numpy as np
import pytest
from drawings import SAMPLE

from app.registry import StartupError, load_model, load_samples
from model.reference import reference_images

SHIPPED = "simple_convnet"


def pixels(image: np.ndarray) -> list[list[float]]:
    return (image / 255.0).tolist()


@pytest.fixture(scope="module")
def training():
    return reference_images("mnist")


@pytest.mark.parametrize("index", [0, 31_337, 59_999])
def test_a_member_of_the_reference_set_is_its_own_nearest_digit(real_client, training, index):
    images, labels = training
    answer = real_client.post("/api/neighbors", json={"pixels": pixels(images[index]),
                                                      "model": SHIPPED, "k": 5}).json()
    first = answer["neighbors"][0]
    assert (first["index"], first["label"], first["distance"]) == (index, labels[index], 0.0)
    assert np.array_equal(np.frombuffer(base64.b64decode(first["data"]), np.uint8),
                          images[index].ravel())
    distances = [n["distance"] for n in answer["neighbors"]]
    assert distances == sorted(distances) and distances[1] > 0
    assert answer["layer"] == "relu2" and len(answer["neighbors"]) == 5


def test_neighbours_of_clean_test_digits_mostly_share_their_label(real_client):
    agree, flagged = [], 0
    for image, label in zip(SAMPLE["images"], SAMPLE["labels"], strict=True):
        answer = real_client.post("/api/neighbors", json={"pixels": pixels(image),
                                                          "model": SHIPPED}).json()
        votes = np.bincount([n["label"] for n in answer["neighbors"]], minlength=10)
        agree.append(votes.argmax() == label)
        flagged += answer["atypical"]
        assert answer["label"] == int(np.argmax(answer["probabilities"]))
    assert np.mean(agree) >= 0.95
    assert flagged <= 0.1 * len(agree)


def test_the_map_is_compact_and_places_a_member_on_its_own_point(real_client, training):
    response = real_client.get(f"/api/models/{SHIPPED}/map")
    assert response.status_code == 200 and len(response.content) <= 300_000
    body = response.json()
    points = np.frombuffer(base64.b64decode(body["points"]), "<f2").reshape(-1, 2)
    labels = np.frombuffer(base64.b64decode(body["labels"]), np.uint8)
    indices = np.frombuffer(base64.b64decode(body["indices"]), "<i4")
    assert body["count"] == len(points) == len(labels) == len(indices) == 10_000
    images, true_labels = training
    assert np.array_equal(labels, true_labels[indices])
    member = int(indices[123])
    answer = real_client.post("/api/neighbors", json={"pixels": pixels(images[member]),
                                                      "model": SHIPPED, "k": 1}).json()
    # The map stores int8 codes as float16: the drawing's exact position is within their step.
    assert np.allclose(answer["position"], points[123].astype(float), atol=0.01)


def test_one_reference_digit_by_index(real_client, training):
    images, labels = training
    body = real_client.get(f"/api/models/{SHIPPED}/digits/777").json()
    assert body["label"] == labels[777]
    assert base64.b64decode(body["data"]) == images[777].tobytes()


@pytest.mark.parametrize(("request_body", "status"), [
    ({"k": 0}, 422), ({"k": 51}, 422), ({"k": 2.5}, 422), ({"model": "nope"}, 404),
])
def test_bad_neighbour_requests_are_refused(real_client, request_body, status):
    body = {"pixels": pixels(SAMPLE["images"][0]), **request_body}
    response = real_client.post("/api/neighbors", json=body)
    assert response.status_code == status, response.text
    assert "detail" in response.json()


def test_bad_map_and_digit_requests_are_refused(real_client, client):
    assert real_client.get(f"/api/models/{SHIPPED}/digits/60000").status_code == 404
    assert real_client.get(f"/api/models/{SHIPPED}/digits/-1").status_code == 422
    assert real_client.get("/api/models/nope/map").status_code == 404
    missing = client.get("/api/models/tiny/map")  # a model without a reference set
    assert missing.status_code == 404 and "cnnvis neighbors tiny" in missing.json()["detail"]


@pytest.mark.parametrize(("damage", "message"), [
    (lambda path: path.unlink(), r"simple_convnet.neighbors.npz: file not found"),
    (lambda path: path.write_bytes(path.read_bytes()[:-10] + b"0123456789"), r"checksum mismatch"),
])
def test_a_missing_or_altered_reference_set_stops_startup(tmp_path, damage, message):
    from model.data import REPO_ROOT
    from model.reference import reference_path

    for suffix in (".json", ".npz", ".units.npz", ".neighbors.npz"):
        (tmp_path / f"{SHIPPED}{suffix}").write_bytes(
            (REPO_ROOT / "weights" / f"{SHIPPED}{suffix}").read_bytes())
    damage(reference_path(tmp_path / f"{SHIPPED}.json"))
    with pytest.raises(StartupError, match=message):
        load_model(tmp_path / f"{SHIPPED}.json", load_samples(), min_accuracy=0.0)


def test_make_it_an_8(real_client):
    body = {"pixels": pixels(SAMPLE["images"][0]), "model": SHIPPED, "target": 8}
    for add_only in (False, True):
        answer = real_client.post("/api/counterfactual", json={**body, "add_only": add_only})
        assert answer.status_code == 200, answer.text
        found = answer.json()
        assert found["reached"] and found["label"] == 8 == int(np.argmax(found["probabilities"]))
        assert found["linf"] <= 0.3 + 1e-6 and 0 < found["steps"] <= found["max_steps"]
        assert found["original_label"] == SAMPLE["labels"][0]
        changed = np.frombuffer(base64.b64decode(found["pixels"]["data"]), np.uint8)
        lo, hi = found["pixels"]["min"], found["pixels"]["max"]
        image = lo + changed.reshape(28, 28) * (hi - lo) / 255
        check = real_client.post("/api/predict", json={"pixels": image.tolist(),
                                                       "model": SHIPPED}).json()
        assert check["label"] == 8
        if add_only:
            assert found["ink_removed"] == 0.0


@pytest.mark.parametrize("change", [{"target": 10}, {"target": None}, {"epsilon": 0},
                                    {"epsilon": 1.5}, {"add_only": "yes"}])
def test_bad_counterfactual_requests_are_refused(real_client, change):
    body = {"pixels": pixels(SAMPLE["images"][0]), "target": 3, **change}
    assert real_client.post("/api/counterfactual", json=body).status_code == 422


@pytest.mark.parametrize("name", ["simple_convnet", "lenet5", "deep_convnet", "alexnet"])
def test_every_shipped_model_has_its_reference_set(real_client, training, name):
    images, _ = training
    answer = real_client.post("/api/neighbors", json={"pixels": pixels(images[4242]),
                                                      "model": name, "k": 3}).json()
    assert (answer["neighbors"][0]["index"], answer["neighbors"][0]["distance"]) == (4242, 0.0)
    assert not answer["atypical"] and answer["threshold"] > 0
    assert len(real_client.get(f"/api/models/{name}/map").content) <= 300_000
