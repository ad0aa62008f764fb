"""Shareable links, stroke replay and colour scales (issue 19): a link opened in a new page gives
the same 28×28 input, prediction and view; ten drawn digits fit in 2 KB links; a tampered link is
refused with a notice; a Fashion-MNIST sample's link names its dataset; the replay at 50 % shows
the first half's prediction; the scale modes change the legend's numbers."""

from __future__ import annotations

import math

from pagetools import FOUR, ONE, SEVEN, ZERO, wait_idle


def arc(cx, cy, rx, ry, start, end, n=14):
    """Points along an ellipse from angle `start` to `end` (turns, 0 = up, clockwise)."""
    turns = [2 * math.pi * (start + (end - start) * k / n) for k in range(n + 1)]
    return [(cx + rx * math.sin(t), cy - ry * math.cos(t)) for t in turns]


TWO = [arc(0.5, 0.35, 0.18, 0.15, -0.25, 0.3) + [(0.3, 0.8), (0.72, 0.8)]]
THREE = [arc(0.5, 0.33, 0.16, 0.13, -0.3, 0.5) + arc(0.5, 0.64, 0.18, 0.17, 0.0, 0.8)[1:]]
FIVE = [[(0.68, 0.2), (0.36, 0.2), (0.33, 0.47)] + arc(0.5, 0.62, 0.19, 0.17, -0.2, 0.75)[1:]]
SIX = [[(0.62, 0.16), (0.42, 0.4)] + arc(0.5, 0.64, 0.17, 0.17, -0.8, 0.25)]
EIGHT = [arc(0.5, 0.33, 0.14, 0.14, 0.5, 1.5) + arc(0.5, 0.66, 0.17, 0.17, 0.0, 1.0)[1:]]
NINE = [arc(0.5, 0.35, 0.16, 0.15, 0.25, 1.25), [(0.66, 0.36), (0.62, 0.84)]]
DIGITS = [ZERO, ONE, TWO, THREE, FOUR, FIVE, SIX, SEVEN, EIGHT, NINE]
URL_LIMIT = 2048
INK_LIMIT = 1024


def draw(pg, strokes, steps=10):
    """Draw strokes on the pad, `steps` mouse moves per segment (each a recorded point)."""
    box = pg.locator("#draw-canvas").bounding_box()
    for stroke in strokes:
        pts = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        pg.mouse.move(*pts[0])
        pg.mouse.down()
        for p in pts[1:]:
            pg.mouse.move(*p, steps=steps)
        pg.mouse.up()


def record_answers(pg) -> list[dict]:
    """Every /api/activations answer the page receives, in order."""
    answers: list[dict] = []
    pg.on("response", lambda r: answers.append(r)
          if r.url.endswith("/api/activations") and r.ok else None)
    return answers


def last_answer(pg, answers) -> dict:
    wait_idle(pg)
    body = answers[-1].json()
    return {"input": body["input"], "probabilities": body["probabilities"], "label": body["label"]}


def share_link(pg) -> str:
    pg.click("#share")
    pg.wait_for_selector("#share-state:not(:empty)")
    return pg.locator("#share-url").input_value()


def label_marks(pg) -> list[tuple[int, int]]:
    view = pg.locator("#network-view").bounding_box()
    labels = pg.locator("#labels .layer-label")
    out = []
    for i in range(labels.count()):
        b = labels.nth(i).bounding_box()
        out.append((round(b["x"] - view["x"]), round(b["y"] - view["y"])))
    return out


def test_shared_link_gives_the_same_input_prediction_and_view(page, console_errors):
    answers = record_answers(page)
    page.click("#clear")
    draw(page, FOUR)
    mine = last_answer(page, answers)
    page.select_option("#scale-mode", "layer")
    page.click("#tab-im2col")
    view = page.locator("#network-view").bounding_box()
    page.mouse.move(view["x"] + view["width"] * 0.5, view["y"] + view["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(view["x"] + view["width"] * 0.62, view["y"] + view["height"] * 0.45, steps=5)
    page.mouse.up()
    wait_idle(page)
    url = share_link(page)
    assert "ink=" in url and "cam=" in url and "scale=layer" in url and "tab=im2col" in url
    assert len(url) <= URL_LIMIT
    marks = label_marks(page)

    other = page.context.new_page()
    other.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    theirs_answers = record_answers(other)
    other.goto(url)
    other.wait_for_selector("#prediction[data-state=ok]")
    theirs = last_answer(other, theirs_answers)
    assert theirs == mine  # the same 28×28 input and the same probabilities, exactly
    assert other.locator("#prediction").inner_text().strip() == "4"
    assert other.locator("#scale-mode").input_value() == "layer"
    assert other.locator("#tab-im2col").get_attribute("aria-selected") == "true"
    assert other.locator("#share-notice").is_hidden()
    theirs_marks = label_marks(other)
    assert len(theirs_marks) == len(marks)
    assert all(abs(a[0] - b[0]) <= 3 and abs(a[1] - b[1]) <= 3
               for a, b in zip(marks, theirs_marks, strict=True))

    # A link changed by hand is refused with a notice; the page still works on its demo digit.
    ink = url.split("ink=")[1].split("&")[0]
    tampered = url.replace(ink, ink[:10] + ("B" if ink[10] != "B" else "C") + ink[11:])
    other.goto(tampered.replace("cam=", "cam=x"))
    other.wait_for_selector("#prediction[data-state=ok]")
    wait_idle(other)
    notice = other.locator("#share-notice")
    assert notice.is_visible()
    assert "drawing" in notice.inner_text() and "camera" in notice.inner_text()
    fashion_sample_link(page, other, answers, theirs_answers)
    other.close()


def fashion_sample_link(page, other, answers, theirs_answers):
    """A link made on a Fashion-MNIST sample names the dataset with the index: opened even
    without its model parameter it loads the same image on the same network with the same
    answer; on an MNIST network it is refused with a notice instead of loading MNIST's image of
    that index."""
    page.select_option("#dataset-select", "fashion-mnist")
    page.wait_for_selector("#samples .sample[data-class='Dress']")
    wait_idle(page)
    sample = page.locator("#samples .sample[data-class='Dress']").nth(1)
    index = sample.get_attribute("data-index")
    sample.click()
    mine = last_answer(page, answers)
    model = page.locator("#model-select").input_value()
    said = page.locator("#prediction").inner_text().strip()
    url = share_link(page)
    assert f"sample=fashion-mnist_{index}" in url and f"model={model}" in url

    other.goto(url.replace(f"model={model}&", ""))
    other.wait_for_selector("#prediction[data-state=ok]")
    assert last_answer(other, theirs_answers) == mine
    assert other.locator("#model-select").input_value() == model
    assert other.locator("#prediction").inner_text().strip() == said
    assert f"test image #{index}" in other.locator("#status").inner_text()
    assert other.locator("#share-notice").is_hidden()

    other.goto(url.replace(f"model={model}", "model=simple_convnet"))
    other.wait_for_selector("#prediction[data-state=ok]")
    wait_idle(other)
    notice = other.locator("#share-notice")
    assert notice.is_visible() and "Fashion-MNIST" in notice.inner_text()
    assert f"#{index}" not in other.locator("#status").inner_text()


CODEC = """async ({ digits, side, width }) => {
  const codec = await import('/static/js/strokecodec.js');
  const { quantise, simplify, encodeStrokes, decodeStrokes } = codec;
  return digits.map((strokes) => {
    // Each stroke as a pointer reporting every pad pixel (the densest a pad records), kept as
    // the pad keeps it: whole pixels, repeats dropped, simplified at the stroke's end.
    const recorded = strokes.map((stroke) => {
      const points = [];
      for (let k = 1; k < stroke.length; k++) {
        const [x0, y0] = stroke[k - 1];
        const [x1, y1] = stroke[k];
        const n = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) * side));
        for (let j = k === 1 ? 0 : 1; j <= n; j++) {
          const t = j / n;
          const p = quantise((x0 + (x1 - x0) * t) * side, (y0 + (y1 - y0) * t) * side, width);
          const q = points[points.length - 1];
          if (!q || p[0] !== q[0] || p[1] !== q[1]) points.push(p);
        }
      }
      return simplify(points);
    });
    const text = encodeStrokes(recorded);
    return { text, same: JSON.stringify(decodeStrokes(text)) === JSON.stringify(recorded) };
  });
}"""


def test_links_of_ten_drawn_digits_stay_short(page, server_url):
    """Ten digits traced at one point per pad pixel fit the budget: ink ≤ 1 KB, the whole link
    (with the longest values of every other parameter) ≤ 2 KB; each decodes to its strokes."""
    side = int(page.locator("#draw-canvas").get_attribute("width"))
    answers = page.evaluate(CODEC, {"digits": DIGITS, "side": side, "width": 40})
    longest_rest = ("&model=simple_convnet&sample=9999&layout=flat"
                    "&cam=-1.234_0.567_1234.5_-123.4_56.7_-89.1"
                    "&unit=conv1_17279&tab=quality&scale=global")
    for a in answers:
        assert a["same"]
        assert 40 < len(a["text"]) <= INK_LIMIT
        assert len(f"{server_url}/?ink={a['text']}{longest_rest}") <= URL_LIMIT


def test_replay_at_half_shows_the_first_half_and_scales_change_the_legend(page):
    answers = record_answers(page)
    page.click("#clear")
    # Two strokes of the same number of points: the timeline's middle is the first stroke's end.
    first = [[(0.5, 0.15), (0.5, 0.85)]]
    second = [[(0.3, 0.3), (0.72, 0.3)]]
    draw(page, first)
    after_first = last_answer(page, answers)
    draw(page, second)
    whole = last_answer(page, answers)
    assert after_first != whole
    page.click("#replay-open")
    slider = page.locator("#replay-time")
    total = int(slider.get_attribute("max"))
    assert total % 2 == 0
    slider.evaluate("""(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input'));
                                    el.dispatchEvent(new Event('change')); }""", total // 2)
    assert last_answer(page, answers) == after_first
    assert page.locator("#replay-text").inner_text().startswith("1 of 2 strokes")
    page.wait_for_selector("#replay-note:has-text('settled')")
    assert int(page.locator("#replay-chart").get_attribute("data-moments")) >= min(total, 10)
    page.click("#replay-close")
    assert last_answer(page, answers) == whole

    ranges = {}
    for mode in ("map", "layer", "global"):
        page.select_option("#scale-mode", mode)
        wait_idle(page)
        caption = page.locator("#legend-range")
        ranges[mode] = (float(caption.get_attribute("data-lo")),
                        float(caption.get_attribute("data-hi")),
                        caption.inner_text(), page.locator("#legend-hi").inner_text())
    assert len({r[2] for r in ranges.values()}) == 3
    assert ranges["map"][0] < ranges["layer"][0] <= ranges["global"][0]
    assert ranges["global"][0] == ranges["global"][1] == ranges["layer"][1] == ranges["map"][1]
    assert ranges["global"][3].startswith("+") and ranges["global"][3] != "+"
