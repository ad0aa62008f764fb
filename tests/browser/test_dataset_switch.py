"""Two datasets in one page: the switch lists each dataset's networks, shows its test images,
names its classes and says what to draw; a Fashion-MNIST sample is read by its class name."""

from __future__ import annotations

import json
import urllib.request

from pagetools import predicted, wait_idle


def served(server_url, what) -> dict:
    with urllib.request.urlopen(f"{server_url}/api/{what}") as r:
        return json.load(r)


def test_switch_to_fashion_mnist_and_read_a_samples_class(page, server_url):
    datasets = {d["name"]: d for d in served(server_url, "datasets")["datasets"]}
    fashion = datasets["fashion-mnist"]
    assert fashion["models"], "no Fashion-MNIST network is shipped"
    assert page.locator("#dataset-select").input_value() == "mnist"
    assert page.locator("#pad-title").inner_text().lower() == "draw a digit"

    page.select_option("#dataset-select", "fashion-mnist")
    page.wait_for_selector("#samples .sample[data-class='Trouser']")
    wait_idle(page)
    assert page.locator("#model-select option").all_inner_texts() == fashion["models"]
    assert page.locator("#model-select").input_value() == fashion["default_model"]
    assert page.locator("#pad-title").inner_text().lower() == "draw a piece of clothing"
    assert "fashion-mnist" in page.locator("#samples-title").inner_text().lower()
    assert page.locator("#samples .sample").count() == 100

    page.locator("#samples .sample[data-class='Trouser']").first.click()
    assert predicted(page) == "Trouser"
    status = page.locator("#status").inner_text()
    assert "Fashion-MNIST test image" in status and "Trouser" in status
    assert page.locator("#prob-bars .bar-digit").all_inner_texts() == fashion["classes"]
    assert page.locator("#prob-bars .bar-row.win .bar-digit").inner_text() == "Trouser"
    rows = page.locator("#compare .cmp-row")
    rows.first.wait_for()
    assert rows.count() == len(fashion["models"])  # only this dataset's networks answer

    page.select_option("#dataset-select", "mnist")
    page.wait_for_selector("#samples .sample[data-class='7']")
    wait_idle(page)
    assert page.locator("#pad-title").inner_text().lower() == "draw a digit"
    assert page.locator("#model-select option").all_inner_texts() == datasets["mnist"]["models"]
    page.locator("#samples .sample[data-label='7']").first.click()
    assert predicted(page) == "7"
