"""Startup faults against the real servers: ``cnnvis serve`` and ``uvicorn app.main:app`` in
subprocesses on a broken weights directory each exit non-zero within seconds, print one line
naming the file and the problem (no traceback), and never answer /readyz with 200."""

import hashlib
import io
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from model.data import REPO_ROOT

SHIPPED = REPO_ROOT / "weights"
EXIT_WITHIN_S = 30  # generous: the suite may share the machine with training jobs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shipped_copy(directory):
    for suffix in (".json", ".npz", ".units.npz", ".neighbors.npz"):
        shutil.copy(SHIPPED / f"simple_convnet{suffix}", directory / f"simple_convnet{suffix}")
    return directory / "simple_convnet.json", directory / "simple_convnet.npz"


def rewrite_npz(directory, change):
    """Apply ``change`` to the arrays and save them, with the manifest's checksum updated so
    the loader gets past the checksum to the problem itself."""
    manifest_path, npz_path = shipped_copy(directory)
    with np.load(npz_path) as data:
        arrays = {key: data[key] for key in data.files}
    change(arrays)
    np.savez(npz_path, **arrays)
    set_checksum(manifest_path, npz_path)


def set_checksum(manifest_path, npz_path):
    manifest = json.loads(manifest_path.read_text())
    manifest["sha256"] = hashlib.sha256(npz_path.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))


def missing_directory(d):
    shutil.rmtree(d)


def missing_npz(d):
    shipped_copy(d)[1].unlink()


def truncated_npz(d):
    manifest_path, npz_path = shipped_copy(d)
    npz_path.write_bytes(npz_path.read_bytes()[:100_000])
    set_checksum(manifest_path, npz_path)


def checksum_mismatch(d):
    _, npz_path = shipped_copy(d)
    data = bytearray(npz_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz_path.write_bytes(bytes(data))


def missing_key(d):
    rewrite_npz(d, lambda a: a.pop("fc2.bias"))


def wrong_shape(d):
    rewrite_npz(d, lambda a: a.update({"conv1.weight": a["conv1.weight"][:20]}))


def nan_weights(d):
    def poison(a):
        a["fc1.weight"] = a["fc1.weight"].copy()
        a["fc1.weight"][3, 7] = np.nan
    rewrite_npz(d, poison)


def inf_weights(d):
    rewrite_npz(d, lambda a: a.update({"fc2.bias": np.full_like(a["fc2.bias"], np.inf)}))


def pickle_offered(d):
    manifest_path, npz_path = shipped_copy(d)
    with np.load(npz_path) as data:
        npz_path.write_bytes(pickle.dumps({key: data[key] for key in data.files}))
    set_checksum(manifest_path, npz_path)


def pickled_object_array(d):
    manifest_path, npz_path = shipped_copy(d)
    buffer = io.BytesIO()
    with np.load(npz_path) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["fc2.bias"] = np.array([{"not": "numbers"}], dtype=object)
    np.savez(buffer, **arrays)
    npz_path.write_bytes(buffer.getvalue())
    set_checksum(manifest_path, npz_path)


FAULTS = {
    "weights directory missing": (missing_directory, "{dir}: weights directory not found"),
    "npz missing": (missing_npz, "{npz}: weights file not found"),
    "truncated npz": (truncated_npz, "{npz}: truncated or corrupt npz"),
    "checksum mismatch": (checksum_mismatch, "{npz}: checksum mismatch (sha256 "),
    "missing key": (missing_key, "{npz}: missing key(s) fc2.bias"),
    "wrong shape": (wrong_shape, "{npz}: conv1.weight has shape (20, 1, 5, 5), expected "
                                 "(30, 1, 5, 5)"),
    "NaN in weights": (nan_weights, "{npz}: fc1.weight contains NaN or Inf"),
    "Inf in weights": (inf_weights, "{npz}: fc2.bias contains NaN or Inf"),
    "pickle offered": (pickle_offered, "{npz}: a pickle; only .npz weights are accepted, "
                                       "never pickle"),
    "pickled object array": (pickled_object_array, "{npz}: refused to load (Object arrays "
                                                   "cannot be loaded when allow_pickle=False)"),
}
SERVERS = {
    "cnnvis serve": lambda port: [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
    "uvicorn app.main:app": lambda port: [sys.executable, "-m", "uvicorn", "app.main:app",
                                          "--port", str(port)],
}


def start_and_watch(command: list[str], port: int, weights) -> tuple[int, float, str, list]:
    """Run until exit (bounded), polling /readyz meanwhile: (code, seconds, stderr, statuses)."""
    env = {**os.environ, "CNNVIS_WEIGHTS_DIR": str(weights)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    statuses = []
    try:
        while proc.poll() is None and time.monotonic() - started < EXIT_WITHIN_S:
            try:
                statuses.append(httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                                .status_code)
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
        _, stderr = proc.communicate(timeout=10)
    return proc.returncode, elapsed, stderr, statuses


@pytest.mark.parametrize("fault", FAULTS)
def test_a_broken_deployment_stops_with_one_clear_message(fault, tmp_path):
    make, expected = FAULTS[fault]
    weights = tmp_path / "weights"
    weights.mkdir()
    make(weights)
    message = expected.format(dir=weights, npz=weights / "simple_convnet.npz")
    ports = {name: free_port() for name in SERVERS}
    with ThreadPoolExecutor(len(SERVERS)) as pool:  # both servers at once, to save time
        runs = {name: pool.submit(start_and_watch, command(ports[name]), ports[name], weights)
                for name, command in SERVERS.items()}
        results = {name: run.result() for name, run in runs.items()}
    for name, (code, elapsed, stderr, statuses) in results.items():
        assert code not in (0, None) and elapsed < EXIT_WITHIN_S, (name, code, stderr)
        assert 200 not in statuses, name
        assert "Traceback" not in stderr, (name, stderr)
        lines = [line for line in stderr.splitlines() if message in line]
        assert len(lines) == 1, (name, message, stderr)
        if name == "cnnvis serve":
            assert code == 2 and stderr.strip() == lines[0] and lines[0].startswith("cnnvis: ")
        else:
            assert code == 3 and lines[0].startswith("ERROR:    cnnvis cannot start: ")
