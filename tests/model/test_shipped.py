"""The shipped SimpleConvNet weights load, validate and classify the shipped sample digits."""

import json

import numpy as np

from model import load_checked
from model.data import load_sample, to_float
from model.dataset_registry import dataset_of
from model.weights import default_weights_dir


def test_shipped_simple_convnet_scores_on_the_sample():
    net, manifest, initial = load_checked("simple_convnet")
    sample = load_sample()
    predicted = net.predict(to_float(sample["images"])).argmax(axis=1)
    assert (predicted == sample["labels"]).mean() >= 0.99
    assert manifest["metrics"]["test_accuracy"] >= 0.991
    assert initial["conv1.weight"].shape == (30, 1, 5, 5)
    assert not np.array_equal(initial["conv1.weight"], net.params["conv1.weight"])


def test_manifest_records_how_the_weights_were_made():
    manifest = json.loads((default_weights_dir() / "simple_convnet.json").read_text())
    training = manifest["training"]
    assert training["command"].startswith("cnnvis train --arch simple_convnet")
    assert training["seed"] == 0 and training["split"]["val"] == 5000
    assert 1 <= training["selected_epoch"] <= training["epochs"] == len(manifest["history"])
    assert len(manifest["dataset"]["checksums"]) == 4
    confusion = np.array(manifest["metrics"]["confusion_matrix"])
    assert confusion.shape == (10, 10) and confusion.sum() == 10000
    assert confusion.trace() / 10000 == manifest["metrics"]["test_accuracy"]
    for row in manifest["history"]:
        assert {"loss", "train_accuracy", "val_accuracy", "test_accuracy"} <= set(row)


def test_every_shipped_model_ships_a_checksummed_units_file_whose_ideal_inputs_win():
    """Each shipped network's units file is recorded in its manifest, describes the whole test
    set of its dataset for these very weights, and its ideal inputs (first conv layer, outputs)
    score at least as high as the best test image."""
    from model.units import load_units, precomputed_layers
    from model.weights import attached, read_manifest

    directory = default_weights_dir()
    names = sorted(p.stem for p in directory.glob("*.json"))
    assert {"simple_convnet", "lenet5", "alexnet", "deep_convnet"} <= set(names)
    for name in names:
        json_path = directory / f"{name}.json"
        net, manifest, _ = load_checked(json_path)
        units = load_units(attached(json_path, read_manifest(json_path), "units"), net)
        assert str(units["weights_sha256"]) == manifest["sha256"]
        assert int(units["test_size"]) == 10_000
        assert str(units["dataset"]) == dataset_of(manifest).name
        assert units["optimal_layers"] == precomputed_layers(net)
        for layer in units["optimal_layers"]:
            best = units[f"{layer}.top_score"][:, 0]
            score = units[f"{layer}.optimal_score"]
            assert np.all(score >= best), (name, layer)
