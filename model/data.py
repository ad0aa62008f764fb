"""MNIST (LeCun, Cortes & Burges) from the official IDX files, verified by SHA-256.

The directory comes from ``--data-dir`` or ``CNNVIS_DATA_DIR``, else the copy shipped in
``datasets/mnist`` (the four official gzipped files); files may be gzipped or raw.
Also mini-batching and the small labelled sample of test digits that the repository ships.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np

from .resources import shipped_dir

DATA_ENV = "CNNVIS_DATA_DIR"
REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PATH = shipped_dir("weights") / "mnist_sample.npz"
SHIPPED_DATA = shipped_dir("datasets") / "mnist"

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# Official checksums of the gzipped and of the raw IDX files.
SHA256 = {
    "train-images-idx3-ubyte.gz":
        "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
    "train-labels-idx1-ubyte.gz":
        "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
    "t10k-images-idx3-ubyte.gz": "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
    "t10k-labels-idx1-ubyte.gz": "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
HOW_TO_GET = (
    "Get the four official MNIST IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,"
    " t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) with"
    " `cnnvis data --fetch --data-dir DIR`"
    f" or copy them there by hand, then pass --data-dir DIR or set {DATA_ENV}=DIR."
)


class DatasetError(RuntimeError):
    """The dataset is missing, incomplete or corrupt; the message says what and how to fix it."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The explicit directory, else ``$CNNVIS_DATA_DIR``, else the shipped ``datasets/mnist``."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_ENV, "").strip()
    return Path(chosen).expanduser() if chosen else SHIPPED_DATA


def find_files(data_dir: Path) -> dict[str, Path]:
    """Map each of the four parts to an existing file (gzipped preferred); name what is missing."""
    if not data_dir.is_dir():
        raise DatasetError(f"MNIST directory {data_dir} does not exist. {HOW_TO_GET}")
    found, missing = {}, []
    for key, stem in FILES.items():
        for candidate in (data_dir / f"{stem}.gz", data_dir / stem):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            missing.append(f"{stem}.gz")
    if missing:
        raise DatasetError(f"MNIST directory {data_dir} lacks {', '.join(missing)}. {HOW_TO_GET}")
    return found


def verify(data_dir: Path) -> dict[str, dict[str, str]]:
    """Check every file's SHA-256 against the official value; return name → {path, sha256}."""
    report = {}
    for key, path in find_files(data_dir).items():
        digest = sha256_file(path)
        if digest != SHA256[path.name]:
            raise DatasetError(f"{path} has SHA-256 {digest}, expected {SHA256[path.name]}: the "
                               f"file is corrupt or not the official MNIST. {HOW_TO_GET}")
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


def load_mnist(data_dir: str | os.PathLike | None = None,
               check: bool = True) -> tuple[dict[str, np.ndarray], dict[str, dict[str, str]]]:
    """Load MNIST as uint8 arrays: ``train_images`` (60000, 28, 28), ``train_labels`` (60000,),
    ``test_images`` (10000, 28, 28), ``test_labels`` (10000,). Also returns the checksum report."""
    directory = resolve_data_dir(data_dir)
    report = verify(directory) if check else {k: {"path": str(p), "sha256": ""}
                                              for k, p in find_files(directory).items()}
    arrays = {key: read_idx(Path(info["path"])) for key, info in report.items()}
    return arrays, report


def fetch(data_dir: str | os.PathLike, timeout: float = 30.0) -> list[str]:
    """Download the four gzipped files from public mirrors, verifying each checksum.

    Returns the names written; raises DatasetError (saying the network may be closed) otherwise.
    """
    import httpx

    target = Path(data_dir).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    written, errors = [], []
    for stem in FILES.values():
        name = f"{stem}.gz"
        dest = target / name
        if dest.is_file() and sha256_file(dest) == SHA256[name]:
            continue
        for mirror in MIRRORS:
            try:
                response = httpx.get(mirror + name, timeout=timeout, follow_redirects=True)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                errors.append(f"{mirror}{name}: {exc}")
                continue
            if hashlib.sha256(response.content).hexdigest() != SHA256[name]:
                errors.append(f"{mirror}{name}: checksum mismatch")
                continue
            dest.write_bytes(response.content)
            written.append(name)
            break
        else:
            raise DatasetError(f"could not download {name} from any mirror (is this machine "
                               f"offline?):\n  " + "\n  ".join(errors))
    return written


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) → float32 (N, 1, 28, 28) in [0, 1], ink = 1 as in MNIST."""
    return (images.astype(np.float32) / 255.0)[:, None, :, :]


def load_sample(path: Path = SAMPLE_PATH) -> dict[str, np.ndarray]:
    """The shipped sample of MNIST test digits: ``images`` uint8 (N, 28, 28), ``labels`` (N,),
    ``indices`` (N,) their positions in the official test set."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in ("images", "labels", "indices")}

