"""Small untrained networks of several architectures, written as weights + manifest."""

import numpy as np

from model import build, load_checked, save
from model.dataset_registry import get_dataset
from model.maximise import AscentConfig
from model.testset import as_input, load_test_set
from model.units import describe_units, save_units, units_path
from model.weights import attach

TINY = {
    "tiny": ("simple_convnet", {"filter_num": 4, "hidden_size": 16}),
    "tiny_lenet": ("lenet5", {"c1": 3, "c3": 4, "c5": 12, "f6": 10}),
    "tiny_alexnet": ("alexnet", {"channels": [4, 4, 6, 6, 4], "hidden_size": 16}),
}


def write_tiny(directory, name, arch, config, seed=0, initial=True, dataset="mnist"):
    net = build(arch, config, rng=np.random.default_rng(seed))
    first = {"conv1.weight": net.params["conv1.weight"] * 0.5} if initial else None
    info = {"metrics": {"test_accuracy": 0.5, "per_class_accuracy": [0.5] * 10,
                        "confusion_matrix": np.eye(10, dtype=int).tolist()},
            "training": {"epochs": 1, "command": "made in tests", "duration_seconds": 0.1,
                         "selected_epoch": 1},
            "history": [{"epoch": 1, "loss": 2.3}],
            "dataset": {"name": dataset, "classes": list(get_dataset(dataset).classes)}}
    save(net, directory, name, info, first)
    return net


UNIT_IMAGES = 500  # tiny units files describe the first 500 test digits (fast to make)
FAST_ASCENT = AscentConfig(steps=40, polish=20)


def write_tiny_units(directory, name):
    """A units file for tiny model ``name`` over the first UNIT_IMAGES test digits, recorded in
    its manifest as ``cnnvis units`` records one."""
    json_path = directory / f"{name}.json"
    net, manifest, _ = load_checked(json_path)
    x = as_input(net, load_test_set().images[:UNIT_IMAGES])
    arrays = describe_units(net, x, manifest["sha256"], "mnist", config=FAST_ASCENT)
    attach(json_path, "units", save_units(units_path(json_path), arrays))
    return arrays
