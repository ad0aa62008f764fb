"""Startup: a missing, corrupt or mismatched weights file, or weights that fail the self-test,
stop the app with one message naming the file and the problem; settings come from the env."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tiny_models import write_tiny

from app.config import Settings, SettingsError
from app.main import create_app
from model.data import REPO_ROOT


def start(directory: Path, **overrides) -> None:
    settings = Settings(weights_dir=directory, **{"min_self_test_accuracy": 0.0, **overrides})
    with TestClient(create_app(settings)):
        pass


@pytest.fixture
def one_model(tmp_path):
    write_tiny(tmp_path, "tiny", "simple_convnet", {"filter_num": 2, "hidden_size": 8})
    return tmp_path


def test_a_valid_directory_starts(one_model):
    settings = Settings(weights_dir=one_model, min_self_test_accuracy=0.0)
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        manifest = json.loads((one_model / "tiny.json").read_text())
        assert ready.json()["models"] == [{"name": "tiny", "sha256": manifest["sha256"]}]
        models = client.get("/api/models").json()
        assert models["default"] == "tiny" and [m["name"] for m in models["models"]] == ["tiny"]


def test_missing_directory(tmp_path):
    with pytest.raises(RuntimeError, match=r"cnnvis cannot start: .*nowhere: weights directory "
                                           r"not found"):
        start(tmp_path / "nowhere")


def test_directory_without_manifests(tmp_path):
    (tmp_path / "readme.json").write_text('{"hello": 1}')
    with pytest.raises(RuntimeError, match="no weights found"):
        start(tmp_path)


def test_missing_npz(one_model):
    (one_model / "tiny.npz").unlink()
    with pytest.raises(RuntimeError, match=r"tiny\.npz: weights file not found"):
        start(one_model)


def test_corrupt_npz_fails_the_checksum(one_model):
    data = bytearray((one_model / "tiny.npz").read_bytes())
    data[100] ^= 0xFF
    (one_model / "tiny.npz").write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match=r"tiny\.npz: checksum mismatch"):
        start(one_model)


def test_npz_of_another_architecture(one_model, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    write_tiny(other, "tiny", "simple_convnet", {"filter_num": 3, "hidden_size": 8})
    shutil.copy(other / "tiny.npz", one_model / "tiny.npz")
    manifest = json.loads((one_model / "tiny.json").read_text())
    manifest["sha256"] = json.loads((other / "tiny.json").read_text())["sha256"]
    (one_model / "tiny.json").write_text(json.dumps(manifest))
    with pytest.raises(RuntimeError, match=r"tiny\.npz: conv1\.weight has shape \(3, 1, 5, 5\), "
                                           r"expected \(2, 1, 5, 5\)"):
        start(one_model)


def test_unparsable_json_in_the_weights_directory(one_model):
    (one_model / "broken.json").write_text("{not json")
    with pytest.raises(RuntimeError, match=r"broken\.json: not valid JSON"):
        start(one_model)


def test_manifest_of_an_unknown_architecture(one_model):
    manifest = json.loads((one_model / "tiny.json").read_text())
    manifest["arch"] = "vgg16"
    (one_model / "tiny.json").write_text(json.dumps(manifest))
    with pytest.raises(RuntimeError, match=r"tiny\.json: cannot build architecture 'vgg16'"):
        start(one_model)


def test_malformed_manifest_metrics(one_model):
    manifest = json.loads((one_model / "tiny.json").read_text())
    manifest["metrics"]["confusion_matrix"] = "see the paper"
    (one_model / "tiny.json").write_text(json.dumps(manifest))
    with pytest.raises(RuntimeError, match=r"tiny\.json: malformed manifest: confusion_matrix: "
                                           r"Input should be a valid list"):
        start(one_model)


def test_untrained_weights_fail_the_self_test(one_model):
    with pytest.raises(RuntimeError, match=r"tiny\.json: self-test failed: \d+% of the 100 "
                                           r"shipped MNIST sample images"):
        start(one_model, min_self_test_accuracy=0.9)


def test_shipped_weights_pass_the_self_test(real_app, real_client):
    registry = real_app.state.registry
    model = registry.models["simple_convnet"]
    assert model.self_test_accuracy >= 0.9
    assert registry.default == "simple_convnet"
    assert not model.net.params["conv1.weight"].flags.writeable
    ready = real_client.get("/readyz").json()
    shipped = json.loads((REPO_ROOT / "weights" / "simple_convnet.json").read_text())["sha256"]
    assert {"name": "simple_convnet", "sha256": shipped} in ready["models"]


def test_default_model_choice(one_model):
    write_tiny(one_model, "another", "simple_convnet", {"filter_num": 2, "hidden_size": 8})
    settings = Settings(weights_dir=one_model, min_self_test_accuracy=0.0)
    with TestClient(create_app(settings)) as c:
        # No simple_convnet here, so the first loaded model (by name) is the default.
        assert c.get("/api/models").json()["default"] == "another"
    settings = Settings(weights_dir=one_model, min_self_test_accuracy=0.0, default_model="tiny")
    with TestClient(create_app(settings)) as c:
        assert c.get("/api/models").json()["default"] == "tiny"
    with pytest.raises(RuntimeError, match="CNNVIS_DEFAULT_MODEL='lenet5' is not among the "
                                           "loaded models: another, tiny"):
        start(one_model, default_model="lenet5")


def test_settings_from_the_environment(tmp_path):
    env = {"CNNVIS_WEIGHTS_DIR": str(tmp_path), "CNNVIS_DEFAULT_MODEL": "lenet5",
           "CNNVIS_MAX_BODY_BYTES": "1_000", "CNNVIS_MAX_IMAGE_PIXELS": "5000",
           "CNNVIS_MAX_IMAGE_SIDE": "80", "CNNVIS_MIN_SELF_TEST_ACCURACY": "0.5"}
    s = Settings.from_env(env)
    assert (s.weights_dir, s.default_model, s.max_body_bytes, s.max_image_pixels,
            s.max_image_side, s.min_self_test_accuracy) == (tmp_path, "lenet5", 1000, 5000, 80,
                                                            0.5)
    defaults = Settings.from_env({})
    assert defaults.weights_dir == REPO_ROOT / "weights" and defaults.default_model is None
    assert defaults.max_body_bytes == 2 * 1024 * 1024
    assert defaults.max_image_pixels == 4_000_000 and defaults.min_self_test_accuracy == 0.9


@pytest.mark.parametrize("name, value, message", [
    ("CNNVIS_MAX_BODY_BYTES", "2MB", "is not an integer"),
    ("CNNVIS_MAX_IMAGE_PIXELS", "-5", "must be positive"),
    ("CNNVIS_MAX_IMAGE_SIDE", "0", "must be positive"),
    ("CNNVIS_MIN_SELF_TEST_ACCURACY", "95", "must be between 0 and 1"),
    ("CNNVIS_MIN_SELF_TEST_ACCURACY", "high", "is not a number"),
    ("CNNVIS_BLAS_THREADS", "300", "must be between 0 and 256"),
    ("CNNVIS_BLAS_THREADS", "1.5", "is not an integer"),
    ("CNNVIS_INLINE_MS", "-1", "must be between 0 and 10"),
])
def test_bad_settings_are_named(name, value, message):
    with pytest.raises(SettingsError, match=f"{name}='{value}' {message}"):
        Settings.from_env({name: value})


def test_read_only_weights_survive_serving(client, tiny_dir):
    registry = client.app.state.registry
    before = {k: v.copy() for k, v in registry.models["tiny"].net.params.items()}
    for i in range(5):
        client.post("/api/activations", json={"pixels": (np.eye(28) * (i + 1) / 5).tolist()})
    for key, value in registry.models["tiny"].net.params.items():
        np.testing.assert_array_equal(value, before[key])
        assert not value.flags.writeable


def test_settings_are_one_definition_each():
    """Every field is read from its CNNVIS_ variable; blanks keep the default; values are
    validated on construction too, and settings cannot change afterwards."""
    defaults = Settings.from_env({})
    for f in dataclasses.fields(Settings):
        if f.name == "weights_dir":
            continue
        name = "CNNVIS_" + f.name.upper()
        assert getattr(Settings.from_env({name: "  "}), f.name) == getattr(defaults, f.name)
        assert Settings.__pydantic_fields__[f.name].description
    assert Settings.from_env({"CNNVIS_MAX_BODY_BYTES": " 2_000_000 "}).max_body_bytes == 2_000_000
    assert Settings.from_env({"CNNVIS_MAX_QUEUE": "7"}).max_queue == 7
    with pytest.raises(dataclasses.FrozenInstanceError):
        defaults.max_queue = 3
    with pytest.raises(ValueError, match="max_queue"):
        Settings(max_queue=0)
    with pytest.raises(ValueError, match="max_qeueu"):
        Settings(max_qeueu=3)
