"""A classroom on one server (issue 18): N simulated people drawing digits against a real
``cnnvis serve`` on loopback, replaying the page's own requests at the page's own cadence.

Recording: headless Chromium loads the page on each --record model, draws a few digits with the
mouse (one stroke at a time, about --stroke-s seconds each) and keeps every request the page
makes for each stroke: its body, and the bytes on the wire both ways (headers included, bodies as
sent, i.e. compressed). A PerformanceObserver counts the long tasks (> 50 ms) on the page's main
thread while drawing. This gives the bytes per stroke and the long-task figure.

Replay: each person draws those strokes in turn (a stroke, a pause of --pause-s ± 40 %, the next
one). While a stroke is drawn the page asks /api/activations at most every 150 ms (pad.js), so a
stroke of --stroke-s seconds asks at 0, 150, 300, ... ms with the recorded live bodies in order,
then once more at its end together with every other request the page made then (/api/compare);
as on the page, each endpoint has one request in flight per person and only the newest waiting
body is sent (latest.js). The time from a stroke's end to the answer of its final
/api/activations is the figure: the largest N whose p95 stays within --target-ms with no error
(any status but 200, or a broken connection) is the capacity, found by doubling N and then
bisecting, for each --workers count. The client is one asyncio process speaking plain HTTP/1.1
(keep-alive) so that it costs the server's cores as little as possible; its own CPU is reported.

Usage: cnnvis bench classroom [--model simple_convnet] [--record simple_convnet alexnet ...]
       [--workers 1 2] [--seconds 20] [--max-people 1024] [--short] [--out DIR] [--name NAME]
       (or python benchmarks/classroom.py ...). Run on a quiet machine: the load average at the
start and end of every run is recorded beside its figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from load import Server
from playwright.sync_api import sync_playwright

from model.data import REPO_ROOT

CHROMIUM = os.environ.get("CNNVIS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic",
                 "--no-first-run"]
LIVE_MS = 150  # pad.js DRAW_THROTTLE_MS: the page's live-update interval while drawing
LIVE_PATH = "/api/activations"
PREVIEW_HEADER = "cnnvis-preview"  # app/admission.py: a live preview, served after the rest
LONG_TASK_MS = 50
# A browser's headers for a same-origin fetch of JSON (what Chromium sends, give or take).
HEADERS = ("Accept: */*\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n"
           "Accept-Language: en-US,en;q=0.9\r\nContent-Type: application/json\r\n"
           "Sec-Fetch-Dest: empty\r\nSec-Fetch-Mode: cors\r\nSec-Fetch-Site: same-origin\r\n"
           "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "HeadlessChrome/156.0.0.0 Safari/537.36\r\n")

# Digits as strokes in pad coordinates (0..1), each stroke drawn in one pointer drag.
_ring = [(0.5 + 0.2 * math.sin(t / 24 * 2 * math.pi), 0.5 - 0.3 * math.cos(t / 24 * 2 * math.pi))
         for t in range(25)]
DIGITS = {
    "0": [_ring],
    "1": [[(0.52, 0.18), (0.50, 0.50), (0.48, 0.82)]],
    "7": [[(0.28, 0.22), (0.72, 0.22), (0.56, 0.5), (0.44, 0.82)]],
    "4": [[(0.38, 0.18), (0.3, 0.52), (0.72, 0.52)], [(0.62, 0.3), (0.6, 0.84)]],
    "2": [[(0.3, 0.3), (0.42, 0.2), (0.6, 0.2), (0.68, 0.32), (0.6, 0.5), (0.3, 0.8),
           (0.72, 0.8)]],
}

# The main thread's share of one live request's picture: the canvas's own toDataURL (before
# issue 18) against the read-back that the worker encoder needs (padencoder.js). Medians of 20.
ENCODE_COST = """() => {
  const canvas = document.getElementById('draw-canvas');
  const median = (f) => {
    const t = [];
    for (let i = 0; i < 20; i++) {
      const s = performance.now();
      f();
      t.push(performance.now() - s);
    }
    return t.sort((a, b) => a - b)[10];
  };
  return {
    to_data_url_ms: median(() => canvas.toDataURL('image/png')),
    get_image_data_ms: median(
      () => canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height)),
  };
}"""

LONG_TASKS = """(() => {
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask', buffered: true });
})()"""


# ----- recording in the browser ----------------------------------------------------------------
@dataclass
class Stroke:
    """One stroke's requests: the live /api/activations bodies in order, and what the page asked
    once it ended ({path: body}); bytes on the wire; long tasks while it was drawn."""

    model: str
    live: list[bytes] = field(default_factory=list)
    previews_marked: bool = False  # the page marked its live requests as previews
    final: dict[str, bytes] = field(default_factory=dict)
    sent_bytes: int = 0
    received_bytes: int = 0
    requests: int = 0
    bytes_by_path: dict[str, list[int]] = field(default_factory=dict)
    long_tasks_ms: list[float] = field(default_factory=list)
    drawn_s: float = 0.0


def _path(url: str) -> str:
    return urlsplit(url).path


def draw_stroke(page, points, seconds: float) -> float:
    """Drag the mouse through ``points`` over about ``seconds`` (a move every ~40 ms: the page
    asks every 150 ms whatever the pointer's rate); returns how long it took (longer when the
    page is slow to take the moves)."""
    box = page.locator("#draw-canvas").bounding_box()
    at = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
    moves = max(2, int(seconds / 0.04))
    path = []
    for k in range(moves + 1):  # evenly along the polyline
        s = k / moves * (len(at) - 1)
        i = min(int(s), len(at) - 2)
        f = s - i
        (x0, y0), (x1, y1) = at[i], at[i + 1]
        path.append((x0 + f * (x1 - x0), y0 + f * (y1 - y0)))
    started = time.perf_counter()
    page.mouse.move(*path[0])
    page.mouse.down()
    for k, p in enumerate(path[1:], 1):
        page.mouse.move(*p)
        wait = started + k * seconds / moves - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
    page.mouse.up()
    return time.perf_counter() - started


def keep(stroke: Stroke, requests: list) -> None:
    """Sizes of every request of a stroke; bodies of its POSTs: the last of each path is what
    the page asked once the stroke ended, the /api/activations ones before it are the live ones
    (the page asks nothing else while a stroke is drawn)."""
    marks = []
    for r in requests:
        sizes = r.sizes()
        stroke.requests += 1
        stroke.sent_bytes += sizes["requestHeadersSize"] + sizes["requestBodySize"]
        stroke.received_bytes += sizes["responseHeadersSize"] + sizes["responseBodySize"]
        stroke.bytes_by_path.setdefault(_path(r.url), []).append(
            sum(sizes[k] for k in ("requestHeadersSize", "requestBodySize", "responseHeadersSize",
                                   "responseBodySize")))
        if r.method == "POST" and r.post_data:
            body = r.post_data.encode()
            stroke.final[_path(r.url)] = body
            if _path(r.url) == LIVE_PATH:
                stroke.live.append(body)
                marks.append(r.headers.get(PREVIEW_HEADER) == "1")
    if stroke.live:
        stroke.live.pop()
        if marks.pop():
            raise AssertionError("the page marked a stroke's final request as a preview")
        stroke.previews_marked = bool(marks) and all(marks)


def record_page(page, model: str, stroke_s: float) -> list[Stroke]:
    """Every stroke of every digit in DIGITS on a loaded page."""
    strokes: list[Stroke] = []
    seen: list = []
    drawing = [False]
    page.on("requestfinished", lambda r: seen.append(r) if drawing[0] else None)
    for digit in DIGITS.values():
        page.click("#clear")
        page.wait_for_selector("body[data-busy='0']", state="attached")
        for points in digit:
            stroke = Stroke(model)
            seen.clear()
            drawing[0] = True
            page.evaluate("() => { window.__longTasks = []; }")
            stroke.drawn_s = draw_stroke(page, points, stroke_s)
            page.wait_for_selector("body[data-busy='0']", state="attached")
            time.sleep(0.3)  # the last answers painted; late requests finished
            stroke.long_tasks_ms = [d for _, d in page.evaluate("() => window.__longTasks")]
            drawing[0] = False
            keep(stroke, sorted(seen, key=lambda r: r.timing["startTime"]))
            strokes.append(stroke)
    return strokes


def record(base: str, models: list[str], stroke_s: float,
           encode_cost: dict[str, dict]) -> list[Stroke]:
    """The strokes drawn on each model's page, in a fresh browser context each; the cost of
    encoding the last picture on the main thread into ``encode_cost[model]``."""
    strokes: list[Stroke] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for model in models:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()
            page.add_init_script(LONG_TASKS)
            page.set_default_timeout(60_000)
            page.goto(f"{base}/?model={model}")
            page.wait_for_selector("#prediction[data-state=ok]")
            page.wait_for_selector("body[data-busy='0']", state="attached")
            strokes += record_page(page, model, stroke_s)
            encode_cost[model] = page.evaluate(ENCODE_COST)
            context.close()
        browser.close()
    return strokes


# ----- replaying a classroom -------------------------------------------------------------------
class Connection:
    """One keep-alive HTTP/1.1 connection, as a browser keeps one per request in flight."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, preview: bool = False) -> tuple[int, int, int]:
        """``(status, bytes sent, bytes received)``; raises OSError/IncompleteReadError."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        mark = f"{PREVIEW_HEADER}: 1\r\n" if preview else ""
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{HEADERS}{mark}"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        try:
            self.writer.write(head + body)
            await self.writer.drain()
            status_line = await self.reader.readline()
            received = len(status_line)
            status = int(status_line.split()[1])
            length, chunked, close = 0, False, False
            while True:
                line = await self.reader.readline()
                received += len(line)
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "transfer-encoding":
                    chunked = "chunked" in value
                elif name == "connection":
                    close = value == "close"
            if chunked:
                while True:
                    size_line = await self.reader.readline()
                    size = int(size_line.split(b";")[0], 16)
                    await self.reader.readexactly(size + 2)
                    received += len(size_line) + size + 2
                    if size == 0:
                        break
            else:
                await self.reader.readexactly(length)
                received += length
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            self.close()
            raise
        if close:
            self.close()
        return status, len(head) + len(body), received

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Tally:
    finals_ms: list[float] = field(default_factory=list)
    lost_finals: int = 0
    answered: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    strokes: int = 0
    aborted: int = 0
    previews: int = 0  # live answers received while strokes were drawn
    sent: int = 0
    received: int = 0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class Latest:
    """latest.js for one endpoint of one person: one request in flight, only the newest waiting
    body sent; ``ended`` marks a stroke's final ask, whose answer time is the figure. A
    ``preview`` is sent marked as one; a ``supersede`` ask aborts the request in flight (as the
    page's fetch abort does: its connection closes) and goes out at once on a new connection."""

    def __init__(self, conn: Connection, path: str, tally: Tally):
        self.conn, self.path, self.tally = conn, path, tally
        self.waiting: tuple[bytes, float | None, bool] | None = None
        self.task: asyncio.Task | None = None

    def ask(self, body: bytes, ended: float | None = None, preview: bool = False,
            supersede: bool = False) -> None:
        if self.waiting is not None and self.waiting[1] is not None:
            self.tally.lost_finals += 1  # a stroke's final ask overtaken before it was sent
        self.waiting = (body, ended, preview)
        if supersede and self.task is not None and not self.task.done():
            self.task.cancel()
            self.conn.close()
            self.conn = Connection(self.conn.host, self.conn.port)
            self.tally.aborted += 1
            self.task = None
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.waiting is not None:
            body, ended, preview = self.waiting
            self.waiting = None
            try:
                status, sent, received = await self.conn.post(self.path, body, preview)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                self.tally.error(type(exc).__name__)
                if ended is not None:
                    self.tally.lost_finals += 1
                continue
            self.tally.sent += sent
            self.tally.received += received
            if status != 200:
                self.tally.error(f"HTTP {status}")
                if ended is not None:
                    self.tally.lost_finals += 1
                continue
            self.tally.answered += 1
            if ended is None and self.path == LIVE_PATH:
                self.tally.previews += 1
            if ended is not None and self.path == LIVE_PATH:
                self.tally.finals_ms.append((loop.time() - ended) * 1000)


async def person(strokes: list[Stroke], first: int, host: str, port: int, until: float,
                 tally: Tally, rng: random.Random, stroke_s: float, pause_s: float) -> None:
    loop = asyncio.get_running_loop()
    paths = {LIVE_PATH, *(p for s in strokes for p in s.final)}
    conns = {p: Connection(host, port) for p in paths}
    pacers = {p: Latest(conns[p], p, tally) for p in paths}
    slots = max(1, math.ceil(stroke_s * 1000 / LIVE_MS))
    await asyncio.sleep(rng.uniform(0, stroke_s + pause_s))  # people do not start in step
    k = first
    while True:  # every person draws at least one stroke, however short the run
        stroke = strokes[k % len(strokes)]
        k += 1
        start = loop.time()
        for slot in range(slots):
            await asyncio.sleep(max(0.0, start + slot * LIVE_MS / 1000 - loop.time()))
            if stroke.live:
                pacers[LIVE_PATH].ask(stroke.live[round(slot * (len(stroke.live) - 1)
                                                        / max(1, slots - 1))],
                                      preview=stroke.previews_marked)
        await asyncio.sleep(max(0.0, start + stroke_s - loop.time()))
        ended = loop.time()
        for path, body in stroke.final.items():
            # The page's final activations request supersedes a preview (predict.js); its
            # other requests (/api/compare) wait their turn.
            pacers[path].ask(body, ended, supersede=path == LIVE_PATH and stroke.previews_marked)
        tally.strokes += 1
        await asyncio.sleep(pause_s * rng.uniform(0.6, 1.4))
        if loop.time() >= until:
            break
    for pacer in pacers.values():  # the last answers, within reason
        if pacer.task is not None:
            try:
                await asyncio.wait_for(pacer.task, timeout=10)
            except asyncio.TimeoutError:
                tally.error("unfinished")
    for conn in conns.values():
        conn.close()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def run_people(server: Server, strokes: list[Stroke], people: int, args) -> dict:
    """``people`` drawing for ``args.seconds``; the stroke-end-to-final-answer figures."""
    tally = Tally()
    host, port = "127.0.0.1", server.port
    load_before = os.getloadavg()[0]
    cpu_before = server.usage()["cpu_s"]
    client_before = resource.getrusage(resource.RUSAGE_SELF)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + args.seconds
        rng = random.Random(people)
        await asyncio.gather(*(person(strokes, i, host, port, until, tally,
                                      random.Random(rng.random()), args.stroke_s, args.pause_s)
                               for i in range(people)))

    started = time.perf_counter()
    asyncio.run(main())
    wall = time.perf_counter() - started
    client_after = resource.getrusage(resource.RUSAGE_SELF)
    server_cpu = server.usage()["cpu_s"] - cpu_before
    p95 = percentile(tally.finals_ms, 95)
    errors = sum(tally.errors.values())
    ok = (p95 is not None and p95 <= args.target_ms and errors == 0 and tally.lost_finals == 0)
    return {"people": people, "seconds": round(wall, 2), "strokes": tally.strokes,
            "finals": len(tally.finals_ms), "lost_finals": tally.lost_finals,
            "p50_ms": _round(percentile(tally.finals_ms, 50)), "p95_ms": _round(p95),
            "max_ms": _round(max(tally.finals_ms, default=None)),
            "answered": tally.answered, "requests_per_s": round(tally.answered / wall, 1),
            "previews_aborted": tally.aborted,
            "previews_per_stroke": round(tally.previews / max(1, tally.strokes), 1),
            "errors": tally.errors,
            "kb_per_stroke": round((tally.sent + tally.received) / max(1, tally.strokes) / 1000, 1),
            "server_cpu_ms_per_answer": round(1000 * server_cpu / max(1, tally.answered), 3),
            "client_cpu_s": round(client_after.ru_utime + client_after.ru_stime
                                  - client_before.ru_utime - client_before.ru_stime, 2),
            "load_start": round(load_before, 2), "load_end": round(os.getloadavg()[0], 2),
            "ok": ok}


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def capacity(server: Server, strokes: list[Stroke], args) -> tuple[int, list[dict]]:
    """Double the class until it fails the target, then bisect: ``(largest passing N, runs)``."""
    runs: list[dict] = []
    best, failed, n = 0, None, args.start_people

    def attempt(people: int) -> bool:
        result = run_people(server, strokes, people, args)
        runs.append(result)
        print(json.dumps(result), flush=True)
        return result["ok"]

    while n <= args.max_people:
        if not attempt(n):
            failed = n
            break
        best, n = n, n * 2
    for _ in range(args.bisect):
        if failed is None or failed - best <= max(1, best // 20):
            break
        mid = (best + failed) // 2
        if attempt(mid):
            best = mid
        else:
            failed = mid
    return best, runs


# ----- report ----------------------------------------------------------------------------------
def bytes_summary(strokes: list[Stroke], stroke_s: float) -> dict[str, dict]:
    """Per model: what a stroke cost on the wire as recorded (with whatever else the page
    fetched meanwhile, such as a model's weights once for hovering), and what a stroke of
    ``stroke_s`` seconds asks at the page's live rate (a loaded browser draws slower and asks
    less): its /api/activations round trips and its other POSTs."""
    slots = max(1, math.ceil(stroke_s * 1000 / LIVE_MS))
    out = {}
    for model in dict.fromkeys(s.model for s in strokes):
        mine = [s for s in strokes if s.model == model]
        per_path: dict[str, list[int]] = {}
        for s in mine:
            for path, sizes in s.bytes_by_path.items():
                per_path.setdefault(path, []).extend(sizes)
        live = statistics.mean(per_path.get(LIVE_PATH, [0]))
        asked = {p for s in mine for p in s.final}  # the POSTs a stroke makes, not one-off GETs
        others = sum(statistics.mean(v) * len(v) / len(mine)
                     for p, v in per_path.items() if p != LIVE_PATH and p in asked)
        long_tasks = [d for s in mine for d in s.long_tasks_ms]
        out[model] = {
            "strokes": len(mine),
            "drawn_s_mean": round(statistics.mean(s.drawn_s for s in mine), 2),
            "requests_per_stroke": round(statistics.mean(s.requests for s in mine), 1),
            "kb_per_stroke": round(statistics.mean(s.sent_bytes + s.received_bytes
                                                   for s in mine) / 1000, 1),
            "kb_sent_per_stroke": round(statistics.mean(s.sent_bytes for s in mine) / 1e3, 1),
            "kb_received_per_stroke": round(statistics.mean(s.received_bytes for s in mine) / 1e3,
                                            1),
            "kb_per_activations_round_trip": round(live / 1000, 2),
            "kb_per_nominal_stroke": round((live * (slots + 1) + others) / 1000, 1),
            "paths": {p: len(v) for p, v in per_path.items()},
            "long_tasks": len(long_tasks),
            "long_task_max_ms": round(max(long_tasks, default=0.0), 1),
            "long_tasks_per_stroke": round(len(long_tasks) / len(mine), 1),
        }
    return out


def table(result: dict) -> str:
    a = result["args"]
    lines = [f"# A classroom on one server ({result['label']})", "",
             f"{result['machine']}; load average {result['load_start']} at the start, "
             f"{result['load_end']} at the end. Strokes of {a['stroke_s']} s, pauses of "
             f"{a['pause_s']} s ± 40 %, live asks every {LIVE_MS} ms (pad.js); runs of "
             f"{a['seconds']} s; target p95 ≤ {a['target_ms']} ms from a stroke's end to its "
             "final /api/activations answer, no error.", "",
             "## Bytes per stroke and long tasks (the page in headless Chromium)", "",
             f"| model | strokes | drawn in (s) | requests | KB sent | KB received | KB per stroke "
             f"| KB per {a['stroke_s']:g}-s stroke | KB per /api/activations | long tasks "
             "(> 50 ms) per stroke | longest (ms) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for model, b in result["bytes"].items():
        lines.append(f"| {model} | {b['strokes']} | {b['drawn_s_mean']} | "
                     f"{b['requests_per_stroke']} | {b['kb_sent_per_stroke']} | "
                     f"{b['kb_received_per_stroke']} | {b['kb_per_stroke']} | "
                     f"{b['kb_per_nominal_stroke']} | "
                     f"{b['kb_per_activations_round_trip']} | {b['long_tasks_per_stroke']} | "
                     f"{b['long_task_max_ms']} |")
    lines += ["", "The pad's picture on the main thread, per live request (median of 20): "
              + "; ".join(f"{m}: toDataURL {c['to_data_url_ms']:.1f} ms, getImageData "
                          f"{c['get_image_data_ms']:.1f} ms"
                          for m, c in result["encode_cost"].items())]
    for workers, c in result["capacity"].items():
        lines += ["", f"## {c['model']}, {workers} worker(s): capacity {c['people']} people", "",
                  "| people | strokes | finals | p50 (ms) | p95 (ms) | max (ms) | lost | errors "
                  "| answers/s | previews answered per stroke | previews aborted | KB per stroke "
                  "| server CPU per answer (ms) | client CPU (s) | load | pass |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in c["runs"]:
            lines.append(f"| {r['people']} | {r['strokes']} | {r['finals']} | {r['p50_ms']} | "
                         f"{r['p95_ms']} | {r['max_ms']} | {r['lost_finals']} | "
                         f"{sum(r['errors'].values())} | {r['requests_per_s']} | "
                         f"{r.get('previews_per_stroke', '')} | {r.get('previews_aborted', '')} | "
                         f"{r['kb_per_stroke']} | {r['server_cpu_ms_per_answer']} | "
                         f"{r['client_cpu_s']} | {r['load_start']}→{r['load_end']} | "
                         f"{'yes' if r['ok'] else 'no'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="simple_convnet", help="the class's model")
    parser.add_argument("--record", nargs="+", default=None,
                        help="models whose bytes and long tasks are recorded (default: --model)")
    parser.add_argument("--workers", nargs="*", type=int, default=[1, 2],
                        help="worker counts to find the capacity of (none: bytes only)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each run")
    parser.add_argument("--stroke-s", type=float, default=2.0)
    parser.add_argument("--pause-s", type=float, default=1.5)
    parser.add_argument("--target-ms", type=float, default=150.0)
    parser.add_argument("--start-people", type=int, default=4)
    parser.add_argument("--max-people", type=int, default=2048)
    parser.add_argument("--bisect", type=int, default=4)
    parser.add_argument("--short", action="store_true",
                        help="a smoke run: 6-s runs, at most 8 people, one bisection")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results")
    parser.add_argument("--name", default="classroom")
    parser.add_argument("--label", default="", help="what was measured, for the title")
    args = parser.parse_args()
    if args.short:
        args.seconds, args.max_people, args.bisect = 6.0, min(args.max_people, 8), 1
        args.start_people = min(args.start_people, 2)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # two sockets a person
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    del soft
    load_start = round(os.getloadavg()[0], 2)
    with Server(workers=1) as server:
        encode_cost: dict[str, dict] = {}
        strokes = record(server.url, args.record or [args.model], args.stroke_s, encode_cost)
    result = {"label": args.label or "provisional", "args": vars(args) | {"out": str(args.out)},
              "machine": f"{os.cpu_count()} CPUs, {platform.platform()}, Python "
                         f"{platform.python_version()}",
              "load_start": load_start, "bytes": bytes_summary(strokes, args.stroke_s),
              "encode_cost": encode_cost,
              "capacity": {}}
    print(json.dumps(result["bytes"], indent=1), flush=True)
    mine = [s for s in strokes if s.model == args.model]
    for workers in args.workers:
        with Server(workers=workers) as server:
            people, runs = capacity(server, mine, args)
        result["capacity"][str(workers)] = {"model": args.model, "people": people, "runs": runs}
    result["load_end"] = round(os.getloadavg()[0], 2)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / f"{args.name}.md").write_text(table(result))
    print(table(result))


if __name__ == "__main__":
    sys.exit(main())
