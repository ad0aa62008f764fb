"""Weights as ``<name>.npz`` (no pickle) plus a ``<name>.json`` manifest, validated strictly.

The manifest records the architecture and its constructor arguments, every parameter's shape and
dtype, the npz's SHA-256, and how the weights were made (command, seed, data, metrics).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .data import sha256_file
from .networks import Sequential, build
from .resources import weights_dir as default_weights_dir

# The shipped weights served, evaluated and predicted with when none is named.
DEFAULT_MODEL = "simple_convnet"
INITIAL_PREFIX = "initial."
FORMAT_VERSION = 1


class WeightsError(ValueError):
    """A weights file or manifest is missing, corrupt or does not match its architecture."""


def save(net: Sequential, directory: str | os.PathLike, name: str,
         info: dict[str, Any] | None = None,
         initial: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``<directory>/<name>.npz`` and ``<name>.json``; returns the manifest path.

    ``initial`` holds untrained copies of some parameters (``conv1.weight``) for the
    before/after-training filter view; they are stored as ``initial.conv1.weight``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {key: np.ascontiguousarray(value) for key, value in net.params.items()}
    for key, value in (initial or {}).items():
        if key not in net.params:
            raise WeightsError(f"initial weights given for unknown parameter {key!r}")
        arrays[INITIAL_PREFIX + key] = np.ascontiguousarray(value, dtype=net.params[key].dtype)
    npz_path = directory / f"{name}.npz"
    np.savez(npz_path, **arrays)
    manifest = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "arch": net.arch,
        "config": net.config,
        "weights_file": npz_path.name,
        "sha256": sha256_file(npz_path),
        "param_count": net.param_count(),
        "parameters": {key: {"shape": list(v.shape), "dtype": str(v.dtype)}
                       for key, v in arrays.items()},
        **(info or {}),
    }
    json_path = directory / f"{name}.json"
    json_path.write_text(json.dumps(manifest, indent=1, allow_nan=False) + "\n")
    return json_path


def _manifest_path(name_or_path: str | os.PathLike, weights_dir: Path | None) -> Path:
    text = str(name_or_path)
    path = Path(text)
    if path.suffix in (".json", ".npz") or os.sep in text or "/" in text:
        return path.with_suffix(".json")
    return (weights_dir or default_weights_dir()) / f"{text}.json"


def read_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise WeightsError(f"{path}: manifest not found")
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{path}: manifest is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise WeightsError(f"{path}: manifest must be a JSON object")
    for field in ("arch", "config", "weights_file", "sha256", "parameters"):
        if field not in manifest:
            raise WeightsError(f"{path}: manifest lacks the field {field!r}")
    return manifest


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read every array of an npz with pickle disabled; a WeightsError names what is wrong."""
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        kind = "a pickle" if magic[:1] == b"\x80" else "not an npz (zip) archive"
        raise WeightsError(f"{path}: {kind}; only .npz weights are accepted, never pickle")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except ValueError as exc:
        raise WeightsError(f"{path}: refused to load ({exc})") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as exc:
        raise WeightsError(f"{path}: truncated or corrupt npz "
                           f"({type(exc).__name__}: {exc})") from None


def load_checked(name_or_path: str | os.PathLike,
                 weights_dir: str | os.PathLike | None = None) -> tuple[Sequential, dict[str, Any],
                                                                       dict[str, np.ndarray]]:
    """Load and validate a network. Returns ``(net, manifest, initial_params)``.

    Checks: manifest fields, npz present, SHA-256, no pickle, exactly the expected keys, shapes,
    dtypes and finite values. Any failure raises WeightsError naming the file and the problem.
    """
    json_path = _manifest_path(name_or_path, Path(weights_dir) if weights_dir else None)
    manifest = read_manifest(json_path)
    npz_path = json_path.parent / manifest["weights_file"]
    if not npz_path.is_file():
        raise WeightsError(f"{npz_path}: weights file not found (named by {json_path.name})")
    digest = sha256_file(npz_path)
    if digest != manifest["sha256"]:
        raise WeightsError(f"{npz_path}: checksum mismatch (sha256 {digest}, manifest says "
                           f"{manifest['sha256']})")
    arrays = read_npz(npz_path)
    try:
        net = build(manifest["arch"], manifest["config"])
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{json_path}: cannot build architecture {manifest['arch']!r} "
                           f"({exc})") from None
    expected = net.expected_params()
    initial_keys = {k for k in arrays if k.startswith(INITIAL_PREFIX)}
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected) - initial_keys)
    if missing:
        raise WeightsError(f"{npz_path}: missing key(s) {', '.join(missing)}")
    if extra:
        raise WeightsError(f"{npz_path}: unexpected key(s) {', '.join(extra)}")
    for key in initial_keys:
        base = key[len(INITIAL_PREFIX):]
        if base not in expected:
            raise WeightsError(f"{npz_path}: unexpected key {key} (no parameter {base})")
        expected[key] = expected[base]
    for key, shape in expected.items():
        value = arrays[key]
        if tuple(value.shape) != tuple(shape):
            raise WeightsError(f"{npz_path}: {key} has shape {tuple(value.shape)}, expected "
                               f"{tuple(shape)}")
        if value.dtype != np.float32:
            raise WeightsError(f"{npz_path}: {key} has dtype {value.dtype}, expected float32")
        if not np.all(np.isfinite(value)):
            raise WeightsError(f"{npz_path}: {key} contains NaN or Inf")
        listed = manifest["parameters"].get(key)
        if listed is None or list(listed.get("shape", [])) != list(shape):
            raise WeightsError(f"{json_path}: manifest entry for {key} is missing or disagrees "
                               f"with the npz")
    net.params = {key: arrays[key] for key in net.params}
    initial = {key[len(INITIAL_PREFIX):]: arrays[key] for key in initial_keys}
    return net, manifest, initial


def load(name_or_path: str | os.PathLike,
         weights_dir: str | os.PathLike | None = None) -> Sequential:
    """A trained network by name (``simple_convnet``, looked up in the weights directory) or by
    path to its ``.json``/``.npz``; ``net.predict(x)`` gives (N, 10) probabilities."""
    return load_checked(name_or_path, weights_dir)[0]




def attach(json_path: Path, key: str, path: Path) -> None:
    """Record ``path``, a file made from these weights (``units``: the units file), in the
    manifest under ``key`` with its SHA-256, so loading checks it as it checks the weights."""
    manifest = read_manifest(json_path)
    manifest[key] = {"file": path.name, "sha256": sha256_file(path)}
    json_path.write_text(json.dumps(manifest, indent=1, allow_nan=False) + "\n")


def attached(json_path: Path, manifest: dict[str, Any], key: str) -> Path | None:
    """The file the manifest records under ``key`` (see :func:`attach`), present and matching
    its SHA-256; None when the manifest records none. WeightsError otherwise."""
    entry = manifest.get(key)
    if entry is None:
        return None
    name = entry.get("file") if isinstance(entry, dict) else None
    digest = entry.get("sha256") if isinstance(entry, dict) else None
    if not (isinstance(name, str) and isinstance(digest, str)) or Path(name).name != name:
        raise WeightsError(f"{json_path}: {key!r} must be {{\"file\": a file name beside it, "
                           f"\"sha256\": its digest}}, got {entry!r:.80}")
    path = json_path.parent / name
    if not path.is_file():
        raise WeightsError(f"{path}: file not found (named by {json_path.name} as its {key})")
    actual = sha256_file(path)
    if actual != digest:
        raise WeightsError(f"{path}: checksum mismatch (sha256 {actual}, {json_path.name} says "
                           f"{digest})")
    return path
