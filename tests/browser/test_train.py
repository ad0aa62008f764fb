"""The Train view (issue 15) in a real browser against a live server that trains in a child
process: a tiny run started from the page, its curves and first-layer filters changing while it
runs, the run's own answer for the drawing, the replay, the finished model in the network picker
and in every network's answer, the run still listed after a reload and then deleted; stopping a
run, a run waiting in the queue, a refused setting, the view on a phone."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from conftest import VIEWPORT, served
from pagetools import SEVEN, changed_fraction, draw, hover_unit_below, snapshot, wait_idle
from playwright.sync_api import expect

RUN_TIMEOUT_MS = 240_000  # a 1-epoch run on a few thousand images, queued behind nothing
TRAIN_SIZE = "10000"  # 100 steps: several progress and snapshot events on 2 cores


@pytest.fixture(scope="module")
def train_url(tmp_path_factory):
    """A server of its own whose runs live in a temporary directory (the shared one keeps none)."""
    with served({"CNNVIS_RUNS_DIR": str(tmp_path_factory.mktemp("runs")),
                 "CNNVIS_MAX_RUNS": "1", "CNNVIS_MAX_RUNS_PER_CLIENT": "2",
                 "CNNVIS_RUN_THREADS": "1",
                 "CNNVIS_RUN_UNITS": "0"}) as url:  # a run's units file: tests/app/test_runs.py
        yield url


@pytest.fixture
def train_page(browser, train_url, console_errors):
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    pg.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: console_errors.append(f"uncaught: {e}"))
    pg.set_default_timeout(20_000)
    pg.goto(train_url + "/?model=simple_convnet")
    pg.wait_for_selector("#prediction[data-state=ok]")
    wait_idle(pg)
    yield pg
    context.close()
    assert not console_errors, f"console errors: {console_errors}"


def open_train(pg) -> None:
    pg.click("#tab-train")
    pg.wait_for_selector("#panel-train:not([hidden])")


def test_a_tiny_run_trains_live_replays_and_joins_the_picker(train_page):
    pg = train_page
    open_train(pg)
    # The form is built from GET /api/runs/options: every architecture, its optimizers, limits.
    options = json.loads(urllib.request.urlopen(pg.url.split("/?")[0] + "/api/runs/options").read())
    expect(pg.locator("#train-start")).to_be_enabled()
    values = "els => els.map((e) => e.value)"
    archs = pg.locator("#train-arch option").evaluate_all(values)
    assert archs == [a["arch"] for a in options["architectures"]]
    optimizers = pg.locator("#train-optimizer option").evaluate_all(values)
    assert optimizers == [o["name"] for o in options["optimizers"]]
    assert pg.locator("#train-optimizer").input_value() == options["defaults"]["optimizer"]
    epochs_max = str(options["limits"]["epochs"]["max"])
    assert pg.locator("#train-epochs").get_attribute("max") == epochs_max
    assert pg.locator("#train-size").input_value() == str(options["defaults"]["train_size"])
    expect(pg.locator("#train-runs-note")).to_contain_text("No runs yet")

    pg.select_option("#train-arch", "simple_convnet")
    pg.fill("#train-epochs", "1")
    pg.fill("#train-size", TRAIN_SIZE)
    pg.fill("#train-lr", "0.005")  # large steps, so the filters change visibly in one short epoch
    pg.click("#train-start")
    pg.wait_for_selector("#train-watch:not([hidden])")
    expect(pg.locator("#train-stop")).to_be_enabled()
    expect(pg.locator("#train-runs .run-row")).to_have_count(1)

    # The random start arrives first; then the filters and curves move on while it trains.
    # 30 kernels of 5×5 in 7 columns with 1-pixel gaps: 7 × 6 − 1 pixels wide.
    pg.wait_for_selector("#train-start-filters[width='41']", timeout=RUN_TIMEOUT_MS)
    start = snapshot(pg.locator("#train-start-filters"))
    loss = pg.locator("#train-loss")
    pg.wait_for_selector("#train-loss[data-points]:not([data-points='0'])", timeout=RUN_TIMEOUT_MS)
    points = loss.get_attribute("data-points")
    expect(loss).not_to_have_attribute("data-points", points, timeout=RUN_TIMEOUT_MS)
    expect(pg.locator("#train-now-filters")).not_to_have_attribute("data-step", "0",
                                                                  timeout=RUN_TIMEOUT_MS)
    # The run's own 3D view answers for the drawing under the weights of a snapshot.
    pg.wait_for_selector("#train-answer[data-state=ok]", timeout=RUN_TIMEOUT_MS)
    pg.wait_for_selector("#train-net[data-still='1']")

    pg.wait_for_selector("#train-runs .run-row[data-status=done]", timeout=RUN_TIMEOUT_MS)
    expect(pg.locator("#train-state")).to_contain_text("Done")
    name = pg.locator("#train-use").get_attribute("data-model")
    # every network's answer asks again at once: the new network answers without a new stroke
    expect(pg.locator("#compare")).to_contain_text(name)

    # The run's 3D view as the page's: hovering a conv1 unit names it and draws its connections
    # under the shown snapshot's weights; a click opens its unit panel.
    pg.locator("#train-stage").scroll_into_view_if_needed()
    pg.wait_for_selector("#train-net[data-still='1']")
    with pg.expect_response(lambda r: "/params/conv1.weight?step=" in r.url and r.ok):
        x, y = hover_unit_below(pg, "conv1", scope="#train-labels", readout="#train-readout")
    pg.mouse.click(x, y)
    expect(pg.locator("#train-inspect-title")).to_contain_text("conv1")
    expect(pg.locator("#train-inspect-body")).not_to_contain_text("loading")
    pg.click("#train-inspect-close")
    expect(pg.locator("#train-inspect")).to_be_hidden()
    expect(pg.locator("#train-stop")).to_be_disabled()
    end = snapshot(pg.locator("#train-now-filters"))
    assert start.shape == end.shape
    assert changed_fraction(start, end) > 0.2, "training did not change the first-layer filters"
    bar = pg.locator("#train-bar")
    assert bar.get_attribute("value") == bar.get_attribute("max")

    # Replay: back to the random start, the filters, the marker and the run's answer follow.
    slider = pg.locator("#train-timeline")
    expect(slider).to_be_enabled()
    slider.fill("0")
    pg.wait_for_selector("#train-now-filters[data-step='0']")
    assert changed_fraction(start, snapshot(pg.locator("#train-now-filters"))) < 0.02
    pg.wait_for_selector("#train-answer[data-step='0']")
    expect(pg.locator("#train-time")).to_contain_text("snapshot 1 of")

    # The finished model is a network like the shipped ones: in the picker and every answer.
    assert name and pg.locator(f"#model-select option[value='{name}']").count() == 1
    pg.select_option("#model-select", name)
    pg.wait_for_selector("#prediction[data-state=ok]")
    pg.locator("#draw-canvas").scroll_into_view_if_needed()
    draw(pg, SEVEN)
    wait_idle(pg)
    expect(pg.locator("#prediction")).to_have_text("7")
    expect(pg.locator("#compare .cmp-row.current")).to_contain_text(name)
    assert pg.locator("#model-meta").inner_text().strip()

    # Runs persist across reloads; the newest is watched again.
    pg.reload()
    pg.wait_for_selector("#prediction[data-state=ok]")
    open_train(pg)
    expect(pg.locator("#train-runs .run-row[data-status=done]")).to_have_count(1)
    pg.wait_for_selector("#train-runs .run-row.current")
    expect(pg.locator("#train-state")).to_contain_text("Done")
    assert pg.locator("#model-select").input_value() == name

    # Deleting it (after a confirmation) takes its network out of the picker; the page moves on.
    pg.once("dialog", lambda dialog: dialog.accept())
    pg.click("#train-runs .run-row.current .icon-btn")
    pg.wait_for_selector("#train-runs .run-row", state="detached")
    assert pg.locator(f"#model-select option[value='{name}']").count() == 0
    assert pg.locator("#model-select").input_value() != name
    pg.wait_for_selector("#prediction[data-state=ok]")
    wait_idle(pg)
    expect(pg.locator("#compare")).not_to_contain_text(name)
    assert pg.locator("#train-watch").is_hidden()


def test_the_run_record_folds_events(train_page):
    """trainrun.js: progress and snapshots become curves against the step; the end is the run."""
    result = train_page.evaluate("""async () => {
      const { newRecord, fold, curves, isActive } =
        await import('/static/js/trainrun.js');
      const snap = (step, high, acc) => ({ step, epoch: 0, layer: 'conv1', shape: [1, 1, 1, 2],
        encoding: 'float16', data: btoa(String.fromCharCode(0, high, 0, high)),
        val_accuracy: acc, val_size: 500 });
      const rec = newRecord({ id: 'r', status: 'queued', history: [] });
      fold(rec, 'snapshot', snap(0, 0x3c, 0.2));
      fold(rec, 'progress', { step: 4, loss: 2, batch_accuracy: 0.2, steps_total: 20 });
      fold(rec, 'snapshot', snap(8, 0x40, 0.6));
      fold(rec, 'progress', { step: 10, loss: 1, batch_accuracy: 0.5, steps_total: 20 });
      fold(rec, 'epoch', { epoch: 1, loss: 1 });
      const running = isActive(rec.run);
      fold(rec, 'done', { id: 'r', status: 'done', history: [{ epoch: 1, loss: 0.9 }] });
      return { c: curves(rec),
               second: Array.from(rec.snapshots[1].values), status: rec.run.status,
               epochs: rec.epochs, running, ended: isActive(rec.run) };
    }""")
    # Validation accuracy: measured at steps 0 and 8, straight between, unknown after step 8.
    assert result["c"] == {"x": [0, 4, 10], "loss": [None, 2, 1], "batch": [None, 0.2, 0.5],
                           "val": [0.2, 0.4, None]}
    assert result["second"] == [2.0, 2.0]
    assert result["status"] == "done" and result["epochs"] == [{"epoch": 1, "loss": 0.9}]
    assert result["running"] and not result["ended"]


def test_phone_layout_stacks_the_train_view(browser, train_url):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    pg = context.new_page()
    pg.goto(train_url + "/?model=simple_convnet")
    pg.wait_for_selector("#prediction[data-state=ok]")
    open_train(pg)
    wide = pg.evaluate("""() => [...document.querySelectorAll('#panel-train *')]
      .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > 390)
      .map((e) => e.id || e.className)""")
    assert not wide, f"the Train view is wider than a phone: {wide}"
    context.close()


def test_bad_settings_are_refused_with_the_reason(train_page, console_errors):
    pg = train_page
    # Counted as requests, not listed runs: an earlier test's run may still be listed.
    starts = []
    pg.on("request", lambda r: starts.append(r) if r.method == "POST"
          and r.url.split("?")[0].endswith("/api/runs") else None)
    pg.click("#train-link")  # the top bar's link opens the view
    pg.wait_for_selector("#panel-train:not([hidden])")
    assert pg.locator("#tab-train").get_attribute("aria-selected") == "true"
    # The form knows the server's limits (GET /api/runs/options): too many epochs never leave it.
    pg.fill("#train-epochs", "100000")
    pg.click("#train-start")
    assert pg.locator("#train-epochs").evaluate("e => e.validity.rangeOverflow")
    # What only the server checks comes back with its reason.
    pg.fill("#train-epochs", "1")
    pg.fill("#train-lr", "0")
    pg.click("#train-start")
    expect(pg.locator("#train-state[data-kind=error]")).to_contain_text("Cannot start")
    expect(pg.locator("#train-state")).to_contain_text("lr")
    assert len(starts) == 1, "the form sent a run with too many epochs"
    expect(pg.locator("#train-start")).to_be_enabled()
    console_errors[:] = [e for e in console_errors if "status of 422" not in e]


def test_stop_cancels_the_watched_run(train_page):
    pg = train_page
    open_train(pg)
    pg.select_option("#train-arch", "lenet5")
    pg.fill("#train-size", "55000")
    pg.click("#train-start")
    expect(pg.locator("#train-state")).to_contain_text("Training lenet5", timeout=RUN_TIMEOUT_MS)
    pg.click("#train-stop")
    expect(pg.locator("#train-state")).to_contain_text("Stopped at step", timeout=RUN_TIMEOUT_MS)
    pg.wait_for_selector("#train-runs .run-row.current[data-status=cancelled]")
    expect(pg.locator("#train-start")).to_be_enabled()
    expect(pg.locator("#train-stop")).to_be_disabled()
    assert pg.locator("#train-use").is_hidden()


def test_a_waiting_run_shows_its_place_in_the_queue(train_page, train_url):
    def call(method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(train_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    ahead = call("POST", "/api/runs", {"arch": "lenet5", "epochs": 1})  # holds the only slot
    try:
        pg = train_page
        open_train(pg)
        pg.select_option("#train-arch", "simple_convnet")
        pg.fill("#train-size", "1000")
        pg.click("#train-start")
        expect(pg.locator("#train-state")).to_contain_text("Waiting in the queue: next to start")
        expect(pg.locator("#train-stop")).to_be_enabled()
    finally:
        call("DELETE", f"/api/runs/{ahead['id']}")
    expect(pg.locator("#train-state")).not_to_contain_text("Waiting", timeout=RUN_TIMEOUT_MS)
    pg.wait_for_selector("#train-runs .run-row.current[data-status=done]", timeout=RUN_TIMEOUT_MS)
