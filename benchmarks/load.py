"""HTTP load, overload, soak and disconnect runs against the cnnvis service on loopback: closed-loop
clients as wrk/hey run them, open-loop arrivals for overload (so the offered rate does not fall
when the server slows down), memory and open files read from /proc. The server is started here
as a ``cnnvis serve`` subprocess; every loop is bounded in count and time.

Usage: cnnvis bench load [--short] [--only steady,overload,...] [--out DIR]
       (or python benchmarks/load.py ...)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import platform
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from app.metrics import RENDER_MAX_AGE
from model.data import REPO_ROOT, load_sample

HOST = "127.0.0.1"  # loopback only
JSON = {"Content-Type": "application/json"}
# The page's traffic: drawings as PNG data URLs to predict and to activations, and programs
# sending ready 28×28 pixels.
KINDS = {"predict_image": "/api/predict", "predict_pixels": "/api/predict",
         "activations_image": "/api/activations", "healthz": "/healthz"}
MIX = (("predict_image", 0.4), ("predict_pixels", 0.3), ("activations_image", 0.3))
MAX_OUTSTANDING = 5000  # open-loop safety valve: the client never holds more requests than this
OVERLOAD_CONNECTIONS = 256
READY_WITHIN_S = 120
SCENARIOS = ("steady", "ratio", "activations", "overload", "soak", "disconnect", "workers")

FULL = {"steady_clients": 50, "steady_s": 60.0, "ratio_clients": 8, "ratio_s": 5.0,
        "ratio_rounds": 3, "activations_n": 300, "capacity_s": 5.0, "overload_factor": 4.0,
        "overload_s": 20.0, "soak_requests": 20_000, "soak_clients": 16, "soak_max_s": 900.0,
        "disconnect_n": 600, "disconnect_s": 10.0, "workers_clients": 50, "workers_s": 20.0}
SHORT = {"steady_clients": 20, "steady_s": 3.0, "ratio_clients": 4, "ratio_s": 0.5,
         "ratio_rounds": 1, "activations_n": 10, "capacity_s": 1.0, "overload_factor": 4.0,
         "overload_s": 2.0, "soak_requests": 0, "soak_clients": 8, "soak_max_s": 60.0,
         "disconnect_n": 60, "disconnect_s": 1.5, "workers_clients": 20, "workers_s": 0.0}


# ----- request bodies --------------------------------------------------------------------------
def drawing_url(digit: np.ndarray) -> str:
    """A sample digit as the page's canvas would send it: 280×280, dark ink on white, PNG."""
    ink = Image.fromarray(digit).resize((280, 280), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    Image.fromarray(255 - np.asarray(ink)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def make_bodies(count: int = 20) -> dict[str, list[bytes]]:
    sample = load_sample()
    images = sample["images"][:count]
    urls = [drawing_url(d) for d in images]
    pixels = [np.round(d / 255.0, 3).tolist() for d in images]
    return {"predict_image": [json.dumps({"image": u}).encode() for u in urls],
            "predict_pixels": [json.dumps({"pixels": p}).encode() for p in pixels],
            "activations_image": [json.dumps({"image": u}).encode() for u in urls],
            "healthz": [b""]}


BODIES = make_bodies()


# ----- the server ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (uvicorn's supervisor, workers, their helpers)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def usage(pids: list[int]) -> dict[str, float]:
    """Resident memory (MB), open files and CPU seconds summed over ``pids``, from /proc."""
    rss = fds = cpu = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            rss += next(int(line.split()[1]) for line in status.splitlines()
                        if line.startswith("VmRSS:")) / 1024.0
            fds += len(os.listdir(f"/proc/{pid}/fd"))
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, StopIteration):
            continue
    return {"rss_mb": round(rss, 2), "open_files": int(fds), "cpu_s": round(cpu, 2)}


class Server:
    """``cnnvis serve`` on a free loopback port, ready when entered, stopped when left."""

    def __init__(self, workers: int = 1, env: dict[str, str] | None = None):
        self.workers = workers
        self.env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        self.env.update(env or {})
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.TemporaryFile()

    def __enter__(self) -> "Server":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", HOST, "--port", str(self.port),
             "--workers", str(self.workers)],
            cwd=REPO_ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + READY_WITHIN_S
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"the server exited: {self.log.read()[-2000:].decode()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"the server was not ready within {READY_WITHIN_S} s")
            time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def usage(self) -> dict[str, float]:
        return usage(process_tree(self.proc.pid))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def metrics(self) -> dict[str, float]:
        """The server's own counters: ``{"name{label=value,...}": value}``, fresh: scrapes within
        ``RENDER_MAX_AGE`` share one rendering, so wait that long after the last one."""
        time.sleep(RENDER_MAX_AGE + 0.05)
        text = httpx.get(self.url + "/metrics", timeout=10).text
        out = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
        return out


# ----- recording -------------------------------------------------------------------------------
@dataclass
class Tally:
    """Every answer: latency by kind and status, transport errors by type."""

    started: float = field(default_factory=time.perf_counter)
    finished: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    refused: list[float] = field(default_factory=list)
    refused_without_retry_after: int = 0

    def add(self, kind: str, status: int, headers: dict, seconds: float) -> None:
        self.statuses[(kind, status)] += 1
        if status == 503:
            self.refused.append(seconds)
            if "retry-after" not in headers:
                self.refused_without_retry_after += 1
        elif status < 300:
            self.latencies[kind].append(seconds)

    def summary(self) -> dict:
        elapsed = (self.finished or time.perf_counter()) - self.started
        ok = sum(len(v) for v in self.latencies.values())
        total = sum(self.statuses.values()) + sum(self.errors.values())
        by_status = Counter()
        for (_, status), n in self.statuses.items():
            by_status[status] += n
        out = {"seconds": round(elapsed, 2), "requests": total, "ok": ok,
               "throughput_rps": round(ok / elapsed, 1) if elapsed > 0 else 0.0,
               "statuses": {str(k): v for k, v in sorted(by_status.items())},
               "server_errors_5xx": sum(n for s, n in by_status.items() if s >= 500 and s != 503),
               "refused_503": by_status.get(503, 0),
               "connection_errors": dict(self.errors),
               "latency_ms": percentiles([x for v in self.latencies.values() for x in v]),
               "by_kind": {kind: {"ok": len(v), "latency_ms": percentiles(v)}
                           for kind, v in sorted(self.latencies.items())}}
        if self.refused:
            out["refused_latency_ms"] = percentiles(self.refused)
            out["refused_share"] = round(len(self.refused) / max(1, total), 4)
            out["refused_without_retry_after"] = self.refused_without_retry_after
        return out


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ms = np.asarray(values) * 1000.0
    return {"p50": round(float(np.percentile(ms, 50)), 2),
            "p90": round(float(np.percentile(ms, 90)), 2),
            "p99": round(float(np.percentile(ms, 99)), 2), "max": round(float(ms.max()), 2)}


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just what this harness needs. A client in a
    few lines of asyncio instead of httpx: httpx spends about half a millisecond of CPU per
    request, which on a 2-core machine is taken from the server being measured."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, dict, int]:
        """``(status, headers, body length)``; reconnects when the server closed."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
        if method == "POST":
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            self.close()
            raise ConnectionResetError("the server closed the connection") from None
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        await self.reader.readexactly(length)
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, length

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class Pool:
    """``size`` connections, opened before the clock starts; a request waits for a free one
    (and that wait counts in its latency)."""

    def __init__(self, port: int, size: int):
        self.connections = [Connection(port) for _ in range(size)]
        self.free: asyncio.Queue[Connection] = asyncio.Queue()

    async def __aenter__(self) -> "Pool":
        for c in self.connections:
            c.reader, c.writer = await asyncio.open_connection(HOST, c.port)
            self.free.put_nowait(c)
        return self

    async def __aexit__(self, *exc) -> None:
        for c in self.connections:
            c.close()

    async def send(self, kind: str, tally: Tally, rng: random.Random,
                   since: float | None = None) -> None:
        """One request of ``kind``; latency from ``since`` (its due time) or from now."""
        started = time.perf_counter() if since is None else since
        connection = await self.free.get()
        try:
            if kind == "healthz":
                status, headers, _ = await connection.request("GET", KINDS[kind])
            else:
                status, headers, _ = await connection.request("POST", KINDS[kind],
                                                              rng.choice(BODIES[kind]))
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            connection.close()
            tally.errors[type(exc).__name__] += 1
            return
        finally:
            self.free.put_nowait(connection)
        tally.add(kind, status, headers, time.perf_counter() - started)


def pick(rng: random.Random, mix=MIX) -> str:
    return rng.choices([k for k, _ in mix], [w for _, w in mix])[0]


def client(url: str, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(30.0),
                             limits=httpx.Limits(max_connections=connections,
                                                 max_keepalive_connections=connections))


async def closed_loop(port: int, clients: int, seconds: float, mix=MIX, seed: int = 0,
                      max_requests: int | None = None, on_progress=None) -> Tally:
    """``clients`` tasks on a connection each, sending the next request as soon as the last is
    answered, for ``seconds`` (or until ``max_requests`` answers)."""
    loop = asyncio.get_running_loop()
    sent = 0
    async with Pool(port, clients) as pool:
        tally = Tally()
        deadline = loop.time() + seconds

        async def worker(i: int) -> None:
            nonlocal sent
            rng = random.Random(seed * 1000 + i)
            while loop.time() < deadline and (max_requests is None or sent < max_requests):
                sent += 1
                await pool.send(pick(rng, mix), tally, rng)
                if on_progress is not None:
                    on_progress(sent)

        await asyncio.gather(*(worker(i) for i in range(clients)))
        tally.finished = time.perf_counter()
    return tally


async def open_loop(port: int, rate: float, seconds: float, kind: str,
                    connections: int) -> tuple[Tally, dict]:
    """Requests due at a fixed rate whatever the answers (open loop, as wrk2 does it: latency
    counts from the due time, so a slow server cannot hide its backlog), for ``seconds``."""
    loop = asyncio.get_running_loop()
    rng = random.Random(7)
    tasks: set[asyncio.Task] = set()
    skipped = started = 0
    async with Pool(port, connections) as pool:
        tally = Tally()
        begin, clock = loop.time(), time.perf_counter()
        while True:
            offset = started / rate
            if offset >= seconds:
                break
            if begin + offset > loop.time():
                await asyncio.sleep(begin + offset - loop.time())
            started += 1
            if len(tasks) >= MAX_OUTSTANDING:
                skipped += 1
                continue
            task = asyncio.ensure_future(pool.send(kind, tally, rng, since=clock + offset))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        sending = loop.time() - begin
        await asyncio.gather(*tasks)
        tally.finished = time.perf_counter()
    return tally, {"offered_rps": round(rate, 1),
                   "sent_rps": round((started - skipped) / sending, 1),
                   "skipped_by_client": skipped, "connections": connections}


async def probe_health(port: int, stop: asyncio.Event, every: float = 0.1) -> list[float]:
    """GET /healthz on a connection of its own every ``every`` seconds until ``stop``."""
    latencies = []
    connection = Connection(port)
    while not stop.is_set():
        started = time.perf_counter()
        try:
            status, _, _ = await connection.request("GET", "/healthz")
            latencies.append(time.perf_counter() - started if status == 200 else float("inf"))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            connection.close()
            latencies.append(float("inf"))
        try:
            await asyncio.wait_for(stop.wait(), every)
        except asyncio.TimeoutError:
            pass
    connection.close()
    return latencies


async def with_health_probe(port: int, work) -> tuple[object, dict]:
    stop = asyncio.Event()
    probe = asyncio.ensure_future(probe_health(port, stop))
    try:
        result = await work
    finally:
        stop.set()
    latencies = await probe
    failed = sum(1 for x in latencies if x == float("inf"))
    return result, {"probes": len(latencies), "failed": failed,
                    "latency_ms": percentiles([x for x in latencies if x != float("inf")])}


# ----- scenarios -------------------------------------------------------------------------------
async def steady(server: Server, plan: dict) -> dict:
    """Mixed page traffic from a fixed number of closed-loop clients."""
    before = server.usage()
    tally, health = await with_health_probe(
        server.port, closed_loop(server.port, plan["steady_clients"], plan["steady_s"]))
    after = server.usage()
    return {"clients": plan["steady_clients"], "mix": dict(MIX), **tally.summary(),
            "healthz_meanwhile": health,
            "server_cpu_s": round(after["cpu_s"] - before["cpu_s"], 2)}


async def ratio(server: Server, plan: dict) -> dict:
    """Issue 7: predict against a trivial JSON endpoint of the same app, same client, same
    concurrency, interleaved rounds; medians over the rounds."""
    rounds = defaultdict(list)
    cpu_per_request = defaultdict(list)  # server CPU seconds (all its threads) per answer
    for r in range(plan["ratio_rounds"]):
        for kind in ("healthz", "predict_pixels", "predict_image"):
            cpu_before = server.usage()["cpu_s"]
            tally = await closed_loop(server.port, plan["ratio_clients"], plan["ratio_s"],
                                      mix=((kind, 1.0),), seed=r)
            summary = tally.summary()
            rounds[kind].append(summary)
            cpu_per_request[kind].append((server.usage()["cpu_s"] - cpu_before)
                                         / max(1, summary["ok"]))
    out = {"clients": plan["ratio_clients"], "seconds_per_round": plan["ratio_s"],
           "rounds": plan["ratio_rounds"]}
    for kind, runs in rounds.items():
        out[kind] = {"throughput_rps": statistics.median(s["throughput_rps"] for s in runs),
                     "p50_ms": statistics.median(s["latency_ms"].get("p50", 0) for s in runs),
                     "p99_ms": statistics.median(s["latency_ms"].get("p99", 0) for s in runs),
                     "errors": sum(s["server_errors_5xx"] + sum(s["connection_errors"].values())
                                   + s["refused_503"] for s in runs),
                     "server_cpu_us_per_request": round(
                         statistics.median(cpu_per_request[kind]) * 1e6)}
    base = out["healthz"]["throughput_rps"] or 1.0
    out["predict_pixels_vs_healthz"] = round(out["predict_pixels"]["throughput_rps"] / base, 3)
    out["predict_image_vs_healthz"] = round(out["predict_image"]["throughput_rps"] / base, 3)
    return out


async def activations(server: Server, plan: dict) -> dict:
    """Issue 7: /api/activations for SimpleConvNet, one request at a time: answer size and the
    server's time, two ways: the answer's ``timing_ms.total`` (decoding, preprocessing, forward
    pass, quantising the maps) and the mean time the request held its inference slot (all of
    that plus validating and serialising the answer, from the server's metrics)."""
    out = {}
    slot = "cnnvis_inference_seconds_{}{{route=/api/activations}}"
    for kind, body in (("pixels", BODIES["predict_pixels"]), ("image", BODIES["predict_image"])):
        sizes, server_ms, client_ms = [], [], []
        before = server.metrics()
        async with client(server.url, 1) as http:
            for i in range(plan["activations_n"]):
                started = time.perf_counter()
                r = await http.post("/api/activations", content=body[i % len(body)],
                                    headers=JSON)
                client_ms.append(time.perf_counter() - started)
                r.raise_for_status()
                sizes.append(len(r.content))
                server_ms.append(r.json()["timing_ms"]["total"])
        after = server.metrics()
        held = ((after[slot.format("sum")] - before.get(slot.format("sum"), 0.0))
                / (after[slot.format("count")] - before.get(slot.format("count"), 0.0)))
        out[kind] = {"requests": plan["activations_n"], "response_bytes_max": max(sizes),
                     "slot_ms_mean": round(1000.0 * held, 3),
                     "response_bytes_median": int(statistics.median(sizes)),
                     "server_ms_p50": round(float(np.percentile(server_ms, 50)), 3),
                     "server_ms_p99": round(float(np.percentile(server_ms, 99)), 3),
                     "client_ms": percentiles(client_ms)}
    return out


async def overload(server: Server, plan: dict) -> dict:
    """Capacity first (closed loop, predict with drawings), then arrivals at ``factor`` times
    that rate: the excess must be refused with 503 + Retry-After, fast, and nothing else."""
    capacity = (await closed_loop(server.port, 8, plan["capacity_s"],
                                  mix=(("predict_image", 1.0),), seed=3)).summary()
    rate = plan["overload_factor"] * max(capacity["throughput_rps"], 1.0)
    before = server.metrics()
    (tally, schedule), health = await with_health_probe(
        server.port, open_loop(server.port, rate, plan["overload_s"], "predict_image",
                               OVERLOAD_CONNECTIONS))
    after = server.metrics()
    rejected = {k.split("reason=")[1].rstrip("}"): after[k] - before.get(k, 0.0)
                for k in after if k.startswith("cnnvis_inference_rejected_total{")}
    return {"capacity_rps": capacity["throughput_rps"], "factor": plan["overload_factor"],
            **schedule, **tally.summary(), "server_rejections": rejected,
            "healthz_meanwhile": health}


async def soak(server: Server, plan: dict) -> dict:
    """Many requests, server memory and open files sampled throughout: drift after warm-up."""
    total = plan["soak_requests"]
    samples = []
    done = [0]

    async def sampler(stop: asyncio.Event) -> None:
        while not stop.is_set():
            samples.append({"requests": done[0], **server.usage()})
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass
        samples.append({"requests": done[0], **server.usage()})

    stop = asyncio.Event()
    watcher = asyncio.ensure_future(sampler(stop))
    tally = await closed_loop(server.port, plan["soak_clients"], plan["soak_max_s"],
                              max_requests=total, seed=11,
                              on_progress=lambda n: done.__setitem__(0, n))
    stop.set()
    await watcher
    warm = [s for s in samples if 0.1 * total <= s["requests"] <= 0.2 * total]
    last = [s for s in samples if s["requests"] >= 0.9 * total]
    base_rss = statistics.mean(s["rss_mb"] for s in warm)
    end_rss = statistics.mean(s["rss_mb"] for s in last)
    return {"clients": plan["soak_clients"], **tally.summary(),
            "rss_mb_after_warmup": round(base_rss, 2), "rss_mb_at_end": round(end_rss, 2),
            "rss_drift_percent": round(100.0 * (end_rss - base_rss) / base_rss, 2),
            "rss_mb_max": max(s["rss_mb"] for s in samples),
            "open_files_after_warmup": warm[0]["open_files"],
            "open_files_at_end": samples[-1]["open_files"],
            "samples": [[s["requests"], s["rss_mb"], s["open_files"]] for s in samples]}


async def abandon(port: int, kind: str, how: str, rng: random.Random) -> None:
    """One client that goes away mid-request, by raw socket: after the headers, halfway through
    the body, or after the whole request (at once or a few milliseconds later, before the
    answer), sometimes with a TCP reset instead of a close."""
    body = rng.choice(BODIES[kind])
    head = (f"POST {KINDS[kind]} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError:
        return
    try:
        if how == "headers":
            writer.write(head)
        elif how == "half_body":
            writer.write(head + body[:len(body) // 2])
        else:
            writer.write(head + body)
        await writer.drain()
        if how == "wait":
            await asyncio.sleep(rng.uniform(0.0, 0.02))
    except OSError:
        pass
    finally:
        if rng.random() < 0.5:
            writer.transport.abort()  # RST
        else:
            writer.close()


async def disconnect(server: Server, plan: dict) -> dict:
    """Clients leaving mid-request in bursts, while well-behaved clients keep going: those must
    see no error; afterwards no slot, waiter or file may be left behind."""
    await asyncio.sleep(0.5)
    before = server.usage()
    metrics_before = server.metrics()
    rng = random.Random(5)
    ways = ("headers", "half_body", "full", "wait")
    n = plan["disconnect_n"]

    async def bursts() -> None:
        per_burst = max(1, n // 6)
        for _ in range(0, n, per_burst):
            await asyncio.gather(*(abandon(server.port, pick(rng), rng.choice(ways), rng)
                                   for _ in range(per_burst)))
            await asyncio.sleep(plan["disconnect_s"] / 8)

    polite, _ = await asyncio.gather(closed_loop(server.port, 8, plan["disconnect_s"], seed=9),
                                     bursts())
    await asyncio.sleep(1.0)  # let the server finish what the leavers had started
    after = server.usage()
    metrics_after = server.metrics()

    def delta(prefix: str, label: str = "") -> float:
        return sum(v - metrics_before.get(k, 0.0) for k, v in metrics_after.items()
                   if k.startswith(prefix) and label in k)

    return {"abandoned_requests": n, "ways": list(ways), "polite_clients": 8,
            "polite": polite.summary(),
            "server_counted_499": delta("cnnvis_http_requests_total{", "status=499"),
            "left_the_queue": delta("cnnvis_inference_rejected_total{reason=client_left"),
            "in_flight_after": metrics_after.get("cnnvis_inference_in_flight", -1),
            "waiting_after": metrics_after.get("cnnvis_inference_waiting", -1),
            "open_files_before": before["open_files"], "open_files_after": after["open_files"],
            "server_alive": server.alive()}


async def workers(plan: dict) -> dict:
    """The same mixed load on 1 and on 2 uvicorn workers."""
    out = {}
    for n in (1, 2):
        with Server(workers=n) as server:
            tally = await closed_loop(server.port, plan["workers_clients"], plan["workers_s"],
                                      seed=21)
            out[f"{n}_worker{'s' if n > 1 else ''}"] = {
                k: v for k, v in tally.summary().items() if k != "by_kind"}
    return {"clients": plan["workers_clients"], "seconds": plan["workers_s"], **out}


# ----- the run ---------------------------------------------------------------------------------
def environment() -> dict:
    import uvicorn

    training = subprocess.run(["pgrep", "-af", "cnnvis train"], capture_output=True, text=True)
    jobs = [line.split(" ", 1)[1] for line in training.stdout.splitlines()
            if "pgrep" not in line]
    return {"python": platform.python_version(), "numpy": np.__version__,
            "httpx": httpx.__version__, "uvicorn": uvicorn.__version__,
            "cpus": len(os.sched_getaffinity(0)), "load_average": os.getloadavg(),
            "training_jobs_running": jobs,
            "env": {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "CNNVIS_"))}}


async def run(plan: dict, only: list[str]) -> dict:
    result = {"environment": environment(), "plan": plan}
    with Server() as server:
        result["server_start"] = server.usage()
        for name in ("steady", "ratio", "activations", "overload", "soak", "disconnect"):
            if name in only and not (name == "soak" and plan["soak_requests"] <= 0):
                print(f"load: {name}...", file=sys.stderr, flush=True)
                result[name] = await globals()[name](server, plan)
        result["server_end"] = server.usage()
        result["server_alive_at_end"] = server.alive()
    if "workers" in only and plan["workers_s"] > 0:
        print("load: workers...", file=sys.stderr, flush=True)
        result["workers"] = await workers(plan)
    usage_self = resource.getrusage(resource.RUSAGE_SELF)
    result["client_cpu_s"] = round(usage_self.ru_utime + usage_self.ru_stime, 2)
    result["environment"]["load_average_at_end"] = os.getloadavg()
    result["failures"] = failures(result)
    return result


def failures(result: dict) -> list[str]:
    """What must never happen: 5xx, connection errors on well-behaved clients, a 503 without
    Retry-After, a 503 in the steady run, a dead server or a leaked slot."""
    found = []
    for name in ("steady", "overload", "soak"):
        s = result.get(name)
        if s is None:
            continue
        if name != "overload" and s["refused_503"]:
            found.append(f"{name}: {s['refused_503']} refused (503) below capacity")
        if s["server_errors_5xx"]:
            found.append(f"{name}: {s['server_errors_5xx']} server errors (5xx)")
        if s["connection_errors"]:
            found.append(f"{name}: connection errors {s['connection_errors']}")
        if s.get("refused_without_retry_after"):
            found.append(f"{name}: 503 without Retry-After")
    d = result.get("disconnect")
    if d is not None:
        p = d["polite"]
        if p["server_errors_5xx"] or p["connection_errors"]:
            found.append(f"disconnect: polite clients saw {p['server_errors_5xx']} 5xx, "
                         f"{p['connection_errors']}")
        if d["in_flight_after"] != 0 or d["waiting_after"] != 0 or not d["server_alive"]:
            found.append(f"disconnect: left behind in_flight={d['in_flight_after']} "
                         f"waiting={d['waiting_after']} alive={d['server_alive']}")
    if not result.get("server_alive_at_end", True):
        found.append("the server died")
    return found


def markdown(result: dict) -> str:
    env = result["environment"]
    lines = ["# cnnvis under load (loopback)", ""]
    jobs = ["cnnvis train" + (" --arch " + j.split("--arch ")[1].split()[0] if "--arch " in j
                              else "") for j in env["training_jobs_running"]]
    shared = (f"**shared with {len(jobs)} training job(s)** ({', '.join(jobs)})" if jobs
              else "no training job running")
    lines.append(f"{env['cpus']} CPUs for server and client together, {shared}; load average "
                 f"{env['load_average'][0]:.1f} at start, {env['load_average_at_end'][0]:.1f} at "
                 f"end; the client itself used {result['client_cpu_s']} s of CPU.")
    lines.append("")
    s = result.get("steady")
    if s:
        lines += ["## Steady load", "",
                  "| clients | seconds | requests | throughput | p50 | p99 | 503 | 5xx | "
                  "conn. errors |",
                  "|---|---|---|---|---|---|---|---|---|",
                  f"| {s['clients']} | {s['seconds']} | {s['requests']} | {s['throughput_rps']}/s"
                  f" | {s['latency_ms']['p50']} ms | {s['latency_ms']['p99']} ms | "
                  f"{s['refused_503']} | {s['server_errors_5xx']} | "
                  f"{sum(s['connection_errors'].values())} |", "",
                  "| request kind | answered | p50 | p99 |", "|---|---|---|---|"]
        lines += [f"| {k} | {v['ok']} | {v['latency_ms']['p50']} ms | {v['latency_ms']['p99']} ms |"
                  for k, v in s["by_kind"].items()]
        h = s["healthz_meanwhile"]
        lines += ["", f"/healthz meanwhile: {h['probes']} probes, p50 {h['latency_ms'].get('p50')}"
                      f" ms, p99 {h['latency_ms'].get('p99')} ms, {h['failed']} failed.", ""]
    r = result.get("ratio")
    if r:
        lines += ["## Predict against a trivial endpoint (issue 7)", "",
                  f"{r['clients']} closed-loop clients, {r['rounds']} interleaved rounds of "
                  f"{r['seconds_per_round']} s, medians.", "",
                  "| endpoint | throughput | p50 | p99 | server CPU per answer | vs /healthz |",
                  "|---|---|---|---|---|---|"]
        for kind, label in (("healthz", "GET /healthz"),
                            ("predict_pixels", "POST /api/predict (28×28 pixels)"),
                            ("predict_image", "POST /api/predict (PNG data URL)")):
            vs = "1" if kind == "healthz" else r[f"{kind}_vs_healthz"]
            lines.append(f"| {label} | {r[kind]['throughput_rps']}/s | {r[kind]['p50_ms']} ms | "
                         f"{r[kind]['p99_ms']} ms | {r[kind]['server_cpu_us_per_request']} µs | "
                         f"{vs} |")
        lines.append("")
    a = result.get("activations")
    if a:
        lines += ["## /api/activations, simple_convnet (issue 7)", "",
                  "| input | answer bytes | timing_ms.total p50 | p99 | slot held (mean) | "
                  "client p50 |", "|---|---|---|---|---|---|"]
        for kind, v in a.items():
            lines.append(f"| {kind} | {v['response_bytes_max']} | {v['server_ms_p50']} ms | "
                         f"{v['server_ms_p99']} ms | {v['slot_ms_mean']} ms | "
                         f"{v['client_ms']['p50']} ms |")
        lines.append("")
    o = result.get("overload")
    if o:
        lines += ["## Overload", "",
                  f"Capacity {o['capacity_rps']}/s (closed loop, drawings); arrivals offered at "
                  f"{o['factor']}× = {o['offered_rps']}/s (sent {o['sent_rps']}/s) for "
                  f"{o['seconds']} s.", "",
                  "| answered 200 | refused 503 | 503 share | 503 p50 | 503 p99 | 200 p99 | 5xx | "
                  "conn. errors |", "|---|---|---|---|---|---|---|---|",
                  f"| {o['ok']} | {o['refused_503']} | {o.get('refused_share', 0):.1%} | "
                  f"{o.get('refused_latency_ms', {}).get('p50', '-')} ms | "
                  f"{o.get('refused_latency_ms', {}).get('p99', '-')} ms | "
                  f"{o['latency_ms'].get('p99', '-')} ms | {o['server_errors_5xx']} | "
                  f"{sum(o['connection_errors'].values())} |", "",
                  f"Server-side refusals by reason: {o['server_rejections']}; /healthz meanwhile "
                  f"p99 {o['healthz_meanwhile']['latency_ms'].get('p99')} ms.", ""]
    k = result.get("soak")
    if k:
        lines += ["## Soak", "",
                  "| requests | clients | throughput | p99 | RSS after warm-up | RSS at end | "
                  "drift |"
                  " open files | 5xx |", "|---|---|---|---|---|---|---|---|---|",
                  f"| {k['requests']} | {k['clients']} | {k['throughput_rps']}/s | "
                  f"{k['latency_ms']['p99']} ms | {k['rss_mb_after_warmup']} MB | "
                  f"{k['rss_mb_at_end']} MB | {k['rss_drift_percent']} % | "
                  f"{k['open_files_after_warmup']} → {k['open_files_at_end']} | "
                  f"{k['server_errors_5xx']} |", ""]
    d = result.get("disconnect")
    if d:
        p = d["polite"]
        lines += ["## Clients that disconnect mid-request", "",
                  f"{d['abandoned_requests']} requests abandoned ({', '.join(d['ways'])}; half "
                  f"with a TCP reset) while {d['polite_clients']} clients kept going: those got "
                  f"{p['ok']} answers, {p['server_errors_5xx']} 5xx, "
                  f"{sum(p['connection_errors'].values())} connection errors. Server counted "
                  f"{d['server_counted_499']:.0f} requests left unanswered (499), "
                  f"{d['left_the_queue']:.0f} left the queue; afterwards in flight "
                  f"{d['in_flight_after']:.0f}, waiting {d['waiting_after']:.0f}, open files "
                  f"{d['open_files_before']} → {d['open_files_after']}.", ""]
    w = result.get("workers")
    if w:
        lines += ["## 1 vs 2 workers", "", f"{w['clients']} clients, mixed, {w['seconds']} s each.",
                  "", "| workers | throughput | p50 | p99 | 503 | 5xx |",
                  "|---|---|---|---|---|---|"]
        for name in ("1_worker", "2_workers"):
            v = w[name]
            lines.append(f"| {name.split('_')[0]} | {v['throughput_rps']}/s | "
                         f"{v['latency_ms'].get('p50')} ms | {v['latency_ms'].get('p99')} ms | "
                         f"{v['refused_503']} | {v['server_errors_5xx']} |")
        lines.append("")
    lines.append("Failures: " + ("; ".join(result["failures"]) or "none") + ".")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="a ≈10 s version (CI)")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated scenarios out of {', '.join(SCENARIOS)}")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}")
    plan = dict(SHORT if args.short else FULL)
    result = asyncio.run(run(plan, only))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "load_short" if args.short else "load"
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    md = markdown(result)
    (out / f"{stem}.md").write_text(md)
    print(md)
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
