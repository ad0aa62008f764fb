"""Weights round-trip bit-exactly; every kind of bad file is refused with a message naming it."""

import json
import pickle

import numpy as np
import pytest

from model import WeightsError, build, load, load_checked, save
from model.data import sha256_file


@pytest.fixture
def saved(tmp_path):
    net = build("simple_convnet", {"filter_num": 4, "hidden_size": 8}, rng=np.random.default_rng(0))
    initial = {"conv1.weight": net.params["conv1.weight"].copy() * 2}
    path = save(net, tmp_path, "tiny", {"metrics": {"test_accuracy": 0.5}}, initial)
    return net, path, initial


def test_round_trip_is_bit_exact(saved):
    net, path, initial = saved
    loaded, manifest, init = load_checked(path)
    assert loaded.arch == "simple_convnet" and loaded.config == net.config
    assert set(loaded.params) == set(net.params)
    for key, value in net.params.items():
        assert loaded.params[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded.params[key], value)
    np.testing.assert_array_equal(init["conv1.weight"], initial["conv1.weight"])
    assert manifest["metrics"]["test_accuracy"] == 0.5
    assert manifest["parameters"]["conv1.weight"] == {"shape": [4, 1, 5, 5], "dtype": "float32"}
    x = np.random.default_rng(1).random((2, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(load(path.with_suffix(".npz")).predict(x), net.predict(x))
    assert load("tiny", weights_dir=path.parent).param_count() == net.param_count()


def reseal(npz):
    """Write the npz's current checksum into its manifest, so the next check is reached."""
    manifest_path = npz.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    manifest["sha256"] = sha256_file(npz)
    manifest_path.write_text(json.dumps(manifest))


def rewrite_npz(path, arrays):
    np.savez(path, **arrays)
    reseal(path)


def arrays_of(npz):
    with np.load(npz) as data:
        return {k: data[k] for k in data.files}


def test_missing_manifest(tmp_path):
    with pytest.raises(WeightsError, match="manifest not found"):
        load_checked(tmp_path / "nothing.json")


def test_manifest_not_json(saved):
    _, path, _ = saved
    path.write_text("{oops")
    with pytest.raises(WeightsError, match="not valid JSON"):
        load_checked(path)


def test_manifest_missing_field(saved):
    _, path, _ = saved
    manifest = json.loads(path.read_text())
    del manifest["sha256"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(WeightsError, match="lacks the field 'sha256'"):
        load_checked(path)


def test_missing_npz(saved):
    _, path, _ = saved
    path.with_suffix(".npz").unlink()
    with pytest.raises(WeightsError, match="tiny.npz: weights file not found"):
        load_checked(path)


def test_checksum_mismatch(saved):
    _, path, _ = saved
    npz = path.with_suffix(".npz")
    data = bytearray(npz.read_bytes())
    data[-10] ^= 0xFF
    npz.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum mismatch"):
        load_checked(path)


def test_truncated_npz(saved):
    _, path, _ = saved
    npz = path.with_suffix(".npz")
    npz.write_bytes(npz.read_bytes()[: len(npz.read_bytes()) // 2])
    reseal(npz)
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        load_checked(path)


def test_pickle_is_refused(saved):
    _, path, _ = saved
    npz = path.with_suffix(".npz")
    npz.write_bytes(pickle.dumps({"conv1.weight": [1, 2, 3]}))
    reseal(npz)
    with pytest.raises(WeightsError, match="a pickle.*never pickle"):
        load_checked(path)


def test_object_array_inside_npz_is_refused(saved):
    _, path, _ = saved
    npz = path.with_suffix(".npz")
    arrays = arrays_of(npz)
    arrays["fc1.bias"] = np.array([{"evil": 1}], dtype=object)
    rewrite_npz(npz, arrays)
    with pytest.raises(WeightsError, match="refused to load"):
        load_checked(path)


@pytest.mark.parametrize("mutate,message", [
    (lambda a: a.pop("fc2.bias"), "missing key\\(s\\) fc2.bias"),
    (lambda a: a.update({"fc3.weight": np.zeros(3, np.float32)}),
     "unexpected key\\(s\\) fc3.weight"),
    (lambda a: a.update({"fc1.bias": np.zeros(9, np.float32)}),
     "fc1.bias has shape \\(9,\\), expected \\(8,\\)"),
    (lambda a: a.update({"fc1.bias": np.zeros(8, np.float64)}), "fc1.bias has dtype float64"),
    (lambda a: a["conv1.bias"].__setitem__(0, np.nan), "conv1.bias contains NaN or Inf"),
    (lambda a: a["fc2.weight"].__setitem__((0, 0), np.inf), "fc2.weight contains NaN or Inf"),
])
def test_bad_arrays_are_named(saved, mutate, message):
    _, path, _ = saved
    npz = path.with_suffix(".npz")
    arrays = arrays_of(npz)
    mutate(arrays)
    rewrite_npz(npz, arrays)
    with pytest.raises(WeightsError, match=message):
        load_checked(path)


def test_unknown_architecture(saved):
    _, path, _ = saved
    manifest = json.loads(path.read_text())
    manifest["arch"] = "resnet9000"
    path.write_text(json.dumps(manifest))
    with pytest.raises(WeightsError, match="unknown architecture 'resnet9000'"):
        load_checked(path)


def test_no_pickle_anywhere_in_model_code():
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    for py in list((root / "model").rglob("*.py")) + list((root / "app").rglob("*.py")):
        text = py.read_text()
        assert "import pickle" not in text and "allow_pickle=True" not in text, py
