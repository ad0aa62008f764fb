"""The flat feature maps below the 3D view are painted only while in view (issue 18: no work on
hundreds of unseen canvases for each answer of a drawn stroke), and whatever was drawn while
they were out of view shows as soon as they scroll in, exactly as a repaint in view shows it."""

from __future__ import annotations

from pagetools import SEVEN, draw, snapshot, wait_idle

ROW = "#maps .maps-row[data-members~='conv1']"
PIXELS = f"""() => {{
  const cv = document.querySelector("{ROW} canvas.map");
  return Array.from(cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data);
}}"""


def first_map(page):
    row = page.locator(ROW)
    row.scroll_into_view_if_needed()
    page.wait_for_timeout(150)  # the observer's callback and the frame showing its paint
    return snapshot(row.locator("canvas.map").first)


def test_maps_drawn_out_of_view_show_the_latest_answer_once_in_view(page):
    before = first_map(page)  # the start-up sample's, painted in view
    page.evaluate("() => window.scrollTo(0, 0)")
    assert page.locator(ROW).bounding_box()["y"] > page.viewport_size["height"]
    painted = page.evaluate(PIXELS)
    page.click("#clear")
    wait_idle(page)
    draw(page, SEVEN)
    wait_idle(page)
    assert page.evaluate(PIXELS) == painted, "maps out of view were painted"
    range_text = page.locator(f"{ROW} .maps-range").inner_text()  # kept current off screen too
    late = first_map(page)
    assert late.std() > 5, "the conv1 map is blank"
    assert (late != before).any(), "the maps still show the sample drawn before the 7"
    # A repaint in view of the same answer (colour scale per layer, then per map again).
    for mode in ("layer", "map"):
        page.select_option("#scale-mode", mode)
        wait_idle(page)
    page.wait_for_timeout(150)
    assert (snapshot(page.locator(ROW).locator("canvas.map").first) == late).all()
    assert page.locator(f"{ROW} .maps-range").inner_text() == range_text


EASING = "() => getComputedStyle(document.querySelector('#prob-bars .bar-fill')).transitionDuration"
MAPS = """() => {
  const maps = document.getElementById("maps");
  return [getComputedStyle(maps).contentVisibility, maps.getBoundingClientRect().height,
          document.documentElement.scrollHeight];
}"""


def test_while_a_stroke_is_drawn_bars_jump_and_unseen_maps_sleep_in_their_size(page):
    """Live answers come every 150 ms while drawing: eased bars never rest, and every frame of
    their easing repainted the whole page on the main thread; the maps out of view are left out
    of rendering meanwhile, keeping their size (issue 18: long tasks)."""
    page.evaluate("() => window.scrollTo(0, 0)")
    page.click("#clear")
    wait_idle(page)
    assert page.evaluate(EASING) != "0s"
    awake = page.evaluate(MAPS)
    assert awake[0] == "visible"
    draw(page, SEVEN[:1], release=False)
    assert page.evaluate(EASING) == "0s"
    assert page.evaluate(MAPS) == ["hidden", *awake[1:]]
    page.mouse.up()
    wait_idle(page)
    assert page.evaluate(EASING) != "0s"
    assert page.evaluate(MAPS) == awake
