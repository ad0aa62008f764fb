"""What each unit responds to, over a test set: its top images (the DeepVis toolbox's top 9,
Yosinski et al. 2015) with where in them it peaked, the distribution of its values, and the
ideal inputs of the first conv layer and the outputs (with where each came from); stored as
``<name>.units.npz`` beside the weights (no pickle) and validated strictly when read back.

A unit is a channel of a conv or pooling layer (its score on an image is its maximum over
positions) or one output of a dense layer (its value; the last layer's outputs are the classes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .maximise import DEFAULT_ASCENT, SOURCES, AscentConfig, ideal_inputs_parallel
from .networks import Sequential
from .runtime import single_threaded_blas
from .testset import as_input, dataset_of, layer_outputs, load_test_set
from .weights import WeightsError, attach, load_checked, read_npz

SUFFIX = ".units.npz"
MANIFEST_KEY = "units"  # the manifest's entry naming the file and its SHA-256
TOP = 9
QUANTILES = 101  # the 0th, 1st, ..., 100th percentile of a unit's scores
UNIT_ROLES = ("weighted", "pooling")
META = {"weights_sha256", "dataset", "test_size", "layers", "optimal_layers"}


def units_path(manifest_path: Path) -> Path:
    """``weights/simple_convnet.json`` → ``weights/simple_convnet.units.npz``."""
    return manifest_path.with_name(manifest_path.stem + SUFFIX)


def unit_layers(net: Sequential) -> list[str]:
    """The layers whose units are described: convolution, pooling and dense layers."""
    return [name for name, layer in net.layers if layer.role in UNIT_ROLES]


def unit_count(net: Sequential, layer: str) -> int:
    """Channels of a layer with feature maps, outputs of a dense one."""
    return int(net.shapes[layer][0])


def is_spatial(net: Sequential, layer: str) -> bool:
    return len(net.shapes[layer]) == 3


def precomputed_layers(net: Sequential) -> list[str]:
    """Whose ideal inputs ship in the file: the first convolution (if any) and the outputs."""
    convs = [name for name, layer in net.layers if layer.kind == "conv"]
    last = net.layers[-1][0]
    return [*convs[:1], *([last] if last not in convs[:1] else [])]


def _channel_peaks(out: np.ndarray) -> np.ndarray:
    """(N, C, H, W) → (N, C, 2): each channel's maximum and the flat position of the first one."""
    flat = out.reshape(*out.shape[:2], -1)
    where = flat.argmax(axis=2)
    peak = np.take_along_axis(flat, where[:, :, None], axis=2)[:, :, 0]
    return np.stack([peak, where.astype(out.dtype)], axis=2)


def scores(net: Sequential, x: np.ndarray, batch_size: int = 100,
           threads: int = 1) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Every unit's score on every image and, for channels, where it peaked.

    Input: x (N, *input_shape). Output: layer → (scores (N, U), positions (N, U, 2) as (row,
    col) in the layer's map, or None for a dense layer).
    """
    keep = {name: (_channel_peaks if is_spatial(net, name) else None)
            for name in unit_layers(net)}
    found = layer_outputs(net, x, keep, batch_size=batch_size, threads=threads)
    result = {}
    for name, values in found.items():
        if values.ndim == 3:
            width = net.shapes[name][2]
            flat = values[:, :, 1].astype(np.int64)
            result[name] = (values[:, :, 0], np.stack([flat // width, flat % width], axis=2))
        else:
            result[name] = (values, None)
    return result


def top_images(values: np.ndarray, k: int = TOP) -> np.ndarray:
    """The ``k`` images with the highest scores per unit, highest first, ties to the lower
    index. Input: (N, U). Output: (U, k) image indices."""
    order = np.argsort(-values, axis=0, kind="stable")[:k]  # (k, U)
    return np.ascontiguousarray(order.T)


def ideal_from(net: Sequential, arrays: dict[str, Any], layer: str, units: np.ndarray,
               best: np.ndarray, config: AscentConfig = DEFAULT_ASCENT,
               threads: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ideal inputs of ``units`` of ``layer`` (:func:`model.maximise.ideal_inputs`), started
    also from each unit's best test image as a units file's ``arrays`` record it (its score and
    where it peaked). Input: best (U, *input_shape), the images ``{layer}.top_index[units, 0]``
    as the network's input. Output: images, scores, sources as ``ideal_inputs``."""
    positions = arrays.get(f"{layer}.top_position")
    return ideal_inputs_parallel(net, layer, units, best, arrays[f"{layer}.top_score"][units, 0],
                                 None if positions is None else positions[units, 0], config,
                                 threads)


def describe_units(net: Sequential, x: np.ndarray, weights_sha256: str, dataset: str,
                   batch_size: int = 100, threads: int = 1, optimal: bool = True,
                   config: AscentConfig = DEFAULT_ASCENT) -> dict[str, np.ndarray]:
    """The arrays of a units file for network ``net`` over the test images ``x``."""
    arrays: dict[str, np.ndarray] = {
        "weights_sha256": np.array(weights_sha256), "dataset": np.array(dataset),
        "test_size": np.array(len(x), dtype=np.int32)}
    found = scores(net, x, batch_size, threads)
    layers = list(found)
    arrays["layers"] = np.array(layers)
    percentiles = np.linspace(0.0, 1.0, QUANTILES)
    for name, (values, positions) in found.items():
        top = top_images(values)
        arrays[f"{name}.top_index"] = top.astype(np.int32)
        arrays[f"{name}.top_score"] = np.take_along_axis(values.T, top, axis=1).astype(np.float32)
        if positions is not None:
            picked = positions.transpose(1, 0, 2)[np.arange(top.shape[0])[:, None], top]
            arrays[f"{name}.top_position"] = picked.astype(np.int16)  # (U, k, 2)
        arrays[f"{name}.quantiles"] = np.quantile(values, percentiles, axis=0).T.astype(np.float32)
    chosen = precomputed_layers(net) if optimal else []
    arrays["optimal_layers"] = np.array(chosen, dtype=str)
    for name in chosen:
        every = np.arange(unit_count(net, name))
        images, best, sources = ideal_from(net, arrays, name, every,
                                           x[arrays[f"{name}.top_index"][:, 0]], config, threads)
        arrays[f"{name}.optimal"] = images[:, 0].astype(np.float32)
        arrays[f"{name}.optimal_score"] = best.astype(np.float32)
        arrays[f"{name}.optimal_from"] = sources
    return arrays


def save_units(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez_compressed(path, **arrays)
    return path


def _fail(path: Path, problem: str) -> WeightsError:
    return WeightsError(f"{path}: {problem}")


def _expect(path: Path, arrays: dict[str, np.ndarray], key: str, shape: tuple[int, ...],
            kind: str) -> np.ndarray:
    value = arrays[key]
    if value.shape != shape:
        raise _fail(path, f"{key} has shape {value.shape}, expected {shape}")
    if value.dtype.kind != kind:
        raise _fail(path, f"{key} has dtype {value.dtype}, expected kind {kind!r}")
    return value


def load_units(path: Path, net: Sequential) -> dict[str, Any]:
    """Read and validate a ``.units.npz`` for ``net``; WeightsError names the file and problem.

    Checks: no pickle, exactly the expected keys for the network's unit layers, shapes and
    dtypes, test indices in range and unique per unit, scores descending and within each unit's
    value range, positions inside the layer's map, quantiles non-decreasing, ideal inputs in
    [0, 1] and finite, their sources (``optimal_from``, indices into ``maximise.SOURCES``)
    known. Returns the arrays (read-only) plus ``layers`` and ``optimal_layers`` as lists of
    names.
    """
    arrays = read_npz(path)
    missing = sorted(META - set(arrays))
    if missing:
        raise _fail(path, f"lacks {', '.join(missing)}")
    layers = [str(v) for v in np.atleast_1d(arrays["layers"])]
    if layers != unit_layers(net):
        raise _fail(path, f"describes layers {layers}, the network has {unit_layers(net)}")
    chosen = [str(v) for v in np.atleast_1d(arrays["optimal_layers"])]
    if not set(chosen) <= set(layers):
        raise _fail(path, f"ideal inputs for unknown layers {sorted(set(chosen) - set(layers))}")
    n = int(arrays["test_size"])
    _, h, w = net.input_shape
    expected = set(META)
    for name in layers:
        u = unit_count(net, name)
        keys = [f"{name}.top_index", f"{name}.top_score", f"{name}.quantiles"]
        top = _expect(path, arrays, keys[0], (u, TOP), "i") if keys[0] in arrays else None
        if top is None:
            raise _fail(path, f"lacks {keys[0]}")
        for key in keys[1:]:
            if key not in arrays:
                raise _fail(path, f"lacks {key}")
        best = _expect(path, arrays, keys[1], (u, TOP), "f")
        quantiles = _expect(path, arrays, keys[2], (u, QUANTILES), "f")
        expected.update(keys)
        if top.min() < 0 or top.max() >= n:
            raise _fail(path, f"{keys[0]} holds test indices outside 0..{n - 1}")
        if any(len(set(row)) != TOP for row in top.tolist()):
            raise _fail(path, f"{keys[0]} repeats a test image within a unit")
        if not (np.all(np.isfinite(best)) and np.all(np.isfinite(quantiles))):
            raise _fail(path, f"{name}: scores or quantiles are not finite")
        if np.any(np.diff(best, axis=1) > 0):
            raise _fail(path, f"{keys[1]} is not sorted highest first")
        if np.any(np.diff(quantiles, axis=1) < 0):
            raise _fail(path, f"{keys[2]} is not non-decreasing")
        if not np.array_equal(best[:, 0], quantiles[:, -1]):
            raise _fail(path, f"{name}: the best score is not the largest quantile")
        if is_spatial(net, name):
            key = f"{name}.top_position"
            if key not in arrays:
                raise _fail(path, f"lacks {key}")
            pos = _expect(path, arrays, key, (u, TOP, 2), "i")
            _, mh, mw = net.shapes[name]
            if pos.min() < 0 or np.any(pos[..., 0] >= mh) or np.any(pos[..., 1] >= mw):
                raise _fail(path, f"{key} holds positions outside the {mh}×{mw} map")
            expected.add(key)
        if name in chosen:
            opt = [f"{name}.optimal", f"{name}.optimal_score"]
            for key in opt:
                if key not in arrays:
                    raise _fail(path, f"lacks {key}")
            images = _expect(path, arrays, opt[0], (u, h, w), "f")
            values = _expect(path, arrays, opt[1], (u,), "f")
            if not (np.all(np.isfinite(values)) and np.all((images >= 0) & (images <= 1))):
                raise _fail(path, f"{opt[0]} must be finite values in [0, 1]")
            expected.update(opt)
            key = f"{name}.optimal_from"
            if key in arrays:  # files made before it was recorded hold ascents from noise
                sources = _expect(path, arrays, key, (u,), "i")
                if sources.min() < 0 or sources.max() >= len(SOURCES):
                    raise _fail(path, f"{key} holds sources outside 0..{len(SOURCES) - 1}")
                expected.add(key)
    extra = sorted(set(arrays) - expected)
    if extra:
        raise _fail(path, f"unexpected key(s) {', '.join(extra)}")
    if len(str(arrays["weights_sha256"])) != 64:
        raise _fail(path, "weights_sha256 is not a SHA-256 hex digest")
    for value in arrays.values():
        value.flags.writeable = False
    return {**arrays, "layers": layers, "optimal_layers": chosen}


def build_units_file(manifest_path: Path, threads: int = 1,
                     config: AscentConfig = DEFAULT_ASCENT) -> Path:
    """Compute ``<name>.units.npz`` for the weights of ``manifest_path`` over their dataset's
    test split, write it beside them and record it (with its SHA-256) in the manifest."""
    net, manifest, _ = load_checked(manifest_path)
    split = load_test_set(dataset_of(manifest))
    with single_threaded_blas():  # parallel over threads, one BLAS thread each
        arrays = describe_units(net, as_input(net, split.images), str(manifest["sha256"]),
                                split.name, threads=threads, config=config)
    out = save_units(units_path(Path(manifest_path)), arrays)
    attach(Path(manifest_path), MANIFEST_KEY, out)
    return out
