#!/usr/bin/env python3
"""Write the README's pictures of the page: docs/screenshot.png, a drawn 4, its prediction, and
an active fc1 unit of simple_convnet hovered with its incoming weights on the 3D view; and
docs/screenshot_deep_convnet.png, the same 4 read by deep_convnet, all twelve layers framed in
3D; and docs/train.png, the Train view mid-run (simple_convnet learning from the page, its curves,
filters and 3D view of the 4; the run is stopped afterwards); and docs/screenshot_tour.png, the
guided tour's convolution step (issue 19) on lenet5 with the window sliding over the drawn 4;
and docs/units.png, the units view of lenet5's conv2 for the 4, ranked by how much the answer
needs each channel, beside the unit panel of the most needed one (issue 16); and
docs/where_map.png, the "Where it stands" view (issue 17) of a drawn 4 on simple_convnet's data
map, asked to make it an 8, and docs/where_scribble.png, a scribble it flags as no digit; and
docs/screenshot_fashion.png, the dataset switch on Fashion-MNIST with a test image of a sneaker
read by the dataset's default network, fashion_deep_convnet (issue 20).

Starts the app on a free port unless --url names a running one; drives Debian's Chromium with
Playwright (the test extras), as the browser tests do.

    .venv/bin/python scripts/screenshots.py [--url URL] [--out docs/screenshot.png]
                                            [--deep-out docs/screenshot_deep_convnet.png]
                                            [--train-out docs/train.png]
                                            [--tour-out docs/screenshot_tour.png]
                                            [--units-out docs/units.png]
                                            [--where-out docs/where_map.png] [--only-where]
                                            [--fashion-out docs/screenshot_fashion.png]
                                            [--only-fashion]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CNNVIS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
VIEWPORT = {"width": 1440, "height": 900}
READY_TIMEOUT_S = 120
# A 4 as two mouse strokes, in pad coordinates (0..1 across the drawing pad).
FOUR = [[(0.38, 0.18), (0.3, 0.52), (0.72, 0.52)], [(0.62, 0.3), (0.6, 0.84)]]
# A fast zigzag scrawl: no digit (as tests/browser/test_where.py draws it).
SCRIBBLE = [[(0.2, 0.3), (0.8, 0.35), (0.25, 0.45), (0.85, 0.5), (0.2, 0.62), (0.8, 0.7),
             (0.3, 0.2), (0.7, 0.85), (0.15, 0.8), (0.9, 0.2)]]


@contextlib.contextmanager
def served(url: str | None):
    """The URL of a running cnnvis: `url`, or a server started here for the duration."""
    if url:
        yield url.rstrip("/")
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runs = tempfile.TemporaryDirectory(prefix="cnnvis-shot-runs-")  # the Train view's run goes away
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning"], cwd=ROOT,
                            env={**os.environ, "CNNVIS_RUNS_DIR": runs.name})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the app was not ready within {READY_TIMEOUT_S} s")
            try:  # between two asks, watch for the app exiting
                proc.wait(timeout=0.3)
            except subprocess.TimeoutExpired:
                continue
            raise SystemExit(f"the app exited with status {proc.returncode} before it was ready")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        runs.cleanup()


def settle(page) -> None:
    """No request in flight and the 3D view at rest with its latest state drawn."""
    page.wait_for_selector("body[data-busy='0']", state="attached")
    page.wait_for_selector("#network-view[data-still='1']", state="attached")


def draw(page, strokes) -> None:
    box = page.locator("#draw-canvas").bounding_box()
    for stroke in strokes:
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for p in points[1:]:
            page.mouse.move(*p, steps=6)
        page.mouse.up()


def hover_active_unit(page, title: str) -> None:
    """Move down from a layer's label until the readout names a unit of that layer with a
    non-zero value."""
    label = page.locator(".layer-label", has=page.locator(".l-title", has_text=title)).first
    box = label.bounding_box()
    readout = page.locator("#hover-readout")
    for dx in (0, -12, 12, -24, 24, -36, 36):
        for dy in range(8, 200, 3):
            page.mouse.move(box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] + dy)
            if (readout.is_visible() and readout.inner_text().startswith(title)
                    and not readout.locator(".ro-value").inner_text().startswith("0.000")):
                return
    raise SystemExit(f"no active unit found below the {title} label")


def shoot(page, base: str, model: str, hover: str | None, out: Path) -> None:
    """Draw the 4 on `model`'s page, hover an active unit below the `hover` label (if one is
    named), save."""
    page.goto(f"{base}/?model={model}")
    page.wait_for_selector("#prediction[data-state=ok]")
    settle(page)
    page.click("#clear")
    draw(page, FOUR)
    page.wait_for_selector("#prediction[data-state=ok]")
    settle(page)
    predicted = page.locator("#prediction").inner_text().strip()
    if predicted != "4":
        raise SystemExit(f"{model} read the drawn 4 as {predicted}")
    if hover:
        hover_active_unit(page, hover)
    settle(page)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(page.screenshot())
    print(f"wrote {out}")


def shoot_train(page, base: str, out: Path) -> None:
    """The 4 on the pad, then a one-epoch run of simple_convnet started from the Train view and
    pictured half-way (curves, filters, the run's 3D view and answer); then stopped."""
    page.goto(f"{base}/?model=simple_convnet")
    page.wait_for_selector("#prediction[data-state=ok]")
    settle(page)
    page.click("#clear")
    draw(page, FOUR)
    page.wait_for_selector("#prediction[data-state=ok]")
    settle(page)
    page.click("#tab-train")
    page.wait_for_selector("#train-start:not([disabled])")
    page.select_option("#train-arch", "simple_convnet")
    page.fill("#train-epochs", "1")
    page.fill("#train-size", "20000")
    page.fill("#train-lr", "0.002")
    page.click("#train-start")
    page.wait_for_function("() => { const b = document.getElementById('train-bar');"
                           " return b.value >= 0.5 * b.max; }", timeout=300_000)
    page.wait_for_selector("#train-answer[data-state=ok]")
    page.wait_for_selector("#train-net[data-still='1']", state="attached")
    page.locator("#panel-train").scroll_into_view_if_needed()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(page.locator("#teach").screenshot())
    print(f"wrote {out}")
    page.click("#train-stop")
    page.wait_for_selector("#train-runs .run-row.current[data-status=cancelled]")


def shoot_tour(page, base: str, model: str, step: str, out: Path) -> None:
    """Draw the 4 on `model`'s page, start the tour and walk to `step` (its data-step id), save."""
    page.goto(f"{base}/?model={model}")
    page.wait_for_selector("#prediction[data-state=ok]")
    settle(page)
    page.click("#clear")
    draw(page, FOUR)
    page.wait_for_selector("#prediction[data-state=ok]")
    settle(page)
    page.click("#tour-start")
    for _ in range(20):
        if page.locator("#tour").get_attribute("data-step") == step:
            break
        page.click("#tour-next")
    else:
        raise SystemExit(f"the tour has no step {step}")
    page.wait_for_selector("#network-view[data-moving='0']", state="attached")
    page.wait_for_timeout(1500)  # the window slides a few places along its rows
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(page.screenshot())
    print(f"wrote {out}")


def shoot_units(page, base: str, out: Path) -> None:
    """The 4 read by lenet5; the units view of conv2, ranked for the 4; the unit panel of the
    channel the answer needs most."""
    page.goto(f"{base}/?model=lenet5")
    page.wait_for_selector("#prediction[data-state=ok]")
    settle(page)
    page.click("#clear")
    draw(page, FOUR)
    page.wait_for_selector("#prediction[data-state=ok]")
    settle(page)
    page.click("#tab-units")
    page.locator("#teach").scroll_into_view_if_needed()
    page.select_option("#units-layer", "conv2")
    page.wait_for_selector("#units-grid .units-cell[data-unit='15']")
    page.click("#units-rank")
    page.wait_for_selector("#units-grid .units-drop")
    page.locator("#units-grid .units-cell").first.click()
    page.wait_for_selector("#inspect .unit-meaning .unit-top canvas")
    settle(page)
    page.locator("#teach").scroll_into_view_if_needed()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(page.screenshot())
    print(f"wrote {out}")


def shoot_where(page, base: str, out: Path) -> None:
    """The map with a drawn 4 and "make it an 8"; then a scribble, flagged."""
    page.goto(f"{base}/?model=simple_convnet")
    page.wait_for_selector("#prediction[data-state=ok]")
    settle(page)
    page.click("#clear")
    draw(page, FOUR)
    settle(page)
    page.click("#tab-where")
    page.locator("#panel-where").scroll_into_view_if_needed()
    page.wait_for_selector("#where-map[data-drawing]", state="attached")
    settle(page)
    page.click("#make-8")
    page.wait_for_selector("#where-flips .flip", state="attached")
    settle(page)
    page.locator("#panel-where").screenshot(path=str(out))
    page.click("#clear")
    draw(page, SCRIBBLE)
    settle(page)
    page.wait_for_selector("#where-verdict.atypical")
    page.locator("#teach").scroll_into_view_if_needed()
    page.screenshot(path=str(out.with_name("where_scribble.png")), full_page=False)
    print(f"wrote {out} and {out.with_name('where_scribble.png')}")


def shoot_fashion(page, base: str, out: Path) -> None:
    """The Fashion-MNIST side: switch dataset, load a sneaker from its gallery."""
    page.goto(f"{base}/")
    settle(page)
    page.select_option("#dataset-select", "fashion-mnist")
    page.wait_for_selector("#samples .sample[data-class='Sneaker']")
    settle(page)
    page.locator("#samples .sample[data-class='Sneaker']").nth(2).click()
    page.wait_for_selector("#prediction[data-state=ok]")
    settle(page)
    page.screenshot(path=str(out), full_page=False)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running cnnvis (default: start one)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--deep-out", type=Path,
                        default=ROOT / "docs" / "screenshot_deep_convnet.png")
    parser.add_argument("--train-out", type=Path, default=ROOT / "docs" / "train.png")
    parser.add_argument("--only-train", action="store_true", help="only docs/train.png")
    parser.add_argument("--tour-out", type=Path, default=ROOT / "docs" / "screenshot_tour.png")
    parser.add_argument("--only-tour", action="store_true", help="only docs/screenshot_tour.png")
    parser.add_argument("--units-out", type=Path, default=ROOT / "docs" / "units.png")
    parser.add_argument("--only-units", action="store_true", help="only docs/units.png")
    parser.add_argument("--where-out", type=Path, default=ROOT / "docs" / "where_map.png")
    parser.add_argument("--only-where", action="store_true",
                        help="only docs/where_map.png and docs/where_scribble.png")
    parser.add_argument("--fashion-out", type=Path,
                        default=ROOT / "docs" / "screenshot_fashion.png")
    parser.add_argument("--only-fashion", action="store_true",
                        help="only docs/screenshot_fashion.png")
    args = parser.parse_args()
    with served(args.url) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(30_000)
        only = [name for name in ("train", "tour", "units", "where", "fashion")
                if getattr(args, f"only_{name}")]
        if not only:
            shoot(page, base, "simple_convnet", "fc1", args.out)
            shoot(page, base, "deep_convnet", None, args.deep_out)
        if not only or "train" in only:
            shoot_train(page, base, args.train_out)
        if not only or "tour" in only:
            shoot_tour(page, base, "lenet5", "conv", args.tour_out)
        if not only or "units" in only:
            shoot_units(page, base, args.units_out)
        if not only or "where" in only:
            shoot_where(page, base, args.where_out)
        if not only or "fashion" in only:
            shoot_fashion(page, base, args.fashion_out)
        browser.close()


if __name__ == "__main__":
    main()
