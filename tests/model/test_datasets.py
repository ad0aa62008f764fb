"""The dataset registry and the loader per dataset: checksums (a recompressed gzip is accepted
by its content), a directory per dataset, the shipped Fashion-MNIST files and sample."""

import gzip
import hashlib
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from model import data
from model.dataset_registry import (
    DATASETS,
    FASHION_MNIST,
    FILES,
    MNIST,
    dataset_of,
    get_dataset,
)


def idx_bytes(array):
    return (struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
            + array.astype(np.uint8).tobytes())


@pytest.fixture
def synthetic(tmp_path):
    """Four small Fashion-MNIST-like IDX files gzipped, and a dataset whose checksums are those
    of their decompressed content (as Fashion-MNIST's are)."""
    rng = np.random.default_rng(0)
    parts = {"train_images": rng.integers(0, 256, (6, 28, 28)), "train_labels": np.arange(6),
             "test_images": rng.integers(0, 256, (4, 28, 28)), "test_labels": np.arange(4)}
    sums = {}
    for key, stem in FILES.items():
        raw = idx_bytes(parts[key])
        (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
        sums[stem] = hashlib.sha256(raw).hexdigest()
    return tmp_path, replace(FASHION_MNIST, sha256=sums), parts


def test_registry_names_classes_and_lookup():
    assert list(DATASETS) == ["mnist", "fashion-mnist"]
    assert MNIST.classes == tuple("0123456789")
    assert FASHION_MNIST.classes[3] == "Dress" and len(FASHION_MNIST.classes) == 10
    assert {d.preprocessing for d in DATASETS.values()} == {"digit", "fill"}
    assert len({d.env for d in DATASETS.values()}) == len(DATASETS)
    assert get_dataset(None) is MNIST and get_dataset(" Fashion-MNIST ") is FASHION_MNIST
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; known: mnist, fashion-mnist"):
        get_dataset("cifar")


def test_a_manifest_names_its_dataset():
    assert dataset_of({}) is MNIST  # manifests written before datasets were recorded
    assert dataset_of({"dataset": {"name": "MNIST"}}) is MNIST  # the title, as they said it
    assert dataset_of({"dataset": {"name": "fashion-mnist"}}) is FASHION_MNIST
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        dataset_of({"dataset": {"name": "svhn"}})


def test_a_recompressed_gzip_is_verified_by_its_content(synthetic):
    directory, dataset, parts = synthetic
    arrays, report = data.load_dataset(dataset, directory)
    for key, value in parts.items():
        np.testing.assert_array_equal(arrays[key], value)
    stem = FILES["test_labels"]
    # the same content compressed differently (other bytes) still passes
    raw = gzip.decompress((directory / f"{stem}.gz").read_bytes())
    (directory / f"{stem}.gz").write_bytes(gzip.compress(raw, compresslevel=1, mtime=12345))
    assert data.verify(directory, dataset)["test_labels"]["sha256"] == dataset.sha256[stem]
    # other content does not
    (directory / f"{stem}.gz").write_bytes(gzip.compress(raw[:-1] + b"\x09"))
    with pytest.raises(data.DatasetError, match=r"has SHA-256 .* not the official Fashion-MNIST"
                                                r".*cnnvis data --dataset fashion-mnist"):
        data.load_dataset(dataset, directory)


def test_each_dataset_has_its_own_directory_setting(synthetic, monkeypatch):
    directory, dataset, _ = synthetic
    monkeypatch.setenv(MNIST.env, "/nowhere/mnist")
    monkeypatch.delenv(FASHION_MNIST.env, raising=False)
    assert data.resolve_data_dir(None, FASHION_MNIST) == FASHION_MNIST.shipped_data
    assert data.resolve_data_dir(None, "mnist") == Path("/nowhere/mnist")
    monkeypatch.setenv(FASHION_MNIST.env, str(directory))
    assert data.resolve_data_dir(None, "fashion-mnist") == directory
    assert data.load_dataset(dataset)[0]["test_images"].shape == (4, 28, 28)
    assert data.resolve_data_dir("/explicit", "fashion-mnist") == Path("/explicit")
    with pytest.raises(data.DatasetError, match="Fashion-MNIST directory /explicit does not exist"
                                                ".*CNNVIS_FASHION_MNIST_DIR=DIR"):
        data.load_dataset("fashion-mnist", "/explicit")


def test_fetch_without_a_network_says_so(tmp_path):
    offline = replace(FASHION_MNIST, mirrors=("http://127.0.0.1:9/",))
    with pytest.raises(data.DatasetError, match="could not download .* offline"):
        data.fetch(tmp_path, timeout=2.0, dataset=offline)


def test_the_shipped_fashion_mnist_is_official_and_the_sample_comes_from_its_test_set():
    report = data.verify(FASHION_MNIST.shipped_data, FASHION_MNIST)
    assert {Path(info["path"]).name for info in report.values()} == {
        f"{stem}.gz" for stem in FILES.values()}
    sums = dict(line.split()[::-1] for line in
                (FASHION_MNIST.shipped_data / "SHA256SUMS").read_text().splitlines())
    assert sums == FASHION_MNIST.sha256
    sample = data.load_sample(dataset="fashion-mnist")
    assert sample["images"].shape == (100, 28, 28) and sample["images"].dtype == np.uint8
    assert np.bincount(sample["labels"], minlength=10).tolist() == [10] * 10
    assert len(set(sample["indices"].tolist())) == 100
    test_images = data.read_idx(Path(report["test_images"]["path"]))
    test_labels = data.read_idx(Path(report["test_labels"]["path"]))
    np.testing.assert_array_equal(test_images[sample["indices"]], sample["images"])
    np.testing.assert_array_equal(test_labels[sample["indices"]], sample["labels"])
