"""The test digits a network gets wrong, most confident mistakes first, stored next to its weights
as ``<name>.errors.npz`` (no pickle) and validated strictly when read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .preprocess import MNIST_SIDE
from .weights import WeightsError, read_npz

SUFFIX = ".errors.npz"
TEST_SET_SIZE = 10_000
FIELDS = {"images": np.uint8, "labels": np.uint8, "predicted": np.uint8,
          "probabilities": np.float32, "indices": np.int32, "weights_sha256": np.str_}


def errors_path(manifest_path: Path) -> Path:
    """``weights/simple_convnet.json`` → ``weights/simple_convnet.errors.npz``."""
    return manifest_path.with_name(manifest_path.stem + SUFFIX)


def find_misclassified(probabilities: np.ndarray, images: np.ndarray, labels: np.ndarray,
                       limit: int | None = None) -> dict[str, np.ndarray]:
    """Every wrongly classified digit, sorted by the probability of the wrong answer (descending,
    ties by test index), at most ``limit`` of them.

    Input: probabilities (N, 10), images (N, 28, 28) uint8, labels (N,).
    Output: images (M, 28, 28) uint8, labels (M,) and predicted (M,) uint8, probabilities (M, 10)
    float32, indices (M,) int32 positions in the given set.
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    labels = np.asarray(labels)
    n = len(labels)
    if probabilities.shape != (n, 10) or images.shape[0] != n:
        raise ValueError(f"expected probabilities (N, 10) and N images for N = {n} labels, got "
                         f"{probabilities.shape} and {images.shape}")
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probabilities[wrong, predicted[wrong]]
    order = wrong[np.lexsort((wrong, -confidence))]
    if limit is not None:
        order = order[:limit]
    return {"images": np.ascontiguousarray(images[order], dtype=np.uint8),
            "labels": labels[order].astype(np.uint8),
            "predicted": predicted[order].astype(np.uint8),
            "probabilities": probabilities[order], "indices": order.astype(np.int32)}


def save_misclassified(path: Path, found: dict[str, np.ndarray], weights_sha256: str) -> Path:
    """Write ``found`` plus the SHA-256 of the weights that made it (compressed npz)."""
    np.savez_compressed(path, **found, weights_sha256=np.array(weights_sha256))
    return path


def load_misclassified(path: Path) -> dict[str, np.ndarray]:
    """Read and validate a ``.errors.npz``; WeightsError names the file and the problem.

    Checks: no pickle, exactly the expected keys and dtypes, consistent shapes, digits 0-9, every
    prediction wrong and equal to the argmax of its probabilities, confidence descending, test
    indices unique and within the 10k test set.
    """
    arrays = read_npz(path)
    missing = sorted(set(FIELDS) - set(arrays))
    extra = sorted(set(arrays) - set(FIELDS))
    if missing or extra:
        raise WeightsError(f"{path}: expected keys {', '.join(FIELDS)}; "
                           f"missing {', '.join(missing) or 'none'}, unexpected "
                           f"{', '.join(extra) or 'none'}")
    for key, dtype in FIELDS.items():
        if not np.issubdtype(arrays[key].dtype, dtype):
            raise WeightsError(f"{path}: {key} has dtype {arrays[key].dtype}, expected "
                               f"{np.dtype(dtype).name}")
    m = len(arrays["labels"])
    shapes = {"images": (m, MNIST_SIDE, MNIST_SIDE), "labels": (m,), "predicted": (m,),
              "probabilities": (m, 10), "indices": (m,), "weights_sha256": ()}
    for key, shape in shapes.items():
        if arrays[key].shape != shape:
            raise WeightsError(f"{path}: {key} has shape {arrays[key].shape}, expected {shape}")
    probs, predicted, labels = arrays["probabilities"], arrays["predicted"], arrays["labels"]
    if labels.max(initial=0) > 9 or predicted.max(initial=0) > 9:
        raise WeightsError(f"{path}: labels and predictions must be digits 0-9")
    if not (np.all(np.isfinite(probs)) and np.all((probs >= 0) & (probs <= 1))):
        raise WeightsError(f"{path}: probabilities must be finite and within [0, 1]")
    if m and not np.array_equal(probs.argmax(axis=1), predicted):
        raise WeightsError(f"{path}: predicted labels disagree with the stored probabilities")
    if np.any(predicted == labels):
        raise WeightsError(f"{path}: holds correctly classified digits; it lists mistakes only")
    confidence = probs[np.arange(m), predicted]
    if np.any(np.diff(confidence) > 0):
        raise WeightsError(f"{path}: not sorted by the confidence of the wrong answer")
    indices = arrays["indices"]
    if m and (indices.min() < 0 or indices.max() >= TEST_SET_SIZE
              or len(np.unique(indices)) != m):
        raise WeightsError(f"{path}: test indices must be unique and in 0..{TEST_SET_SIZE - 1}")
    if len(str(arrays["weights_sha256"])) != 64:
        raise WeightsError(f"{path}: weights_sha256 is not a SHA-256 hex digest")
    return arrays
