"""A network's reference set: the training digits' features, unit-normalised, as PCA coordinates
plus the length of what PCA leaves out, quantised to int8; their labels; the data map (the first
two principal components); and the atypical-drawing threshold, the distance to the k-th nearest
digit calibrated on the validation split (Sun et al. 2022, deep nearest neighbours). Stored as
``<name>.neighbors.npz`` beside the weights (no pickle), validated strictly when read back."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import load_dataset
from .weights import WeightsError, read_npz

SUFFIX = ".neighbors.npz"
MANIFEST_KEY = "neighbors"  # the manifest's entry naming the file and its SHA-256
DIMENSIONS = 32  # principal components kept; the leftover's length is one more coordinate
MAP_POINTS = 10_000
ATYPICAL_RANK = 10  # the score is the distance to this nearest reference digit
ATYPICAL_QUANTILE = 0.97  # share of validation digits (clean and redrawn) scored typical
MAX_K = 50
FIELDS = {"codes": np.int8, "scale": np.float32, "labels": np.uint8, "mean": np.float32,
          "components": np.float32, "map_indices": np.int32, "threshold": np.float32,
          "rank": np.integer, "layer": np.str_, "dataset": np.str_, "weights_sha256": np.str_}


def reference_path(manifest_path: Path) -> Path:
    """``weights/simple_convnet.json`` → ``weights/simple_convnet.neighbors.npz``."""
    return manifest_path.with_name(manifest_path.stem + SUFFIX)


_DATASETS: dict[str, tuple[np.ndarray, np.ndarray]] = {}
_DATASETS_LOCK = threading.Lock()


def reference_images(dataset: str = "mnist",
                     data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The reference digits of a model's dataset: ``(images (N, 28, 28) uint8, labels (N,))``,
    the training set, read once per process (read-only). The one place a dataset name becomes
    its images."""
    key = f"{dataset}:{data_dir or ''}"
    with _DATASETS_LOCK:
        if key not in _DATASETS:
            arrays, _ = load_dataset(dataset, data_dir, check=False)
            images, labels = arrays["train_images"], arrays["train_labels"]
            images.flags.writeable = False
            labels.flags.writeable = False
            _DATASETS[key] = (images, labels)
        return _DATASETS[key]


def normalised(features: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length (an all-zero row stays zero). Input/Output: (N, D)."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return (features / np.maximum(norms, 1e-12)).astype(np.float32)


def principal_axes(x: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``(mean (D,), axes (count, D))``: PCA by the eigenvectors of the covariance (D × D, cheap
    for many rows), largest variance first, each axis signed so its largest entry is positive."""
    mean = x.mean(axis=0, dtype=np.float64)
    centred = x - mean
    cov = centred.T @ centred / max(len(x) - 1, 1)
    values, vectors = np.linalg.eigh(cov)
    axes = vectors[:, ::-1][:, :count].T  # (count, D)
    signs = np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])
    return mean.astype(np.float32), (axes * signs[:, None]).astype(np.float32)


def project(features: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Features (N, D) → coordinates (N, P + 1): the normalised features' principal coordinates,
    then the length of the part the P axes leave out. Euclidean distance between two such
    coordinates is at most the distance between the normalised features."""
    centred = normalised(features) - mean
    coords = centred @ components.T
    rest = np.linalg.norm(centred - coords @ components, axis=1, keepdims=True)
    return np.hstack([coords, rest]).astype(np.float32)


def quantise(coords: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Coordinates (N, P + 1) → int8 codes on the per-coordinate grid ``scale``."""
    return np.clip(np.rint(coords / scale), -127, 127).astype(np.int8)


@dataclass(frozen=True)
class Reference:
    """A loaded reference set; read-only, shared by all threads."""

    points: np.ndarray  # (N, P + 1) float32: the int8 codes times their scale
    squared: np.ndarray  # (N,) squared lengths of the points, for the ranking product
    scale: np.ndarray
    labels: np.ndarray
    mean: np.ndarray
    components: np.ndarray
    map_indices: np.ndarray
    threshold: float
    rank: int
    layer: str
    dataset: str
    weights_sha256: str

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Reference:
        points = arrays["codes"].astype(np.float32) * arrays["scale"]
        values = [points, np.einsum("nd,nd->n", points, points)]
        values += [arrays[k] for k in ("scale", "labels", "mean", "components", "map_indices")]
        for value in values:
            value.flags.writeable = False
        return cls(*values, threshold=float(arrays["threshold"]), rank=int(arrays["rank"]),
                   layer=str(arrays["layer"]), dataset=str(arrays["dataset"]),
                   weights_sha256=str(arrays["weights_sha256"]))

    def __len__(self) -> int:
        return len(self.labels)

    def locate(self, features: np.ndarray) -> np.ndarray:
        """One drawing's features (D,) → its point (P + 1,) on the stored grid."""
        coords = project(features[None], self.mean, self.components)
        return (quantise(coords, self.scale).astype(np.float32) * self.scale)[0]

    def position(self, features: np.ndarray) -> np.ndarray:
        """Where the drawing lies on the map: its first two principal coordinates (2,)."""
        return project(features[None], self.mean, self.components)[0, :2]

    def nearest(self, point: np.ndarray, count: int,
                exclude: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(indices, distances)`` of the ``count`` nearest reference points, nearest first
        (ties by index). One matrix product ranks all of them; the distances of the few kept
        are then computed directly, so a point equal to a reference one is at exactly 0."""
        d2 = self.squared - 2.0 * (self.points @ point)  # + |point|², the same for every row
        if exclude is not None:
            d2[exclude] = np.inf
        keep = min(count + 8, len(d2))  # a margin for the product's rounding
        candidates = np.argpartition(d2, keep - 1)[:keep]
        exact = np.sqrt(np.sum((self.points[candidates] - point) ** 2, axis=1))
        if exclude is not None:
            exact[candidates == exclude] = np.inf
        order = np.lexsort((candidates, exact))[:count]
        return candidates[order], exact[order]

    def score(self, point: np.ndarray, exclude: int | None = None) -> float:
        """The atypicality: the distance to the ``rank``-th nearest reference digit."""
        return float(self.nearest(point, self.rank, exclude)[1][-1])

    def scores(self, points: np.ndarray, exclude: np.ndarray | None = None,
               chunk: int = 256) -> np.ndarray:
        """:meth:`score` for many points (M, P + 1) at once, ``exclude`` (M,) the reference index
        each one leaves out (or None); from the ranking product alone (float32 rounding, ~1e-6:
        for calibration, not for answers)."""
        out = np.empty(len(points), dtype=np.float32)
        for start in range(0, len(points), chunk):
            part = points[start:start + chunk]
            d2 = self.squared[None, :] - 2.0 * (part @ self.points.T)
            d2 += np.einsum("md,md->m", part, part)[:, None]
            if exclude is not None:
                d2[np.arange(len(part)), exclude[start:start + chunk]] = np.inf
            kth = np.partition(d2, self.rank - 1, axis=1)[:, self.rank - 1]
            out[start:start + len(part)] = np.sqrt(np.maximum(kth, 0.0))
        return out

    def map_points(self) -> np.ndarray:
        """The map's points: (M, 2) first two principal coordinates of ``map_indices``."""
        return self.points[self.map_indices, :2]


def build(features: np.ndarray, labels: np.ndarray, calibration: list[np.ndarray],
          calibration_indices: np.ndarray, layer: str, weights_sha256: str,
          dataset: str = "mnist", dimensions: int = DIMENSIONS, rank: int = ATYPICAL_RANK,
          quantile: float = ATYPICAL_QUANTILE, map_points: int = MAP_POINTS,
          seed: int = 0) -> dict[str, np.ndarray]:
    """The arrays of a reference file.

    ``features`` (N, D) of the reference digits with their ``labels`` (N,); the threshold is the
    ``quantile`` of the atypicality of the validation digits: those at ``calibration_indices``
    (members of the reference set, each scored without itself) and each array in
    ``calibration`` (features (M, D) of validation digits as drawn on the pad, not members).
    """
    dims = min(dimensions, features.shape[1])
    unit = normalised(features)
    mean, components = principal_axes(unit, dims)
    coords = project(features, mean, components)
    scale = np.maximum(np.abs(coords).max(axis=0), 1e-6).astype(np.float32) / 127.0
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(labels), min(map_points, len(labels)), replace=False))
    arrays = {"codes": quantise(coords, scale), "scale": scale,
              "labels": np.asarray(labels, dtype=np.uint8), "mean": mean,
              "components": components, "map_indices": chosen.astype(np.int32),
              "threshold": np.float32(0.0), "rank": np.int64(rank), "layer": np.array(layer),
              "dataset": np.array(dataset), "weights_sha256": np.array(weights_sha256)}
    reference = Reference.from_arrays(arrays)
    members = np.asarray(calibration_indices)
    scores = [reference.scores(reference.points[members], exclude=members)]
    for extra in calibration:
        grid = quantise(project(extra, mean, components), scale).astype(np.float32) * scale
        scores.append(reference.scores(grid))
    arrays["threshold"] = np.float32(np.quantile(np.concatenate(scores), quantile))
    return arrays


def save(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez_compressed(path, **arrays)
    return path


def load(path: Path) -> Reference:
    """Read and validate a reference file; WeightsError names the file and the problem."""
    arrays = read_npz(path)
    missing = sorted(set(FIELDS) - set(arrays))
    extra = sorted(set(arrays) - set(FIELDS))
    if missing or extra:
        raise WeightsError(f"{path}: expected keys {', '.join(FIELDS)}; missing "
                           f"{', '.join(missing) or 'none'}, unexpected "
                           f"{', '.join(extra) or 'none'}")
    for key, dtype in FIELDS.items():
        if not np.issubdtype(arrays[key].dtype, dtype):
            raise WeightsError(f"{path}: {key} has dtype {arrays[key].dtype}, expected "
                               f"{np.dtype(dtype).name}")
    n, width = arrays["codes"].shape if arrays["codes"].ndim == 2 else (0, 0)
    p, d = arrays["components"].shape if arrays["components"].ndim == 2 else (0, 0)
    shapes = {"codes": (n, p + 1), "scale": (p + 1,), "labels": (n,), "mean": (d,),
              "components": (p, d)}
    for key, shape in shapes.items():
        if arrays[key].shape != shape or n == 0 or p == 0:
            raise WeightsError(f"{path}: {key} has shape {arrays[key].shape}, expected {shape} "
                               f"for {n} digits and {p} components of {d} features")
    floats = [arrays[k] for k in ("scale", "mean", "components", "threshold")]
    if not all(np.all(np.isfinite(v)) for v in floats) or np.any(arrays["scale"] <= 0):
        raise WeightsError(f"{path}: scale, mean, components and threshold must be finite "
                           f"(scale positive)")
    if arrays["labels"].max() > 9:
        raise WeightsError(f"{path}: labels must be digits 0-9")
    indices = arrays["map_indices"]
    if indices.ndim != 1 or indices.min(initial=0) < 0 or indices.max(initial=0) >= n:
        raise WeightsError(f"{path}: map_indices must index the {n} reference digits")
    if not 1 <= int(arrays["rank"]) <= MAX_K:
        raise WeightsError(f"{path}: rank must be within 1..{MAX_K}")
    if len(str(arrays["weights_sha256"])) != 64:
        raise WeightsError(f"{path}: weights_sha256 is not a SHA-256 hex digest")
    return Reference.from_arrays(arrays)
