"""What a unit means, in the page (issue 16): opening a unit shows its 9 top test digits (whole
on hover), its ideal input and where the drawing falls; switching it off reaches the server as
`ablate` and changes the prediction's views and the Why panel's explanation; the section folds
and stays folded; the units view draws a layer's grid, opens a unit on click and ranks the units
for the digit."""

from __future__ import annotations

import json

import pytest
from pagetools import predicted, snapshot, wait_idle


def open_map(page, members: str, nth: int) -> None:
    page.locator(f"#maps .maps-row[data-members~='{members}'] canvas.map").nth(nth).click()
    page.wait_for_selector("#inspect .unit-meaning .unit-top canvas")


def test_a_unit_shows_its_top_digits_ideal_input_and_can_be_switched_off(page):
    page.click("#samples .sample[data-label='8']")
    wait_idle(page)
    assert predicted(page) == "8"
    open_map(page, "conv1", 3)
    meaning = page.locator("#inspect .unit-meaning")
    assert meaning.locator("[data-unit]").get_attribute("data-unit") == "conv1/3"
    figures = meaning.locator(".unit-top-fig")
    assert figures.count() == 9
    first = figures.first.locator("canvas")
    assert (first.get_attribute("width"), first.get_attribute("height")) == ("5", "5")  # 5×5 field
    figures.first.hover()  # the whole digit with the box
    assert (first.get_attribute("width"), first.get_attribute("height")) == ("112", "112")
    ideal = snapshot(meaning.locator(".unit-ideal"))
    assert ideal.std() > 10  # an image, not a blank
    assert "test digits" in meaning.inner_text() and "ideal input" in meaning.inner_text()

    sent = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data))
            if r.url.endswith("/api/activations") else None)
    bars = snapshot(page.locator("#prob-bars"))
    page.click("#inspect .unit-meaning .unit-switch")
    wait_idle(page)
    assert sent[-1]["ablate"] == [{"layer": "conv1", "index": 3}]
    assert "1 unit switched off" in page.locator("#status").inner_text()
    switch = page.locator("#maps .map-off[data-unit='conv1/3']")
    assert switch.get_attribute("aria-pressed") == "true"
    toggle = page.locator("#inspect .unit-meaning .unit-switch")
    assert toggle.get_attribute("aria-pressed") == "true"
    # switched back on from the flat view's map: the next prediction sends no units
    switch.click()
    wait_idle(page)
    assert "ablate" not in sent[-1] and switch.get_attribute("aria-pressed") == "false"
    assert "switched off" not in page.locator("#status").inner_text()
    assert snapshot(page.locator("#prob-bars")).shape == bars.shape


def explained(page, act) -> dict:
    """The /api/explain request body that ``act()`` (then the panel coming on screen) makes."""
    with page.expect_request(lambda r: r.url.endswith("/api/explain")) as asked:
        act()
        page.locator("#teach").scroll_into_view_if_needed()
    return json.loads(asked.value.post_data)


def test_why_explains_with_the_units_off_and_the_section_folds_for_good(page):
    page.click("#samples .sample[data-label='8']")
    wait_idle(page)
    assert "ablate" not in explained(page, lambda: page.click("#tab-why"))
    open_map(page, "conv1", 3)
    body = explained(page, lambda: page.click("#inspect .unit-meaning .unit-switch"))
    assert body["ablate"] == [{"layer": "conv1", "index": 3}]
    assert "ablate" not in explained(
        page, lambda: page.click("#maps .map-off[data-unit='conv1/3']"))
    # "What it responds to" folds, stays folded for the next unit and the next visit
    fold = page.locator("#inspect .unit-meaning-fold")
    assert fold.get_attribute("aria-expanded") == "true"
    fold.click()
    assert fold.get_attribute("aria-expanded") == "false"
    assert page.locator("#inspect .unit-meaning-more").is_hidden()
    page.locator("#maps .maps-row[data-members~='conv1'] canvas.map").nth(4).click()
    page.wait_for_selector("#inspect .unit-meaning [data-unit='conv1/4']", state="attached")
    assert page.locator("#inspect .unit-meaning-fold").get_attribute("aria-expanded") == "false"
    # kept for the next visit, where state.js reads it (prefs.js)
    assert page.evaluate("() => localStorage.getItem('cnnvis.unitMeaningOpen')") == "false"
    # the section sits on the arithmetic's 12-px inset, inside the panel's one scroll
    inner = page.locator("#inspect .unit-meaning-head").bounding_box()
    calc = page.locator("#inspect-body .unit-summary").bounding_box()
    assert abs(inner["x"] - calc["x"]) < 1 and abs(inner["width"] - calc["width"]) < 1


def test_the_units_view_draws_a_layer_opens_a_unit_and_ranks_them(page):
    page.click("#tab-units")
    page.locator("#teach").scroll_into_view_if_needed()
    page.wait_for_selector("#units-grid .units-cell")
    assert page.locator("#units-grid .units-cell").count() == 30  # conv1's channels
    assert snapshot(page.locator("#units-grid .units-cell canvas").first).std() > 10
    page.select_option("#units-layer", "fc1")
    page.wait_for_selector("#units-grid .units-cell[data-unit='99']")
    page.locator("#units-grid .units-cell[data-unit='7']").click()
    page.wait_for_selector("#inspect .unit-meaning [data-unit='fc1/7']")
    assert page.locator("#inspect-title").inner_text().startswith("fc1")
    page.click("#units-rank")
    page.wait_for_selector("#units-grid .units-drop")
    drops = page.locator("#units-grid .units-label").all_inner_texts()
    assert len(drops) == 100 and all(" · " in d for d in drops)
    assert page.locator("#units-rank").get_attribute("aria-pressed") == "true"


UNIT_LAYERS = """async (models) => {
  const { unitLayerOf } = await import('/static/js/geometry.js');
  const { percentileOf } = await import('/static/js/unitmeaning.js');
  const q = Array.from({ length: 101 }, (_, k) => k / 10);  // values 0..10 in steps of 0.1
  return {
    layers: models.map((m) => m.layers.map((l) => [l.name, unitLayerOf(m.layers, l.name)])),
    percentiles: [percentileOf(q, -1), percentileOf(q, 2.55), percentileOf(q, 99)],
  };
}"""


def test_every_layer_shows_the_units_of_its_conv_pool_or_dense_layer(page, server_url):
    models = page.evaluate("async (u) => (await (await fetch(u)).json()).models",
                           f"{server_url}/api/models")
    found = page.evaluate(UNIT_LAYERS, models)
    for model, pairs in zip(models, found["layers"], strict=True):
        owner = None
        for layer, (name, unit_layer) in zip(model["layers"], pairs, strict=True):
            if layer["role"] in ("weighted", "pooling"):
                owner = name
            assert unit_layer == owner, (model["name"], name, unit_layer)
    assert found["percentiles"] == pytest.approx([0, 25.5, 100])
