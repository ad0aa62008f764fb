"""Frame time and framing of the 3D network view, in headless Chromium (SwiftShader WebGL2).

Starts the app with uvicorn on a free port (or uses --url) and, for each model (--model, repeated;
default: every served model), loads the page and waits for the first prediction. Framing first,
in the default 3D pose: the share of the view's pixels that are lit (not background, overlays
hidden) and the on-screen size of the smallest feature map (canvas[data-min-map]). Then it drags
the camera round with the mouse for --seconds while the page records requestAnimationFrame
timestamps: mean, median and 95th-percentile frame time, frames per second. Prints and writes
DIR/NAME.json and a table, DIR/NAME.md. With --overlay, a saliency heatmap lies on the input
layer first (the Why view's 3D overlay, asked for by clicking the predicted digit's probability
bar). With --training, the Train view's own 3D view is orbited the same way while a run of
simple_convnet trains on the server (a child process, as a user would start it from the form),
then again after it is stopped: the same view with and without training beside it (issue 15).
A benchmark, not a test.

Usage: cnnvis bench frame_time [--seconds 6] [--model NAME ...] [--url URL] [--out DIR]
       [--name frame_time] [--overlay] [--training]   (or python benchmarks/frame_time.py ...)
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CNNVIS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic",
                 "--no-first-run"]

RECORD = """() => {
  window.__frameTimes = [];
  const tick = (t) => {
    window.__frameTimes.push(t);
    if (!window.__stopFrames) requestAnimationFrame(tick);
  };
  window.__stopFrames = false;
  requestAnimationFrame(tick);
}"""

STOP = """() => { window.__stopFrames = true; return window.__frameTimes; }"""

VIEW_INFO = """() => {
  const c = document.getElementById('network-view');
  const gl = c.getContext('webgl2');
  const dbg = gl && gl.getExtension('WEBGL_debug_renderer_info');
  return {canvas: [c.width, c.height],
          renderer: gl ? gl.getParameter(dbg ? dbg.UNMASKED_RENDERER_WEBGL : gl.RENDERER) : null};
}"""


UNITS = """() => {
  const text = [...document.querySelectorAll('#maps .maps-head .muted:not(.maps-range)')]
    .map(e => e.textContent);
  return text.reduce(
    (sum, t) => sum + t.split(' ')[0].split('×').reduce((a, b) => a * Number(b), 1), 0);
}"""


# Everything drawn over the view's canvas (labels, legend, help, hints), hidden while the lit
# pixels are counted and shown again afterwards.
OVERLAYS = """(hide) => {
  for (const el of document.querySelectorAll('#stage-body > :not(#network-view)')) {
    el.style.visibility = hide ? 'hidden' : '';
  }
}"""
BACKGROUND = np.array([12, 16, 24])
LIT = 16  # a pixel is lit when a channel differs from the background by more than this


def framing(page) -> dict:
    """Lit-pixel share of the view and its smallest feature map, in the default pose at rest."""
    page.mouse.move(0, 0)
    page.wait_for_selector("#network-view[data-still='1']", state="attached")
    page.evaluate(OVERLAYS, True)
    shot = Image.open(io.BytesIO(page.locator("#network-view").screenshot())).convert("RGB")
    page.evaluate(OVERLAYS, False)
    pixels = np.asarray(shot).astype(int)
    lit = np.abs(pixels - BACKGROUND).max(axis=2) > LIT
    view = page.locator("#network-view")
    return {"lit_share": round(float(lit.mean()), 4),
            "smallest_map_px": float(view.get_attribute("data-min-map")),
            "smallest_map_layer": view.get_attribute("data-min-map-layer"),
            "view_css": [shot.width, shot.height]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(url: str | None):
    """Yield a base URL: the given one, or a freshly started uvicorn serving app.main:app."""
    if url:
        yield url.rstrip("/")
        return
    port = free_port()
    runs = tempfile.TemporaryDirectory(prefix="cnnvis-frame-runs-")  # runs started here go away
    env = {**os.environ, "CNNVIS_RUNS_DIR": runs.name}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the app did not become ready")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        runs.cleanup()


def summarise(stamps: list[float]) -> dict:
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    gaps.sort()
    mean = statistics.fmean(gaps)
    return {"frames": len(gaps), "mean_ms": round(mean, 2),
            "median_ms": round(statistics.median(gaps), 2),
            "p95_ms": round(gaps[int(0.95 * (len(gaps) - 1))], 2), "max_ms": round(gaps[-1], 2),
            "fps": round(1000 / mean, 1)}


def orbit(page, seconds: float, drag: bool, view: str = "#network-view") -> dict:
    """Move the mouse in a smooth loop over the view (button held when `drag`: orbiting)."""
    box = page.locator(view).bounding_box()
    cx, cy = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.55
    page.mouse.move(cx, cy)
    page.evaluate(RECORD)
    if drag:
        page.mouse.down()
    start = time.monotonic()
    while (t := time.monotonic() - start) < seconds:
        page.mouse.move(cx + 220 * math.sin(2 * math.pi * t / 3),
                        cy + 40 * math.sin(2 * math.pi * t / 5))
        time.sleep(0.01)
    if drag:
        page.mouse.up()
    return summarise(page.evaluate(STOP))


def measure(browser, base: str, model: str, args) -> dict:
    page = browser.new_page(viewport={"width": args.width, "height": args.height})
    page.goto(f"{base}/?model={model}")
    page.wait_for_selector("#prediction[data-state=ok]", timeout=60_000)
    page.wait_for_selector("body[data-busy='0']", state="attached")
    frame = framing(page)
    if args.overlay:
        label = int(page.inner_text("#prediction").strip())
        page.locator("#prob-bars li").nth(label).click()
        page.wait_for_selector("#overlay-note", state="visible", timeout=60_000)
    layers = page.evaluate("() => document.querySelectorAll('#layer-chips .chip').length")
    info = page.evaluate(VIEW_INFO)
    hovering = orbit(page, 2.0, drag=False)
    dragging = orbit(page, args.seconds, drag=True)
    result = {
        "model": model,
        "layers_drawn": layers,
        "units": page.evaluate(UNITS),
        "canvas": info["canvas"],
        "renderer": info["renderer"],
        "framing": frame,
        "orbit": dragging,
        "hover": hovering,
    }
    page.close()
    return result


def measure_training(browser, base: str, args) -> dict:
    """The Train view's 3D view orbited while a run trains (started from the form), then after
    it was stopped."""
    page = browser.new_page(viewport={"width": args.width, "height": args.height})
    page.goto(f"{base}/?model=simple_convnet")
    page.wait_for_selector("#prediction[data-state=ok]", timeout=60_000)
    page.click("#tab-train")
    page.wait_for_selector("#train-start:not([disabled])", timeout=60_000)
    page.select_option("#train-arch", "simple_convnet")
    page.fill("#train-epochs", "1")
    page.fill("#train-size", "55000")
    page.click("#train-start")
    page.wait_for_selector("#train-answer[data-state=ok]", timeout=120_000)
    page.locator("#train-net").scroll_into_view_if_needed()
    page.wait_for_function("() => { const b = document.getElementById('train-bar');"
                           " return b.value > 0 && b.value < b.max; }", timeout=120_000)
    training = orbit(page, args.seconds, drag=True, view="#train-net")
    step = page.evaluate("() => document.getElementById('train-bar').value")
    still = page.evaluate("() => document.getElementById('train-bar').value < "
                          "document.getElementById('train-bar').max")
    page.click("#train-stop")
    page.wait_for_selector("#train-runs .run-row.current[data-status=cancelled]", timeout=60_000)
    quiet = orbit(page, args.seconds, drag=True, view="#train-net")
    info = page.evaluate("""() => { const c = document.getElementById('train-net');
      return [c.width, c.height]; }""")
    page.close()
    return {"view": "#train-net", "canvas": info, "orbit_while_training": training,
            "run_step_at_end": step, "run_still_training_at_end": still,
            "orbit_after_stop": quiet, "load_average": round(os.getloadavg()[0], 2)}


def table(result: dict) -> str:
    lines = [f"# 3D view at {result['viewport'][0]}×{result['viewport'][1]} ({result['name']})", "",
             "| model | layers | lit pixels | smallest map (px) | in | orbit fps | orbit p95 ms |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in result["runs"]:
        f = r["framing"]
        lines.append(f"| {r['model']} | {r['layers_drawn']} | {f['lit_share'] * 100:.1f} % | "
                     f"{f['smallest_map_px']:.1f} | {f['smallest_map_layer']} | "
                     f"{r['orbit']['fps']} | {r['orbit']['p95_ms']} |")
    t = result.get("training")
    if t:
        lines += ["", f"Train view's 3D view ({t['canvas'][0]}×{t['canvas'][1]} canvas), orbited "
                      f"while simple_convnet trains on the server, then after the run was stopped "
                      f"(load average {t['load_average']}):", "",
                  "| while | fps | median ms | p95 ms |", "| --- | --- | --- | --- |",
                  *(f"| {label} | {o['fps']} | {o['median_ms']} | {o['p95_ms']} |"
                    for label, o in (("a run trains", t["orbit_while_training"]),
                                     ("nothing trains", t["orbit_after_stop"])))]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="use a running server instead of starting one")
    ap.add_argument("--model", action="append",
                    help="model to show, repeatable (default: every served model)")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--width", type=int, default=1440)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results",
                    help="directory for the results (default: benchmarks/results)")
    ap.add_argument("--name", default="frame_time", help="file name of the results, no suffix")
    ap.add_argument("--training", action="store_true",
                    help="also orbit the Train view's 3D view while a run trains, then without")
    ap.add_argument("--overlay", action="store_true",
                    help="draw the Why view's heatmap over the input layer while orbiting")
    args = ap.parse_args()
    with server(args.url) as base, sync_playwright() as pw:
        models = args.model
        if not models:
            with urllib.request.urlopen(base + "/api/models") as r:
                models = [m["name"] for m in json.load(r)["models"]]
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        result = {
            "benchmark": "frame_time_orbit",
            "name": args.name,
            "viewport": [args.width, args.height],
            "chromium": browser.version,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "overlay": args.overlay,
            "runs": [measure(browser, base, model, args) for model in models],
            "load_average": round(os.getloadavg()[0], 2),
        }
        if args.training:
            result["training"] = measure_training(browser, base, args)
        browser.close()
    text = json.dumps(result, indent=2)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(text + "\n")
    (args.out / f"{args.name}.md").write_text(table(result))


if __name__ == "__main__":
    main()
