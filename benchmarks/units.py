"""What a unit means (issue 16): the time to make all four shipped models' units files (every
unit's top 9 and percentiles over the 10,000 MNIST test digits, the first conv layer's and the
outputs' ideal inputs; into a temporary folder, the shipped files untouched), the cost of one
ideal input computed on demand per layer, and every layer's GET /api/models/{name}/units/{layer}
from a real ``cnnvis serve``: the first (computed) and a repeated (answer cache) request's time,
and its size. Writes benchmarks/results/units.json and units.md.

    python benchmarks/units.py [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from model.data import REPO_ROOT
from model.runtime import available_cores, single_threaded_blas
from model.testset import as_input, load_test_set
from model.units import build_units_file, ideal_from, load_units, unit_layers, units_path
from model.weights import load_checked

RESULTS = REPO_ROOT / "benchmarks" / "results"
MODELS = ("simple_convnet", "lenet5", "alexnet", "deep_convnet")
LIMITS = {"files_s": 60.0, "layer_ms": 50.0, "layer_kb": 200.0}


def make_files(threads: int) -> tuple[dict[str, float], dict[str, float]]:
    """Wall-clock and CPU seconds per model for ``cnnvis units`` (the test split already read,
    as in one process). On a shared machine the CPU seconds divided by the threads bound what
    the wall clock would be on idle cores."""
    load_test_set()
    seconds, cpu = {}, {}
    with tempfile.TemporaryDirectory(prefix="cnnvis-units-bench-") as tmp:
        for name in MODELS:
            for suffix in (".json", ".npz"):
                shutil.copy(REPO_ROOT / "weights" / f"{name}{suffix}", Path(tmp))
            started, used = time.perf_counter(), time.process_time()
            build_units_file(Path(tmp) / f"{name}.json", threads=threads)
            seconds[name] = round(time.perf_counter() - started, 2)
            cpu[name] = round(time.process_time() - used, 2)
    return seconds, cpu


def on_demand() -> dict[str, dict[str, float]]:
    """Seconds for one ideal input computed on request (unit 0: both ascents, as
    app/units_service.py runs them), per model and layer."""
    out: dict[str, dict[str, float]] = {}
    split = load_test_set()
    with single_threaded_blas():  # as the server runs it (CNNVIS_BLAS_THREADS=1)
        for name in MODELS:
            net = load_checked(name)[0]
            units = load_units(units_path(REPO_ROOT / "weights" / f"{name}.json"), net)
            out[name] = {}
            for layer in unit_layers(net):
                started = time.perf_counter()
                best = as_input(net, split.images[units[f"{layer}.top_index"][[0], 0]])
                ideal_from(net, units, layer, np.array([0]), best)
                out[name][layer] = round(time.perf_counter() - started, 3)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def layer_requests() -> list[dict]:
    """Every layer of every shipped model, asked twice of a real server."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.3)
        with httpx.Client(base_url=url, timeout=60) as client:
            for name in MODELS:
                layers = [layer["name"] for layer in client.get(f"/api/models/{name}").json()
                          ["layers"] if layer["role"] in ("weighted", "pooling")]
                for layer in layers:
                    times = []
                    for _ in range(2):
                        started = time.perf_counter()
                        r = client.get(f"/api/models/{name}/units/{layer}")
                        times.append((time.perf_counter() - started) * 1000)
                        assert r.status_code == 200, r.text
                    rows.append({"model": name, "layer": layer, "first_ms": round(times[0], 1),
                                 "cached_ms": round(times[1], 1),
                                 "kb": round(len(r.content) / 1024, 1)})
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=min(2, available_cores()))
    args = parser.parse_args()
    load_start = os.getloadavg()[0]
    files, cpu = make_files(args.threads)
    demand = on_demand()
    rows = layer_requests()
    result = {
        "machine": {"cores": available_cores(), "threads": args.threads,
                    "python": platform.python_version(), "numpy": np.__version__,
                    "load_average_start": round(load_start, 2),
                    "load_average_end": round(os.getloadavg()[0], 2)},
        "limits": LIMITS,
        "files_seconds": files, "files_total_seconds": round(sum(files.values()), 2),
        "files_cpu_seconds": cpu, "files_total_cpu_seconds": round(sum(cpu.values()), 2),
        "on_demand_seconds": demand,
        "on_demand_median_seconds": round(statistics.median(
            v for per in demand.values() for v in per.values()), 3),
        "layers": rows,
        "layer_first_ms_max": max(r["first_ms"] for r in rows),
        "layer_cached_ms_max": max(r["cached_ms"] for r in rows),
        "layer_kb_max": max(r["kb"] for r in rows),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "units.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "units.md").write_text(markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# What a unit means: making the units files, and a layer's answer",
        "",
        f"Machine: {m['cores']} cores, {m['threads']} threads; load average "
        f"{m['load_average_start']} at the start, {m['load_average_end']} at the end "
        "(other sessions share the cores: figures under load are upper bounds).",
        "",
        f"All four units files: **{r['files_total_seconds']} s** (limit "
        f"{r['limits']['files_s']:.0f} s): " + ", ".join(
            f"{k} {v} s" for k, v in r["files_seconds"].items()) + f"; CPU time "
        f"{r['files_total_cpu_seconds']} s (" + ", ".join(
            f"{k} {v} s" for k, v in r["files_cpu_seconds"].items()) + f"), i.e. at least "
        f"{r['files_total_cpu_seconds'] / m['threads']:.1f} s of wall clock on {m['threads']} "
        "idle cores.",
        "",
        f"One ideal input computed on demand: median {r['on_demand_median_seconds']} s over "
        "every layer of the four models; per model, the slowest layer: " + ", ".join(
            f"{k} {max(v.values())} s" for k, v in r["on_demand_seconds"].items()) + ".",
        "",
        f"GET /api/models/{{name}}/units/{{layer}}, every layer: first request at most "
        f"{r['layer_first_ms_max']} ms, repeated (answer cache) at most "
        f"{r['layer_cached_ms_max']} ms, at most {r['layer_kb_max']} KB (limits "
        f"{r['limits']['layer_ms']:.0f} ms, {r['limits']['layer_kb']:.0f} KB).",
        "",
        "| model | layer | first ms | cached ms | KB |",
        "|---|---|---:|---:|---:|",
        *(f"| {x['model']} | {x['layer']} | {x['first_ms']} | {x['cached_ms']} | {x['kb']} |"
          for x in r["layers"]),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
