"""Small untrained networks of several architectures, written as weights + manifest."""

import numpy as np

from model import build, save

TINY = {
    "tiny": ("simple_convnet", {"filter_num": 4, "hidden_size": 16}),
    "tiny_lenet": ("lenet5", {"c1": 3, "c3": 4, "c5": 12, "f6": 10}),
    "tiny_alexnet": ("alexnet", {"channels": [4, 4, 6, 6, 4], "hidden_size": 16}),
}


def write_tiny(directory, name, arch, config, seed=0, initial=True):
    net = build(arch, config, rng=np.random.default_rng(seed))
    first = {"conv1.weight": net.params["conv1.weight"] * 0.5} if initial else None
    info = {"metrics": {"test_accuracy": 0.5, "per_class_accuracy": [0.5] * 10,
                        "confusion_matrix": np.eye(10, dtype=int).tolist()},
            "training": {"epochs": 1, "command": "made in tests", "duration_seconds": 0.1,
                         "selected_epoch": 1},
            "history": [{"epoch": 1, "loss": 2.3}]}
    save(net, directory, name, info, first)
    return net
