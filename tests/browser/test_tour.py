"""The guided tour (issue 19): every step of a model's tour moves the camera (the canvas and its
labels change) and shows this drawing's live numbers, which change as the user draws; the keys
work; every shipped model gets a complete tour; the forward pass lights the layers; a phone-sized
view keeps the card inside the view; a Fashion-MNIST network's tour names clothes, not digits."""

from __future__ import annotations

import json
import re
import urllib.request

from pagetools import ONE, changed_fraction, draw, snapshot, wait_idle

PHONE = {"width": 390, "height": 844}
# Steps every shipped network's tour has besides its first two and the last.
CHAPTER = ("conv", "shape", "im2col", "activation", "pool", "dense", "output", "filters")


def camera_still(pg) -> None:
    pg.wait_for_selector("#network-view[data-moving='0']", state="attached")


def marks(pg) -> list[tuple[int, int]]:
    """Layer-label positions relative to the view: they move exactly when the camera does."""
    view = pg.locator("#network-view").bounding_box()
    labels = pg.locator("#labels .layer-label")
    out = []
    for i in range(labels.count()):
        b = labels.nth(i).bounding_box()
        out.append((round(b["x"] - view["x"]), round(b["y"] - view["y"])))
    return out


def moved(a, b, px: int = 6) -> bool:
    return any(abs(p[0] - q[0]) > px or abs(p[1] - q[1]) > px for p, q in zip(a, b, strict=True))


def live_numbers(pg) -> list[str]:
    return pg.locator("#tour-text .live").all_inner_texts()


def test_every_step_moves_the_camera_and_shows_live_numbers(page):
    page.click("#tour-start")
    tour = page.locator("#tour")
    assert tour.is_visible()
    total = int(page.locator("#tour-progress").inner_text().split("/")[1].split("·")[0])
    assert total >= 10
    canvas = page.locator("#network-view")
    seen = []
    camera_still(page)
    after_img, after_marks = snapshot(canvas), marks(page)
    for i in range(total):
        camera_still(page)
        step = tour.get_attribute("data-step")
        seen.append(step)
        assert page.locator("#tour-progress").inner_text().startswith(f"{i + 1} / {total}")
        assert page.locator("#tour-dots li.now").count() == 1
        numbers = live_numbers(page)
        assert numbers, f"step {step} shows no live number"
        if step == "overview":
            assert numbers[0] == page.locator("#prediction").inner_text().strip()
        if step == "output":
            card = page.locator("#prob-bars .bar-row.win .bar-pct").inner_text()
            assert card in numbers, (step, numbers, card)
        if step == "input":
            # Drawing during the tour rewrites the numbers (the demo digit gives way to a 1).
            draw(page, ONE)
            page.wait_for_selector("body[data-busy='0']", state="attached")
            assert live_numbers(page) != numbers
        if i == total - 1:
            break
        before_img, before_marks = after_img, after_marks
        if i % 2:
            page.locator("#tour-next").press("ArrowRight")
        else:
            page.click("#tour-next")
        camera_still(page)
        after_img, after_marks = snapshot(canvas), marks(page)
        assert moved(before_marks, after_marks), f"the camera did not move from step {step}"
        assert changed_fraction(before_img, after_img) > 0.05, f"no change after {step}"
    assert seen[:2] == ["overview", "input"] and seen[-1] == "deeper"
    assert set(CHAPTER) <= set(seen)
    page.keyboard.press("ArrowLeft")
    assert tour.get_attribute("data-step") == seen[-2]
    page.keyboard.press("Escape")
    assert tour.is_hidden()


BUILD = """async ({ model, answer, dataset }) => {
  const { buildGroups, displayValues } = await import('/static/js/netmodel.js');
  const { decodeLayer } = await import('/static/js/codec.js');
  const { buildTour } = await import('/static/js/tourSteps.js');
  const groups = buildGroups(model, true);
  const layers = new Map(answer.layers.map((l) => [l.name, decodeLayer(l)]));
  const result = { label: answer.label, probabilities: answer.probabilities, layers };
  const ctx = { result, display: displayValues(groups, layers), compare: null,
                models: new Map([[model.name, model]]) };
  const empty = { result: null, display: [], compare: null, models: ctx.models };
  const words = (paras) => paras.flat()
    .map((p) => (typeof p === "string" ? p : p.live ?? p.formula)).join(" ");
  return buildTour(model, groups, dataset).map((s) => ({
    id: s.id,
    title: s.title,
    shot: s.shot,
    slide: s.slide,
    unit: s.unit(ctx),
    live: s.text(ctx).flat().filter((p) => p && p.live !== undefined).map((p) => p.live),
    blank: s.text(empty).flat().filter((p) => p && p.live !== undefined).length,
    text: words(s.text(ctx)) + " " + words(s.text(empty)),
  }));
}"""


GROUPS = "async (m) => (await import('/static/js/netmodel.js')).buildGroups(m, true).length"


def test_every_shipped_model_has_a_complete_tour(page, server_url):
    with urllib.request.urlopen(server_url + "/api/models") as r:
        models = [m for m in json.load(r)["models"] if m["run"] is None]
    with urllib.request.urlopen(server_url + "/api/datasets") as r:
        datasets = {d["name"]: d for d in json.load(r)["datasets"]}
    assert len(models) >= 4
    assert any(m["dataset"] != "mnist" for m in models)
    digit = [[0.0] * 28 for _ in range(28)]
    for y in range(5, 23):
        digit[y][13] = digit[y][14] = 1.0
    for model in models:
        req = urllib.request.Request(
            server_url + "/api/activations", method="POST",
            data=json.dumps({"model": model["name"], "pixels": digit}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            answer = json.load(r)
        dataset = datasets[model["dataset"]]
        steps = page.evaluate(BUILD, {"model": model, "answer": answer, "dataset": dataset})
        ids = [s["id"] for s in steps]
        where = model["name"]
        assert ids[:2] == ["overview", "input"] and ids[-1] == "deeper", (where, ids)
        for needed in CHAPTER:
            assert needed in ids, (where, needed, ids)
        shots = [json.dumps(s["shot"]) for s in steps]
        assert all(a != b for a, b in zip(shots, shots[1:], strict=False)), (where, shots)
        n_groups = page.evaluate(GROUPS, model)
        for s in steps:
            if s["shot"]:
                assert all(0 <= g < n_groups for g in s["shot"]["groups"]), (where, s)
            assert s["live"] or s["id"] in ("deeper",), (where, s["id"])
            assert s["blank"] == 0, (where, s["id"])  # no numbers without a drawing
        output = next(s for s in steps if s["id"] == "output")
        assert model["classes"][answer["label"]] in output["live"]
        assert output["unit"]["index"] == answer["label"]
        if dataset["noun"] != "digit":  # the copy speaks of the dataset's things, by their names
            copy = " ".join(s["title"] + " " + s["text"] for s in steps).lower()
            assert not re.search(r"digit|(?<!fashion-)mnist|\bten\b", copy), (where, copy)
            assert dataset["noun"] in copy and dataset["title"].lower() in copy, where


def test_forward_pass_and_the_tour_on_a_phone(page):
    page.click("#forward-play")
    assert page.locator("#forward-play").get_attribute("data-playing") == "1"
    page.wait_for_selector("#forward-play[data-playing='0']", timeout=15_000)
    page.set_viewport_size(PHONE)
    page.locator(".stage").scroll_into_view_if_needed()
    wait_idle(page)
    page.click("#tour-start")
    camera_still(page)
    stage = page.locator("#stage-body").bounding_box()
    card = page.locator("#tour").bounding_box()
    assert card["x"] >= stage["x"] - 1
    assert card["x"] + card["width"] <= stage["x"] + stage["width"] + 1
    assert card["y"] + card["height"] <= stage["y"] + stage["height"] + 1
    before = marks(page)
    page.click("#tour-next")
    camera_still(page)
    assert moved(before, marks(page))
    assert live_numbers(page)
