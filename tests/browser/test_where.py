"""The "Where it stands" panel (issue 17): the data map draws, the drawing moves on it while it is
drawn, a scribble gets the plain atypical message, and "make it an 8" produces an 8."""

from __future__ import annotations

from pagetools import SEVEN, draw, wait_idle

# A fast zigzag scrawl over the pad: no digit.
SCRIBBLE = [[(0.2, 0.3), (0.8, 0.35), (0.25, 0.45), (0.85, 0.5), (0.2, 0.62), (0.8, 0.7),
             (0.3, 0.2), (0.7, 0.85), (0.15, 0.8), (0.9, 0.2)]]


def open_where(pg) -> None:
    pg.click("#tab-where")
    pg.locator("#panel-where").scroll_into_view_if_needed()
    pg.wait_for_selector("#where-map[data-drawing]", state="attached")
    wait_idle(pg)


def test_the_map_draws_and_the_drawing_moves_on_it_while_drawing(page):
    open_where(page)
    assert page.locator("#where-map").get_attribute("data-points") == "10000"
    assert page.locator("#where-neighbours .nb").count() == 9
    page.click("#clear")
    draw(page, SEVEN[:1], release=False)  # mid-stroke: the page asks while the stroke grows
    wait_idle(page)
    during = page.locator("#where-map").get_attribute("data-drawing")
    page.mouse.up()
    draw(page, [[(0.3, 0.5), (0.7, 0.5)]])  # a bar across: another place on the map
    wait_idle(page)
    after = page.locator("#where-map").get_attribute("data-drawing")
    assert during and after and during != after
    assert "atypical" not in (page.locator("#where-verdict").get_attribute("class") or "")


def test_a_scribble_is_called_what_it_is(page):
    open_where(page)
    page.click("#clear")
    draw(page, SCRIBBLE)
    wait_idle(page)
    verdict = page.locator("#where-verdict")
    assert "doesn't look like any digit I know" in verdict.inner_text()
    assert "atypical" in verdict.get_attribute("class")


def test_make_it_an_8(page):
    open_where(page)
    page.click("#make-8")
    page.wait_for_selector("#where-flips .flip", state="attached")
    wait_idle(page)
    flips = page.locator("#where-flips .flip")
    assert flips.count() == 2
    for i in range(2):
        assert flips.nth(i).get_attribute("data-label") == "8"
        assert "now read as 8" in flips.nth(i).inner_text()
