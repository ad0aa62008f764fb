"""model/testset.py: the batched pass over a set keeps the layer-by-layer outputs (up to a GEMM's
rounding) for any batch size and thread count; the test split comes from the model's dataset and
only its own files are read and checked."""

import gzip
import shutil

import numpy as np
import pytest

from model import build
from model.data import REPO_ROOT, TEST_PARTS, DatasetError, load_dataset
from model.dataset_registry import FASHION_MNIST, FILES
from model.testset import DEFAULT_DATASET, as_input, dataset_of, layer_outputs, load_test_set
from model.weights import read_manifest


def test_layer_outputs_equal_the_reference_pass_for_any_batching():
    net = build("lenet5", {"c1": 3, "c3": 4, "c5": 12, "f6": 10}, rng=np.random.default_rng(1))
    x = np.random.default_rng(2).random((23, 1, 28, 28), dtype=np.float32)
    _, reference = net.forward(x, keep=True)
    keep = {"conv1": None, "pool2": lambda out: out.max(axis=(2, 3)), "fc3": None}
    for batch_size, threads in ((100, 1), (5, 1), (4, 2), (3, 3)):
        got = layer_outputs(net, x, keep, batch_size=batch_size, threads=threads)
        assert set(got) == set(keep)
        np.testing.assert_array_equal(got["conv1"], reference["conv1"])
        np.testing.assert_array_equal(got["pool2"], reference["pool2"].max(axis=(2, 3)))
        # a GEMM's rounding depends on how many rows it gets at once
        np.testing.assert_allclose(got["fc3"], reference["fc3"], rtol=1e-5, atol=1e-6)


def test_layer_outputs_refuse_unknown_layers_and_empty_sets():
    net = build("simple_convnet", {"filter_num": 2, "hidden_size": 4})
    with pytest.raises(ValueError, match="unknown layer.*nope.*layers: conv1"):
        layer_outputs(net, np.zeros((1, 1, 28, 28), np.float32), {"nope": None})
    with pytest.raises(ValueError, match="no images"):
        layer_outputs(net, np.zeros((0, 1, 28, 28), np.float32), {"fc2": None})


def test_the_test_split_is_the_models_dataset_mnist_by_default():
    assert dataset_of({"arch": "lenet5"}) == DEFAULT_DATASET == "mnist"
    assert dataset_of({"dataset": {"name": "MNIST", "checksums": {}}}) == "mnist"
    assert dataset_of(read_manifest(REPO_ROOT / "weights" / "lenet5.json")) == "mnist"
    split = load_test_set(dataset_of({}))
    assert split.images.shape == (10_000, 28, 28) and split.images.dtype == np.uint8
    assert split.labels.shape == (10_000,) and split.labels.max() == 9
    assert not split.images.flags.writeable
    net = build("simple_convnet", {"filter_num": 2, "hidden_size": 4})
    x = as_input(net, split.images[:3])
    assert x.shape == (3, 1, 28, 28) and x.dtype == np.float32 and x.max() == 1.0
    with pytest.raises(ValueError, match="unknown dataset"):
        load_test_set("cifar")


@pytest.fixture
def test_files_only(tmp_path, monkeypatch):
    """Fashion-MNIST's directory setting pointing at a copy of its two test files alone."""
    for stem in (FILES[part] for part in TEST_PARTS):
        shutil.copy(FASHION_MNIST.shipped_data / f"{stem}.gz", tmp_path)
    monkeypatch.setenv(FASHION_MNIST.env, str(tmp_path))
    load_test_set.cache_clear()
    yield tmp_path
    load_test_set.cache_clear()  # later tests read the shipped copy


def test_the_test_split_reads_and_checks_only_its_own_two_files(test_files_only):
    split = load_test_set("fashion-mnist")  # no training files there: not needed
    assert split.images.shape == (10_000, 28, 28) and split.labels.shape == (10_000,)
    load_test_set.cache_clear()
    stem = FILES["test_labels"]
    raw = gzip.decompress((test_files_only / f"{stem}.gz").read_bytes())
    (test_files_only / f"{stem}.gz").write_bytes(gzip.compress(raw[:-1] + b"\x09"))
    with pytest.raises(DatasetError, match=f"{stem}.gz has SHA-256 .* not the official"):
        load_test_set("fashion-mnist")
    with pytest.raises(ValueError, match="unknown dataset part.*validation_images"):
        load_dataset(FASHION_MNIST, test_files_only, parts=["validation_images"])
