"""Two datasets in one page: the switch lists each dataset's networks, shows its test images,
names its classes and says what to draw; a Fashion-MNIST sample is read by its class name, the
explain panels speak of its classes (not digits) and the 3D view's class labels fit the view."""

from __future__ import annotations

import json
import urllib.request

from pagetools import predicted, wait_idle, wait_still


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
    # every network's name shows whole (fashion_simple_convnet wraps after an underscore)
    names = page.locator("#compare .cmp-name > span")
    assert names.all_text_contents() == fashion["models"]
    clipped = names.evaluate_all("els => els.filter((e) => e.scrollWidth > e.clientWidth + 1 || "
                                 "e.getBoundingClientRect().right > "
                                 "e.closest('.cmp-row').getBoundingClientRect().right)"
                                 ".map((e) => e.textContent)")
    assert not clipped, f"model names clipped in every network's answer: {clipped}"
    assert page.locator("#saw-note").inner_text() == "28×28, fitted to the frame"
    explained_in_clothes(page, fashion)

    page.select_option("#dataset-select", "mnist")
    page.wait_for_selector("#samples .sample[data-class='7']")
    wait_idle(page)
    assert page.locator("#pad-title").inner_text().lower() == "draw a digit"
    assert page.locator("#saw-note").inner_text() == "28×28 after centring"
    assert page.locator("#model-select option").all_inner_texts() == datasets["mnist"]["models"]
    page.locator("#samples .sample[data-label='7']").first.click()
    assert predicted(page) == "7"
    targets = page.locator("#why-targets .t-d").all_inner_texts()
    assert targets == ["auto", *datasets["mnist"]["classes"]]



def open_tab(page, tab: str, ready: str) -> str:
    """Open an explain tab on the loaded image and wait for its answer; its text, lower case."""
    page.click(f"#tab-{tab}")
    page.locator(f"#panel-{tab}").scroll_into_view_if_needed()
    page.wait_for_selector(ready, state="attached")
    wait_idle(page)
    return page.locator(f"#panel-{tab}").inner_text().lower()


def with_article(name: str) -> str:
    return f"{'an' if name[0] in 'AEIOU' else 'a'} {name}"


def explained_in_clothes(page, fashion) -> None:
    """A loaded Trouser: Why, Robustness and Where name its classes and never say digit; the 3D
    view's output labels (as long as "T-shirt/top") end inside the view."""
    wait_still(page)
    view = page.locator("#network-view").bounding_box()
    labels = page.locator("#labels .digit-label")
    assert labels.all_inner_texts() == fashion["classes"]
    for i in range(labels.count()):
        box = labels.nth(i).bounding_box()
        assert box["x"] + box["width"] <= view["x"] + view["width"], labels.nth(i).inner_text()

    text = open_tab(page, "why", "#why-text h3")
    assert page.locator("#why-text h3").inner_text() == "Why a Trouser?"
    assert page.locator("#why-targets .t-d").all_inner_texts() == ["auto", *fashion["classes"]]
    assert "digit" not in text and "explain the piece of clothing" in text
    text = open_tab(page, "robust", "#probe-label")
    assert page.locator("#probe-label").inner_text() == "Trouser"
    options = page.locator("#probe-target option").all_inner_texts()
    assert options == ["the predicted class", *map(with_article, fashion["classes"])]
    assert "digit" not in text
    text = open_tab(page, "where", "#where-map[data-drawing]")
    assert page.locator("#where-make button").all_inner_texts() == fashion["classes"]
    assert "trouser" in page.locator("#where-verdict").inner_text().lower()
    assert "digit" not in text and "training garments" in text
