"""Every layer kind every shipped model serves is drawn and inspectable, with activations merged
into the layer before them and split out: a layer kind the front end does not know by role and
window (sent by /api/models) would be missing from the groups or break the unit panel."""

from __future__ import annotations

import json
import urllib.request

import pytest
from pagetools import wait_idle

SHIPPED = ["simple_convnet", "lenet5", "deep_convnet", "alexnet"]
BROKEN = ("null", "undefined", "NaN")


@pytest.fixture(scope="module")
def served(server_url) -> dict:
    with urllib.request.urlopen(server_url + "/api/models") as r:
        return {m["name"]: m for m in json.load(r)["models"]}


def first_of_each_kind(model: dict) -> list[dict]:
    seen = {}
    for layer in model["layers"]:
        seen.setdefault(layer["kind"], layer)
    return list(seen.values())


# The two models that have every kind between them (alexnet: conv, relu, lrn, maxpool, affine,
# dropout; lenet5: avgpool, tanh), split out (each kind heads its own group) and merged (the
# page's default, which the other browser tests use on simple_convnet all along). The others'
# kinds are a subset of AlexNet's (test_every_shipped_kind_is_covered holds that true).
COVERING = ("lenet5", "alexnet")
CASES = [pytest.param(name, merge, id=f"{name}-{'merged' if merge else 'split'}")
         for name in COVERING for merge in (False, True)]


def test_every_shipped_kind_is_covered(served):
    assert set(SHIPPED) <= set(served), sorted(served)
    covered = {layer["kind"] for name in COVERING for layer in served[name]["layers"]}
    for name, model in served.items():
        kinds = {layer["kind"] for layer in model["layers"]}
        assert kinds <= covered, f"{name} has kinds {sorted(kinds - covered)} no case draws"


@pytest.mark.parametrize(("name", "merge"), CASES)
def test_every_layer_kind_is_drawn_and_inspectable(page, server_url, served, name, merge):
    assert name in served, f"{name} is not served"
    model = served[name]
    page.goto(f"{server_url}/?model={name}")
    page.wait_for_selector("#prediction[data-state=ok]")
    wait_idle(page)
    if not merge:
        page.uncheck("#merge-toggle")
        wait_idle(page)

    # Drawn: each layer belongs to exactly one group (a chip, a plane label in the view and a
    # row of maps); split out, activations and normalisations head their own group.
    chips = page.locator("#layer-chips .chip")
    groups = [(chips.nth(i).get_attribute("data-layer"),
               chips.nth(i).get_attribute("data-members").split())
              for i in range(chips.count())]
    titles = page.locator(".layer-label .l-title").all_text_contents()  # crowded labels hide
    assert titles == chips.all_inner_texts()
    assert page.locator("#maps .maps-row").count() == len(groups)
    for layer in model["layers"]:
        holders = [head for head, members in groups if layer["name"] in members]
        assert len(holders) == 1, (layer["name"], groups)
        if not merge and layer["role"] in ("activation", "normalisation"):
            assert holders == [layer["name"]]

    # Inspectable: a unit of the group holding each kind opens the unit panel, naming the layer
    # and showing no missing numbers.
    inspect = page.locator("#inspect")
    for layer in first_of_each_kind(model):
        row = page.locator(f"#maps .maps-row[data-members~='{layer['name']}']")
        row.locator("canvas.map").first.click()
        try:
            inspect.wait_for(state="visible")
        except Exception as exc:
            raise AssertionError(f"clicking a map of {layer['name']} ({layer['kind']}) opened "
                                 "no unit panel") from exc
        page.wait_for_selector("#inspect .footnote")
        text = inspect.inner_text()
        assert layer["name"] in text, (layer["kind"], text)
        for word in BROKEN:
            assert word not in text, (layer["kind"], word, text)
        page.click("#inspect-close")
        inspect.wait_for(state="hidden")
