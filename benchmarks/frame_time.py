"""Frame time and framing of the 3D network view, in headless Chromium (SwiftShader WebGL2).

Starts the app with uvicorn on a free port (or uses --url) and, for each model (--model, repeated;
default: every served model), loads the page and waits for the first prediction. Framing first,
in the default 3D pose: the share of the view's pixels that are lit (not background, overlays
hidden) and the on-screen size of the smallest feature map (canvas[data-min-map]). Then it drags
the camera round with the mouse for --seconds while the page records requestAnimationFrame
timestamps: mean, median and 95th-percentile frame time, frames per second. Prints and writes
DIR/NAME.json and a table, DIR/NAME.md. With --overlay, a saliency heatmap lies on the input
layer first (the Why view's 3D overlay, asked for by clicking the predicted digit's probability
bar). A benchmark, not a test.

Usage: cnnvis bench frame_time [--seconds 6] [--model NAME ...] [--url URL] [--out DIR]
       [--name frame_time] [--overlay]   (or python benchmarks/frame_time.py ...)
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
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning"], cwd=ROOT)
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


def summarise(stamps: list[float]) -> dict:
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    gaps.sort()
    mean = statistics.fmean(gaps)
    return {"frames": len(gaps), "mean_ms": round(mean, 2),
            "median_ms": round(statistics.median(gaps), 2),
            "p95_ms": round(gaps[int(0.95 * (len(gaps) - 1))], 2), "max_ms": round(gaps[-1], 2),
            "fps": round(1000 / mean, 1)}


def orbit(page, seconds: float, drag: bool) -> dict:
    """Move the mouse in a smooth loop over the view (button held when `drag`: orbiting)."""
    box = page.locator("#network-view").bounding_box()
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


def table(result: dict) -> str:
    lines = [f"# 3D view at {result['viewport'][0]}×{result['viewport'][1]} ({result['name']})", "",
             "| model | layers | lit pixels | smallest map (px) | in | orbit fps | orbit p95 ms |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in result["runs"]:
        f = r["framing"]
        lines.append(f"| {r['model']} | {r['layers_drawn']} | {f['lit_share'] * 100:.1f} % | "
                     f"{f['smallest_map_px']:.1f} | {f['smallest_map_layer']} | "
                     f"{r['orbit']['fps']} | {r['orbit']['p95_ms']} |")
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
        }
        browser.close()
    text = json.dumps(result, indent=2)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(text + "\n")
    (args.out / f"{args.name}.md").write_text(table(result))


if __name__ == "__main__":
    main()
