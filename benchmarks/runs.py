"""Training runs from the server (issue 15): what streaming costs against ``cnnvis train`` on the
same config, how late progress events arrive, and predict / ``/healthz`` latency while a run
trains. Writes benchmarks/results/runs.json and runs.md.

    python benchmarks/runs.py [--train-size 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from model.data import REPO_ROOT
from model.runtime import available_cores

RESULTS = REPO_ROOT / "benchmarks" / "results"
PIXELS = [[1.0 if 4 <= r <= 23 and 13 <= c <= 15 else 0.0 for c in range(28)] for r in range(28)]
THREADS = 1  # the server's default CNNVIS_RUN_THREADS
BLAS = {"OPENBLAS_NUM_THREADS": str(THREADS), "OMP_NUM_THREADS": str(THREADS)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``cnnvis serve`` (shipped weights, training on) in a temporary runs directory."""

    def __init__(self, runs_dir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "CNNVIS_RUNS_DIR": str(runs_dir), "CNNVIS_MAX_RUNS": "1",
               "CNNVIS_RUN_THREADS": str(THREADS)}
        self.proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port",
                                      str(self.port)], cwd=REPO_ROOT, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise SystemExit("the server exited")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server never became ready")
            time.sleep(0.2)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def cli_epoch_seconds(config: dict, out: Path) -> float:
    """``cnnvis train`` on the same config (no streaming): the epoch's training seconds."""
    command = ["cnnvis", "train", "--arch", config["arch"], "--epochs", "1", "--train-size",
               str(config["train_size"]), "--threads", str(THREADS), "--seed", "0",
               "--name", "bench", "--out-dir", str(out), "--quiet"]
    subprocess.run([sys.executable, "-m", "app.cli", *command[1:]], cwd=REPO_ROOT, check=True,
                   env={**os.environ, **BLAS}, stdout=subprocess.DEVNULL)
    return json.loads((out / "bench.json").read_text())["history"][0]["seconds"]


def streamed_run(server: Server, config: dict, runs_dir: Path) -> dict:
    """One run through the API, followed over SSE as a browser's EventSource does (reconnecting
    with Last-Event-ID after the stream's ``retry`` delay): its epoch seconds, how late each
    step's first progress event arrives, the gaps between progress events as they arrive (from
    the first to the final event) and the snapshots' pace while the weights change."""
    run = httpx.post(server.url + "/api/runs", json=config, timeout=10).json()
    latencies, gaps, sent_gaps, snap_times = [], [], [], []
    last = last_sent = None
    reported = -1
    event, seq, retry, ended = None, None, 0.0, False
    while not ended:  # the server ends a stream every 15 s: resume it as EventSource would
        headers = {"Last-Event-ID": seq} if seq else {}
        if seq:
            time.sleep(retry)
        with httpx.stream("GET", f"{server.url}/api/runs/{run['id']}/events", headers=headers,
                          timeout=600) as s:
            for line in s.iter_lines():
                if line.startswith("retry: "):
                    retry = int(line[7:]) / 1000
                elif line.startswith("id: "):
                    seq = line[4:]
                elif line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    now = time.time()
                    if event in ("progress", "done", "failed", "cancelled") and last is not None:
                        gaps.append((now - last) * 1000)
                    if event == "progress":
                        if data["step"] > reported:  # the first event to report this step
                            latencies.append((now - data["time"]) * 1000)
                            reported = data["step"]
                        if last_sent is not None:
                            sent_gaps.append((data["sent"] - last_sent) * 1000)
                        last, last_sent = now, data["sent"]
                    elif event == "snapshot":
                        snap_times.append(now)
                    elif event in ("done", "failed", "cancelled"):
                        assert event == "done", data
                        ended = True
                        break
    manifest = runs_dir / run["id"] / "model" / f"run-{run['id']}.json"
    seconds = json.loads(manifest.read_text())["history"][0]["seconds"]
    # the child's own account: time inside the progress hook against the training time
    log = (runs_dir / run["id"] / "worker.log").read_text()
    hook, training = map(float, re.search(r"streaming: ([\d.]+) s in the progress hook; "
                                          r"training ([\d.]+) s", log).groups())
    # step 0's snapshot to the last step's: the weights change all along (one epoch)
    span = snap_times[-1] - snap_times[0]
    return {"seconds": seconds, "latency_ms": latencies, "gaps_ms": gaps,
            "sent_gaps_ms": sent_gaps, "snapshots": len(snap_times),
            "snapshots_per_second": (len(snap_times) - 1) / span if span > 0 else 0.0,
            "snapshot_gap_max_ms": max(np.diff(snap_times)) * 1000 if span > 0 else 0.0,
            "id": run["id"], "hook_percent": 100 * hook / training}


def probe(url: str, path: str, body: dict | None, stop: threading.Event) -> list[float]:
    """Sequential requests until ``stop``: their latencies in ms."""
    times = []
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.is_set():
            t0 = time.perf_counter()
            answer = client.post(path, json=body) if body else client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
            assert answer.status_code == 200, answer.text
            time.sleep(0.01)
    return times


def probed(url: str, work) -> tuple[object, dict]:
    """Run ``work()`` while one client predicts and one asks /healthz: (result, p50/p99)."""
    stop = threading.Event()
    found: dict[str, list[float]] = {}

    def keep(name, path, body):
        found[name] = probe(url, path, body, stop)

    threads = [threading.Thread(target=keep, args=("predict", "/api/predict", {"pixels": PIXELS})),
               threading.Thread(target=keep, args=("healthz", "/healthz", None))]
    for t in threads:
        t.start()
    try:
        result = work()
    finally:
        stop.set()
        for t in threads:
            t.join()
    return result, {name: {"count": len(v), "p50_ms": round(float(np.percentile(v, 50)), 2),
                           "p99_ms": round(float(np.percentile(v, 99)), 2)}
                    for name, v in found.items()}


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1)


def disk_cost(runs_dir: Path, run_id: str) -> dict:
    folder = runs_dir / run_id
    def size(paths) -> int:
        return sum(p.stat().st_size for p in paths if p.is_file())
    return {"snapshots_bytes": size((folder / "snapshots").iterdir()),
            "snapshot_files": len(list((folder / "snapshots").iterdir())),
            "model_bytes": size((folder / "model").iterdir()),
            "total_bytes": size(folder.rglob("*"))}


def main() -> None:
    # a polite kill still stops the server (and through it any training child)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", default="simple_convnet")
    parser.add_argument("--train-size", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config = {"arch": args.arch, "epochs": 1, "train_size": args.train_size, "seed": 0}
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="cnnvis-bench-runs-") as tmp:
        runs_dir = Path(tmp) / "runs"
        server = Server(runs_dir)
        try:
            cli, api, latencies, gaps, sent_gaps, hooks, rates, snap_gaps = ([] for _ in range(8))
            last = None
            for i in range(args.rounds):  # interleaved, so drift in the machine hits both
                cli.append(cli_epoch_seconds(config, Path(tmp) / f"cli{i}"))
                run = streamed_run(server, config, runs_dir)
                api.append(run["seconds"])
                latencies += run["latency_ms"]
                gaps += run["gaps_ms"]
                sent_gaps += run["sent_gaps_ms"]
                hooks.append(run["hook_percent"])
                rates.append(run["snapshots_per_second"])
                snap_gaps.append(run["snapshot_gap_max_ms"])
                last = run
                print(f"round {i + 1}: cnnvis train {cli[-1]:.2f} s, run {api[-1]:.2f} s, "
                      f"hook {hooks[-1]:.2f} %, progress gap max {max(run['gaps_ms']):.0f} ms, "
                      f"{rates[-1]:.2f} snapshots/s", flush=True)
            # serving, measured apart: the probes' own work would slow the training above
            _, quiet = probed(server.url, lambda: time.sleep(10))
            _, during = probed(server.url, lambda: streamed_run(server, config, runs_dir))
            print(f"predict p99 quiet {quiet['predict']['p99_ms']} ms, while training "
                  f"{during['predict']['p99_ms']} ms", flush=True)
            disk = disk_cost(runs_dir, last["id"])
        finally:
            server.close()
    cli_s, api_s = statistics.median(cli), statistics.median(api)
    result = {
        "config": {**config, "threads": THREADS, "rounds": args.rounds},
        "machine": {"cores": available_cores(), "python": platform.python_version(),
                    "numpy": np.__version__, "load_average_start": round(load_start, 2),
                    "load_average_end": round(os.getloadavg()[0], 2)},
        "throughput": {"cli_epoch_seconds": cli, "run_epoch_seconds": api,
                       "cli_images_per_second": round(args.train_size / cli_s, 1),
                       "run_images_per_second": round(args.train_size / api_s, 1),
                       "streaming_cost_percent": round((api_s / cli_s - 1) * 100, 2),
                       "hook_percent": [round(h, 2) for h in hooks],
                       "hook_percent_median": round(statistics.median(hooks), 2)},
        "progress_events": {"count": len(latencies), "latency_p50_ms": pct(latencies, 50),
                            "latency_p99_ms": pct(latencies, 99),
                            "latency_max_ms": round(max(latencies), 1),
                            "gap_p50_ms": pct(gaps, 50), "gap_p99_ms": pct(gaps, 99),
                            "gap_max_ms": round(max(gaps), 1),
                            "sent_gap_p99_ms": pct(sent_gaps, 99),
                            "sent_gap_max_ms": round(max(sent_gaps), 1)},
        "snapshots": {"last_run": last["snapshots"],
                      "per_second": [round(r, 2) for r in rates],
                      "per_second_min": round(min(rates), 2),
                      "gap_max_ms": [round(g, 1) for g in snap_gaps]},
        "serving_quiet": quiet,
        "serving_while_training": during,
        "disk_per_run": disk,
        "command": "python benchmarks/runs.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "runs.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "runs.md").write_text(markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    t, p, d = r["throughput"], r["progress_events"], r["disk_per_run"]
    sn = r["snapshots"]
    during = r["serving_while_training"]
    c = r["config"]
    lines = [
        f"# Training runs from the server ({c['arch']}, {c['train_size']} images, one epoch, "
        f"{c['threads']} thread, {c['rounds']} interleaved rounds)",
        "",
        f"Machine: {r['machine']['cores']} cores, load average {r['machine']['load_average_start']}"
        f" at the start, {r['machine']['load_average_end']} at the end.",
        "",
        "| measure | result |",
        "|---|---|",
        f"| epoch, `cnnvis train` (median) | {statistics.median(t['cli_epoch_seconds']):.2f} s "
        f"({t['cli_images_per_second']:,.0f} images/s) |",
        f"| epoch, run streamed over SSE (median) | "
        f"{statistics.median(t['run_epoch_seconds']):.2f} s "
        f"({t['run_images_per_second']:,.0f} images/s) |",
        f"| streaming cost, run against `cnnvis train` epochs (medians) | "
        f"{t['streaming_cost_percent']} % |",
        f"| **streaming cost, the child's time in the progress hook / training time** "
        f"(median of {len(t['hook_percent'])}) | **{t['hook_percent_median']} %** |",
        f"| progress event latency (step end → client, each step's first event), p50 / p99 / "
        f"max | {p['latency_p50_ms']} / {p['latency_p99_ms']} / {p['latency_max_ms']} ms "
        f"({p['count']} steps reported) |",
        f"| **time between progress events at the client** (the last one to the final event "
        f"included), p50 / p99 / max | {p['gap_p50_ms']} / {p['gap_p99_ms']} / "
        f"**{p['gap_max_ms']} ms** |",
        f"| time between progress events as sent by the child, p99 / max | "
        f"{p['sent_gap_p99_ms']} / {p['sent_gap_max_ms']} ms |",
        f"| **snapshot events per second** while the weights change (each run; least) | "
        f"{', '.join(str(x) for x in sn['per_second'])} (**{sn['per_second_min']}**) |",
        f"| longest time between snapshot events (each run) | "
        f"{', '.join(f'{g:.0f}' for g in sn['gap_max_ms'])} ms |",
        f"| snapshot events in the last run | {sn['last_run']} |",
        f"| predict p50 / p99, quiet | {r['serving_quiet']['predict']['p50_ms']} / "
        f"{r['serving_quiet']['predict']['p99_ms']} ms |",
        f"| predict p50 / p99, while a run trains | {during['predict']['p50_ms']} / "
        f"{during['predict']['p99_ms']} ms |",
        f"| `/healthz` p50 / p99, quiet / while a run trains | "
        f"{r['serving_quiet']['healthz']['p50_ms']} / {r['serving_quiet']['healthz']['p99_ms']}"
        f" / {during['healthz']['p50_ms']} / {during['healthz']['p99_ms']} ms |",
        f"| disk per run: {d['snapshot_files']} float16 snapshots + model | "
        f"{d['snapshots_bytes'] / 1e6:.1f} MB + {d['model_bytes'] / 1e6:.1f} MB = "
        f"{d['total_bytes'] / 1e6:.1f} MB |",
        *frame_rows(),
        "",
    ]
    return "\n".join(lines)


def frame_rows() -> list[str]:
    """The Train view's 3D view while a run trains, from the latest
    ``benchmarks/frame_time.py --training --name frame_time_training`` (a browser benchmark)."""
    path = RESULTS / "frame_time_training.json"
    if not path.exists():
        return []
    t = json.loads(path.read_text()).get("training")
    if not t:
        return []
    busy, quiet = t["orbit_while_training"], t["orbit_after_stop"]
    return [f"| Train view's 3D view orbited in headless Chromium (SwiftShader), fps while a run "
            f"trains / after it stopped (frame_time_training.md, load average "
            f"{t['load_average']}) | {busy['fps']} / {quiet['fps']} (p95 {busy['p95_ms']} / "
            f"{quiet['p95_ms']} ms) |"]


if __name__ == "__main__":
    main()
