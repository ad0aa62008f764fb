"""Making a network's reference set (model/reference.py): the features of every training digit as
the server would see it, the validation split (as stored and as redrawn on the pad) to calibrate
the atypical threshold, written beside the weights and recorded in the manifest with its SHA-256."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import reference
from .data import to_float
from .features import feature_layer, features
from .inputs import fit_input, round_input
from .networks import Sequential
from .oddities import redrawn_digits
from .testset import dataset_of
from .train import split_train_val
from .weights import attach, load_checked

# Validation digits redrawn on the pad for the calibration (besides all of them as stored).
REDRAWN_CALIBRATION = 1000


def validation_indices(manifest: dict[str, Any], total: int) -> np.ndarray:
    """The training images held out for validation when the model was trained: the split its
    manifest records (size and seed), drawn again as model/train.py drew it."""
    split = (manifest.get("training") or {}).get("split") or {}
    val, seed = int(split.get("val", 0)), int(split.get("seed", 0))
    if val <= 0:
        raise ValueError("the manifest records no validation split to calibrate on")
    return split_train_val(total, val, np.random.default_rng(seed))[1]


def inputs_of(net: Sequential, images: np.ndarray) -> np.ndarray:
    """uint8 digits (N, 28, 28) → the network's input exactly as the server makes it from the
    same pixels (rounded as every answer echoes them). Output: (N, *input_shape)."""
    return fit_input(round_input(to_float(images)[:, 0]), net.input_shape)


def make(net: Sequential, manifest: dict[str, Any], images: np.ndarray, labels: np.ndarray,
         seed: int = 0, redrawn: int = REDRAWN_CALIBRATION, members: int | None = None,
         threads: int = 1) -> dict[str, np.ndarray]:
    """The reference arrays for ``net`` over the training ``images`` and ``labels``, calibrated
    on ``members`` validation digits as stored (default: all) and ``redrawn`` of them redrawn."""
    feats = features(net, inputs_of(net, images), threads=threads)
    val = validation_indices(manifest, len(labels))
    pad = redrawn_digits(images[val[:redrawn]], seed)
    pad_feats = features(net, fit_input(round_input(pad), net.input_shape))
    return reference.build(feats, labels, [pad_feats], val[:members], feature_layer(net),
                           str(manifest["sha256"]), dataset=dataset_of(manifest), seed=seed)


def record(manifest_path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``<name>.neighbors.npz`` beside the manifest and record it with its SHA-256 in the
    manifest (model/weights.py's ``attach``)."""
    out = reference.save(reference.reference_path(manifest_path), arrays)
    attach(manifest_path, reference.MANIFEST_KEY, out)
    return out


def build_file(manifest_path: Path, threads: int = 1, redrawn: int = REDRAWN_CALIBRATION,
               members: int | None = None, data_dir: str | Path | None = None) -> Path:
    """``cnnvis neighbors``: the reference set of the model at ``manifest_path``, written beside
    it and recorded in its manifest; returns the file written."""
    net, manifest, _ = load_checked(manifest_path)
    images, labels = reference.reference_images(dataset_of(manifest), data_dir)
    arrays = make(net, manifest, images, labels, redrawn=redrawn, members=members,
                  threads=threads)
    return record(manifest_path, arrays)
