"""The test images a model's units are read on, and a batched forward pass over a whole set that
keeps chosen layers' outputs (reduced per batch), for unit statistics and nearest neighbours."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from . import dataset_registry
from .data import TEST_PARTS, load_dataset, to_float
from .inputs import fit_input
from .networks import Sequential
from .runtime import single_threaded_blas, thread_pool

DEFAULT_DATASET = dataset_registry.DEFAULT_DATASET
Reduce = Callable[[np.ndarray], np.ndarray]


class ImageSet(NamedTuple):
    """A dataset's test split: ``images`` uint8 (N, 28, 28), ink = 255; ``labels`` uint8 (N,)."""

    name: str
    images: np.ndarray
    labels: np.ndarray


def dataset_of(manifest: Mapping[str, Any]) -> str:
    """The name of the dataset a model was trained on (model/dataset_registry.py reads the
    manifest's ``dataset``; MNIST when unnamed)."""
    return dataset_registry.dataset_of(manifest).name


@lru_cache(maxsize=2)
def load_test_set(name: str = DEFAULT_DATASET) -> ImageSet:
    """The test split of dataset ``name``, read once per process (read-only arrays); only its
    two files are read and checked against their SHA-256."""
    arrays, _ = load_dataset(dataset_registry.get_dataset(name), parts=TEST_PARTS)
    images, labels = arrays["test_images"], arrays["test_labels"]
    images.flags.writeable = False
    labels.flags.writeable = False
    return ImageSet(name, images, labels)


def as_input(net: Sequential, images: np.ndarray) -> np.ndarray:
    """uint8 digits (N, 28, 28) → the network's float input (N, 1, H, W), centred."""
    return fit_input(to_float(images)[:, 0], net.input_shape)


def _outputs(net: Sequential, x: np.ndarray, keep: dict[str, Reduce | None],
             last: int) -> dict[str, np.ndarray]:
    """Layer-by-layer pass over one batch up to layer index ``last``, keeping (reduced) outputs."""
    found = {}
    for name, layer in net.layers[:last + 1]:
        x, _ = layer.forward(net.layer_params(name), x, train=False)
        if name in keep:
            reduce = keep[name]
            found[name] = reduce(x) if reduce is not None else x
    return found


def layer_outputs(net: Sequential, x: np.ndarray, keep: Mapping[str, Reduce | None],
                  batch_size: int = 100, threads: int = 1) -> dict[str, np.ndarray]:
    """Every image's output at each layer named in ``keep``, each batch's output passed through
    its reducer first (None: kept whole), concatenated over the set; the pass stops at the last
    layer asked for. Threads split the set as in :meth:`Sequential.logits` (BLAS on one thread
    each), so the values are the same for any thread count.

    Input: x (N, *input_shape). Output: layer → reduce((N, *layer_shape)).
    """
    names = [name for name, _ in net.layers]
    unknown = sorted(set(keep) - set(names))
    if unknown:
        raise ValueError(f"unknown layer(s) {', '.join(unknown)}; layers: {', '.join(names)}")
    if not keep:
        return {}
    x = net._check_input(x)
    if len(x) == 0:
        raise ValueError("no images to run")
    last = max(names.index(name) for name in keep)
    keep = dict(keep)
    starts = list(range(0, len(x), batch_size))

    def run(chunk: list[int]) -> list[dict[str, np.ndarray]]:
        return [_outputs(net, x[i:i + batch_size], keep, last) for i in chunk]

    if threads > 1 and len(starts) >= threads:
        with single_threaded_blas():
            parts = list(thread_pool(threads).map(run, np.array_split(starts, threads)))
        batches = [batch for part in parts for batch in part]
    else:
        batches = run(starts)
    return {name: np.concatenate([batch[name] for batch in batches]) for name in keep}
