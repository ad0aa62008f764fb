"""The 3D view for a reader (issue 14): every layer keeps a readable label, the ten output units
are labelled, deep networks are framed so their maps can be read (or flown to), hover lines reach
their source, and the view leaves plain scrolling to the page, on a desk and on a phone."""

from __future__ import annotations

import time

import pytest
from pagetools import changed_fraction, hover_unit_below, snapshot, wait_idle, wait_still

SHIPPED = ["simple_convnet", "lenet5", "deep_convnet", "alexnet"]
# The same architectures for the label checks, but DeepConvNet as trained for Fashion-MNIST: its
# wider layers have the longest shape texts beside the class names.
LABELLED = ["simple_convnet", "lenet5", "fashion_deep_convnet", "alexnet"]
PHONE = {"width": 390, "height": 844}
MIN_LABEL_PX = 10  # text height a label keeps, even when it gives up its shape text


def until(check, timeout_s: float = 10.0):
    """Poll `check` (a page round trip each time) until it returns something true."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value


def open_model(page, server_url, name):
    page.goto(f"{server_url}/?model={name}")
    page.wait_for_selector("#prediction[data-state=ok]")
    wait_idle(page)


def boxes(page, selector):
    loc = page.locator(selector)
    return [loc.nth(i).bounding_box() for i in range(loc.count())]


def overlap(a, b, slack=1.0) -> bool:
    return (a["x"] + slack < b["x"] + b["width"] and b["x"] + slack < a["x"] + a["width"]
            and a["y"] + slack < b["y"] + b["height"] and b["y"] + slack < a["y"] + a["height"])


def inside(a, outer) -> bool:
    return (a["x"] >= outer["x"] - 1 and a["y"] >= outer["y"] - 1
            and a["x"] + a["width"] <= outer["x"] + outer["width"] + 1
            and a["y"] + a["height"] <= outer["y"] + outer["height"] + 1)


def camera_marks(page) -> list[tuple[float, float]]:
    """Where the layer labels sit relative to the view: they move exactly when the camera does."""
    view = page.locator("#network-view").bounding_box()
    return [(round(b["x"] - view["x"]), round(b["y"] - view["y"]))
            for b in boxes(page, "#labels .layer-label")]


EDGE_PX = 10  # labels this close to the top edge are clamped


def same_camera(a, b, tolerance_px: int = 4) -> bool:
    """Label positions relative to the first label within a few pixels: a camera move shifts
    them by tens, while a phone's view scrolled or resized by a few pixels (and framed again)
    moves them all together."""
    if len(a) != len(b) or not a:
        return len(a) == len(b)
    (ax, ay), (bx, by) = a[0], b[0]
    # A label pressed against the view's top edge is held there, not placed by the camera.
    return all(abs((p[0] - ax) - (q[0] - bx)) <= tolerance_px
               and abs((p[1] - ay) - (q[1] - by)) <= tolerance_px
               for p, q in zip(a, b, strict=True) if min(p[1], q[1]) >= EDGE_PX)


def check_labels(page, where: str) -> None:
    """Every layer has a label on screen, inside the view, readable and clear of the others and
    of the output's class names."""
    chips = page.locator("#layer-chips .chip").all_inner_texts()
    names = page.locator(".digit-label")
    classes = [(f"class {names.nth(i).inner_text()}", names.nth(i).bounding_box())
               for i in range(names.count()) if names.nth(i).is_visible()]
    labels = page.locator(".layer-label")
    assert labels.count() == len(chips)
    stage = page.locator("#stage-body").bounding_box()
    shown = []
    for i in range(labels.count()):
        label = labels.nth(i)
        title = label.locator(".l-title").inner_text()
        assert label.is_visible(), f"{where}: the {title} label is hidden"
        box = label.bounding_box()
        assert box["height"] >= MIN_LABEL_PX, (where, title, box)
        assert inside(box, stage), f"{where}: the {title} label leaves the view: {box}"
        for other, obox in shown + classes:
            assert not overlap(box, obox), f"{where}: labels {title} and {other} overlap"
        shown.append((title, box))
    assert [t for t, _ in shown] == chips


@pytest.mark.parametrize("name", LABELLED)
def test_every_layer_keeps_a_readable_label(page, server_url, name):
    open_model(page, server_url, name)
    for merge in (True, False):
        if not merge:
            page.uncheck("#merge-toggle")
            wait_idle(page)
        for layout in ("3d", "flat"):
            page.click(f"#layout-{layout}")
            wait_still(page)
            check_labels(page, f"{name}, {layout}, merge {'on' if merge else 'off'}")


@pytest.mark.parametrize("name", SHIPPED)
def test_all_ten_output_units_are_labelled(page, server_url, name):
    open_model(page, server_url, name)
    digits = page.locator(".digit-label")
    assert digits.count() == 10
    for layout in ("3d", "flat"):
        page.click(f"#layout-{layout}")
        wait_still(page)
        found = []
        for i in range(10):
            assert digits.nth(i).is_visible(), f"{name} {layout}: digit {i} has no label"
            found.append(digits.nth(i).bounding_box())
        for i in range(9):
            assert not overlap(found[i], found[i + 1], slack=2), (name, layout, i, found[i:i + 2])


@pytest.mark.parametrize("name", SHIPPED)
def test_the_network_fills_the_view(page, server_url, name):
    """The default 3D frame: every plane inside the view and no map unreadably small; before
    issue 14 deep_convnet's pool3 maps were 4 px across."""
    open_model(page, server_url, name)
    view = page.locator("#network-view")
    assert float(view.get_attribute("data-min-map")) >= 9.0, (
        name, view.get_attribute("data-min-map-layer"), view.get_attribute("data-min-map"))


@pytest.mark.parametrize("name", ["deep_convnet", "alexnet"])
def test_double_click_flies_to_a_layer_whose_maps_can_be_read(page, server_url, name):
    open_model(page, server_url, name)
    view = page.locator("#network-view")
    smallest = view.get_attribute("data-min-map-layer")
    x, y = hover_unit_below(page, smallest)
    page.mouse.dblclick(x, y)
    page.wait_for_selector(f"#network-view[data-min-map-layer='{smallest}'][data-still='1']",
                           state="attached")
    assert float(view.get_attribute("data-min-map")) >= 12, view.get_attribute("data-min-map")
    page.click("#reset-view")
    wait_still(page)
    assert float(view.get_attribute("data-min-map")) < 12 or name == "simple_convnet"


LINE_PROBE = """
(() => {
  window.__lineDepth = [];
  const draw = WebGL2RenderingContext.prototype.drawArrays;
  WebGL2RenderingContext.prototype.drawArrays = function (mode, first, count) {
    if (mode === this.LINES) window.__lineDepth.push(this.isEnabled(this.DEPTH_TEST));
    return draw.call(this, mode, first, count);
  };
})();
"""


def test_hover_lines_are_not_hidden_behind_the_input_plane(page, server_url):
    """A conv1 unit's connections end on its input patch; the input plane stands between
    conv1 and the camera, so depth-tested lines would vanish behind it."""
    page.context.add_init_script(LINE_PROBE)
    open_model(page, server_url, "simple_convnet")
    hover_unit_below(page, "conv1")
    until(lambda: page.evaluate("() => window.__lineDepth.length > 0"))
    wait_still(page)
    drawn = page.evaluate("() => window.__lineDepth")
    assert drawn and not any(drawn), "connection lines were depth-tested against the planes"


def drawn(view):
    """What the view draws, without a 2-pixel frame: at a fractional page offset the element's
    picture starts with a row of the toolbar's border, which changed_fraction would take for
    the background (and count the whole dark background as content)."""
    return snapshot(view)[2:-2, 2:-2]


def test_plain_wheel_scrolls_the_page_and_ctrl_wheel_zooms(page, server_url):
    view = page.locator("#network-view")
    box = view.bounding_box()
    before = drawn(view)
    marks = camera_marks(page)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 400)
    assert until(lambda: page.evaluate("() => window.scrollY") > 100), "the page did not scroll"
    hint = page.locator("#stage-body .view-hint")
    hint.wait_for(state="visible")
    assert "scroll to zoom" in hint.inner_text()
    wait_still(page)
    assert same_camera(camera_marks(page), marks), "a plain wheel moved the camera"

    page.evaluate("() => window.scrollTo(0, 0)")
    until(lambda: page.evaluate("() => window.scrollY") == 0)
    box = view.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -400)
    page.keyboard.up("Control")
    wait_still(page)
    assert page.evaluate("() => window.scrollY") == 0
    assert changed_fraction(before, drawn(view)) > 0.2, "Ctrl+wheel did not zoom"


def touch(cdp, kind, points):
    points = [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]
    cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})


def swipe(cdp, starts, dy, steps=12):
    touch(cdp, "touchStart", starts)
    for k in range(1, steps + 1):
        touch(cdp, "touchMove", [(x, y + dy * k / steps) for x, y in starts])
    touch(cdp, "touchEnd", [])


@pytest.fixture
def phone(browser, server_url, console_errors):
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    pg = context.new_page()
    pg.on("pageerror", lambda e: console_errors.append(f"uncaught: {e}"))
    pg.set_default_timeout(20_000)
    pg.goto(server_url + "/?model=simple_convnet")
    pg.wait_for_selector("#prediction[data-state=ok]")
    wait_idle(pg)
    yield pg
    context.close()


def test_one_finger_swipe_scrolls_the_page_two_fingers_move_the_camera(phone):
    view = phone.locator("#network-view")
    view.scroll_into_view_if_needed()
    wait_still(phone)
    box = view.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    marks = camera_marks(phone)
    top = phone.evaluate("() => window.scrollY")
    cdp = phone.context.new_cdp_session(phone)
    swipe(cdp, [(cx, cy + 100)], -120)
    assert until(lambda: phone.evaluate("() => window.scrollY") > top + 40), \
        "a one-finger swipe over the view did not scroll the page"
    wait_still(phone)
    assert same_camera(camera_marks(phone), marks), "a one-finger swipe moved the camera"

    view.scroll_into_view_if_needed()
    box = view.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    marks = camera_marks(phone)
    top = phone.evaluate("() => window.scrollY")
    touch(cdp, "touchStart", [(cx - 40, cy), (cx + 40, cy)])
    for k in range(1, 13):
        touch(cdp, "touchMove", [(cx - 40 + 10 * k, cy), (cx + 40 + 10 * k, cy)])
    touch(cdp, "touchEnd", [])
    wait_still(phone)
    assert phone.evaluate("() => window.scrollY") == top, "a two-finger drag scrolled the page"
    assert not same_camera(camera_marks(phone), marks), "a two-finger drag did not move the camera"


def test_unit_panel_leaves_the_answer_cards_uncovered(page):
    x, y = hover_unit_below(page, "fc1")
    page.mouse.click(x, y)
    panel = page.locator("#inspect")
    panel.wait_for(state="visible")
    box = panel.bounding_box()
    for card in (".result-card", ".compare-card"):
        assert not overlap(box, page.locator(card).bounding_box()), f"the unit panel covers {card}"
