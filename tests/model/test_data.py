"""The MNIST IDX loader on synthetic files: parsing, checksums, clear messages."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from model import data
from model.augment import random_shift


def write_idx(path, array, compress):
    header = (struct.pack(">BBBB", 0, 0, 8, array.ndim)
              + struct.pack(f">{array.ndim}I", *array.shape))
    raw = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(raw)


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx(tmp_path, compress):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    path = tmp_path / ("x.gz" if compress else "x")
    write_idx(path, images, compress)
    np.testing.assert_array_equal(data.read_idx(path), images)


def test_truncated_idx(tmp_path):
    path = tmp_path / "x"
    write_idx(path, np.zeros((5, 4, 4), np.uint8), False)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(data.DatasetError, match="truncated"):
        data.read_idx(path)


def test_missing_directory_and_files_explained(tmp_path):
    with pytest.raises(data.DatasetError, match="does not exist"):
        data.load_mnist(tmp_path / "nope")
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(3, np.uint8), True)
    with pytest.raises(data.DatasetError, match="lacks train-images-idx3-ubyte.gz, t10k-images"):
        data.load_mnist(tmp_path)


def test_checksum_is_verified(tmp_path, monkeypatch):
    for stem in data.FILES.values():
        write_idx(tmp_path / f"{stem}.gz",
                  np.zeros((2, 28, 28) if "images" in stem else 2, np.uint8), True)
    with pytest.raises(data.DatasetError, match="has SHA-256 .* expected 0b3670"):
        data.load_mnist(tmp_path)
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    arrays, _ = data.load_mnist(check=False)
    assert arrays["train_images"].shape == (2, 28, 28)


def test_the_shipped_mnist_is_the_default_and_official(monkeypatch):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    assert data.resolve_data_dir() == data.SHIPPED_DATA
    monkeypatch.setenv(data.DATA_ENV, "  ")
    assert data.resolve_data_dir() == data.SHIPPED_DATA
    report = data.verify(data.SHIPPED_DATA)  # the four official gzipped files, checksummed
    assert {Path(info["path"]).name for info in report.values()} == {
        f"{stem}.gz" for stem in data.FILES.values()}
    sums = dict(line.split()[::-1] for line in
                (data.SHIPPED_DATA / "SHA256SUMS").read_text().splitlines())
    assert sums == {name: data.SHA256[name] for name in sums} and len(sums) == 4


def test_shipped_sample():
    sample = data.load_sample()
    assert sample["images"].shape == (100, 28, 28) and sample["images"].dtype == np.uint8
    assert np.bincount(sample["labels"], minlength=10).tolist() == [10] * 10
    assert len(set(sample["indices"].tolist())) == 100
    x = data.to_float(sample["images"])
    assert x.shape == (100, 1, 28, 28) and x.dtype == np.float32 and x.max() <= 1.0


def test_random_shift_moves_each_image_within_bounds():
    rng = np.random.default_rng(0)
    x = np.zeros((50, 1, 28, 28), np.float32)
    x[:, 0, 13, 13] = 1.0
    y = random_shift(x, 2, rng)
    assert y.shape == x.shape
    for img in y[:, 0]:
        r, c = np.argwhere(img == 1.0)[0]
        assert abs(r - 13) <= 2 and abs(c - 13) <= 2
    assert len({tuple(np.argwhere(img == 1.0)[0]) for img in y[:, 0]}) > 5
    np.testing.assert_array_equal(random_shift(x, 0, rng), x)
