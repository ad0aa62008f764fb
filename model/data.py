"""MNIST-format datasets (MNIST, Fashion-MNIST: model/datasets.py) from their IDX files,
verified by SHA-256.

A dataset's directory comes from ``--data-dir`` or its environment variable (``CNNVIS_DATA_DIR``
for MNIST, ``CNNVIS_FASHION_MNIST_DIR``), else the copy shipped in ``datasets/<name>``; files
may be gzipped or raw. Also mini-batching and the small labelled samples the repository ships.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .dataset_registry import FILES, MNIST, Dataset, get_dataset

DATA_ENV = MNIST.env
REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PATH = MNIST.sample_path
SHIPPED_DATA = MNIST.shipped_data
SHA256 = MNIST.sha256
TEST_PARTS = ("test_images", "test_labels")
MIRRORS = MNIST.mirrors
DatasetLike = Dataset | str | None


def how_to_get(dataset: Dataset) -> str:
    names = ", ".join(f"{stem}.gz" for stem in FILES.values())
    return (f"Get the four {dataset.title} IDX files ({names}) with"
            f" `cnnvis data --dataset {dataset.name} --fetch --data-dir DIR`"
            f" or copy them there by hand, then pass --data-dir DIR or set {dataset.env}=DIR.")


HOW_TO_GET = how_to_get(MNIST)


def as_dataset(dataset: DatasetLike) -> Dataset:
    """A Dataset from itself, its name, or None (MNIST)."""
    return dataset if isinstance(dataset, Dataset) else get_dataset(dataset)


class DatasetError(RuntimeError):
    """The dataset is missing, incomplete or corrupt; the message says what and how to fix it."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_content(path: Path) -> str:
    """SHA-256 of a gzip's decompressed content (what a recompressed copy keeps)."""
    h = hashlib.sha256()
    with gzip.open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_data_dir(data_dir: str | os.PathLike | None = None,
                     dataset: DatasetLike = None) -> Path:
    """The explicit directory, else the dataset's environment variable (``$CNNVIS_DATA_DIR``
    for MNIST), else the shipped ``datasets/<name>``."""
    ds = as_dataset(dataset)
    chosen = data_dir if data_dir is not None else os.environ.get(ds.env, "").strip()
    return Path(chosen).expanduser() if chosen else ds.shipped_data


def _parts(parts: Iterable[str] | None) -> dict[str, str]:
    """The chosen parts of ``FILES`` (all four when None); ValueError names unknown ones."""
    if parts is None:
        return dict(FILES)
    chosen = list(parts)
    unknown = [p for p in chosen if p not in FILES]
    if unknown:
        raise ValueError(f"unknown dataset part(s) {', '.join(unknown)}; parts: "
                         f"{', '.join(FILES)}")
    return {key: FILES[key] for key in chosen}


def find_files(data_dir: Path, dataset: DatasetLike = None,
               parts: Iterable[str] | None = None) -> dict[str, Path]:
    """Map each of the four parts (or the chosen ``parts``, e.g. ``TEST_PARTS``) to an existing
    file (gzipped preferred); name what is missing."""
    ds = as_dataset(dataset)
    if not data_dir.is_dir():
        raise DatasetError(f"{ds.title} directory {data_dir} does not exist. {how_to_get(ds)}")
    found, missing = {}, []
    for key, stem in _parts(parts).items():
        for candidate in (data_dir / f"{stem}.gz", data_dir / stem):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            missing.append(f"{stem}.gz")
    if missing:
        raise DatasetError(f"{ds.title} directory {data_dir} lacks {', '.join(missing)}. "
                           f"{how_to_get(ds)}")
    return found


def checksum(path: Path, dataset: Dataset, name: str | None = None) -> tuple[str, str]:
    """``(digest, expected)`` for one file (read as if called ``name``, for a download in
    progress): the file's own SHA-256 when the dataset lists its name, else (a gzip whose bytes
    are not listed) the SHA-256 of its decompressed content."""
    name = name or path.name
    if name in dataset.sha256:
        return sha256_file(path), dataset.sha256[name]
    raw_name = name.removesuffix(".gz")
    if name.endswith(".gz") and raw_name in dataset.sha256:
        return sha256_content(path), dataset.sha256[raw_name]
    raise DatasetError(f"{path}: no {dataset.title} checksum is known for {name}")


def verify(data_dir: Path, dataset: DatasetLike = None,
           parts: Iterable[str] | None = None) -> dict[str, dict[str, str]]:
    """Check every file's (or the chosen ``parts``') SHA-256 against the official value; return
    part → {path, sha256}."""
    ds = as_dataset(dataset)
    report = {}
    for key, path in find_files(data_dir, ds, parts).items():
        digest, expected = checksum(path, ds)
        if digest != expected:
            raise DatasetError(f"{path} has SHA-256 {digest}, expected {expected}: the file is "
                               f"corrupt or not the official {ds.title}. {how_to_get(ds)}")
        report[key] = {"path": str(path), "sha256": digest}
    return report


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (gzipped or raw): big-endian magic, dims, then uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DatasetError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DatasetError(f"{path} is truncated: {data.size} bytes for shape {dims}")
    return data.reshape(dims)


def load_dataset(dataset: DatasetLike = None, data_dir: str | os.PathLike | None = None,
                 check: bool = True, parts: Iterable[str] | None = None,
                 ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, str]]]:
    """Load a dataset as uint8 arrays: ``train_images`` (60000, 28, 28), ``train_labels``
    (60000,), ``test_images`` (10000, 28, 28), ``test_labels`` (10000,), or only the chosen
    ``parts`` (only their files are read and checked). Also returns the checksum report."""
    ds = as_dataset(dataset)
    directory = resolve_data_dir(data_dir, ds)
    report = (verify(directory, ds, parts) if check else
              {k: {"path": str(p), "sha256": ""}
               for k, p in find_files(directory, ds, parts).items()})
    arrays = {key: read_idx(Path(info["path"])) for key, info in report.items()}
    return arrays, report


def load_mnist(data_dir: str | os.PathLike | None = None,
               check: bool = True) -> tuple[dict[str, np.ndarray], dict[str, dict[str, str]]]:
    """MNIST through :func:`load_dataset`."""
    return load_dataset(MNIST, data_dir, check)


def fetch(data_dir: str | os.PathLike, timeout: float = 30.0,
          dataset: DatasetLike = None) -> list[str]:
    """Download the four gzipped files from public mirrors, verifying each checksum.

    Returns the names written; raises DatasetError (saying the network may be closed) otherwise.
    """
    import httpx

    ds = as_dataset(dataset)
    target = Path(data_dir).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    written, errors = [], []
    for stem in FILES.values():
        name = f"{stem}.gz"
        dest = target / name
        if dest.is_file() and len(set(checksum(dest, ds))) == 1:
            continue
        for mirror in ds.mirrors:
            try:
                response = httpx.get(mirror + name, timeout=timeout, follow_redirects=True)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                errors.append(f"{mirror}{name}: {exc}")
                continue
            partial = dest.with_name(name + ".part")
            partial.write_bytes(response.content)
            try:
                digest, expected = checksum(partial, ds, name)
            except (OSError, EOFError) as exc:  # not a gzip at all (an HTML error page)
                digest, expected = f"unreadable ({exc})", "the official content"
            if digest != expected:
                partial.unlink()
                errors.append(f"{mirror}{name}: checksum mismatch")
                continue
            partial.replace(dest)
            written.append(name)
            break
        else:
            raise DatasetError(f"could not download {name} from any mirror (is this machine "
                               f"offline?):\n  " + "\n  ".join(errors))
    return written


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) → float32 (N, 1, 28, 28) in [0, 1], ink = 1 as in MNIST."""
    return (images.astype(np.float32) / 255.0)[:, None, :, :]


def load_sample(path: Path | None = None, dataset: DatasetLike = None) -> dict[str, np.ndarray]:
    """A dataset's shipped sample of test images (default: MNIST's): ``images`` uint8
    (N, 28, 28), ``labels`` (N,), ``indices`` (N,) their positions in the official test set."""
    with np.load(path or as_dataset(dataset).sample_path, allow_pickle=False) as data:
        return {key: data[key] for key in ("images", "labels", "indices")}
