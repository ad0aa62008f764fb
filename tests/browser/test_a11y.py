"""Keyboard, screen readers and contrast (issue 14, WCAG 2.2 AA): axe-core (pinned in
package-lock.json, injected from node_modules) finds no critical or serious violation on any
shipped model's page, nor on any tab of one model per dataset; a skip link reaches the 3D view,
the sample grid is one tab stop with arrow keys, the view's units are reachable and announced
from the keyboard, and the upload control shows where the keyboard is."""

from __future__ import annotations

import json
import urllib.request

import pytest
from conftest import ROOT, VIEWPORT
from pagetools import wait_idle

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TABS = ["why", "im2col", "prep", "quality", "robust"]
RUN_AXE = """async (selector) => {
  const scope = selector ? document.querySelector(selector) : document;
  const result = await axe.run(scope, {resultTypes: ["violations"]});
  return result.violations
    .filter((v) => v.impact === "critical" || v.impact === "serious")
    .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                  targets: v.nodes.slice(0, 5).map((n) => n.target.join(" "))}));
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    # scripts/lint runs `npm ci` first, so the pinned axe-core is there in CI and scripts/test.
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` (axe-core is a dev dependency)"
    return AXE.read_text()


@pytest.fixture(scope="module")
def models(server_url) -> dict[str, tuple[str, str]]:
    """Each shipped model's (dataset, architecture)."""
    with urllib.request.urlopen(server_url + "/api/models") as r:
        return {m["name"]: (m["dataset"], m["arch"]) for m in json.load(r)["models"]}


@pytest.fixture
def axe_page(browser, server_url, console_errors):
    """The page with CSP bypassed so axe's script can be injected (the page's own CSP forbids
    inline scripts); console errors fail the test as for `page`."""
    context = browser.new_context(viewport=VIEWPORT, bypass_csp=True)
    pg = context.new_page()
    pg.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: console_errors.append(f"uncaught: {e}"))
    pg.set_default_timeout(30_000)
    yield pg
    context.close()
    assert not console_errors, f"console errors: {console_errors}"


def test_axe_finds_no_critical_or_serious_violation(axe_page, server_url, axe_source, models):
    pg = axe_page
    assert len(models) >= 4, models
    found, swept, built = {}, set(), set()
    for name, (dataset, arch) in models.items():
        # The whole page once per architecture (its layers make the view, chips and maps) and
        # every tab, each opened and answered, once per dataset (its class names and copy):
        # another model of the same architecture and dataset has the same markup, and each
        # sweep costs a browser-second per tab.
        if arch in built and dataset in swept:
            continue
        tabs = TABS if dataset not in swept else TABS[:1]
        swept.add(dataset)
        built.add(arch)
        pg.goto(f"{server_url}/?model={name}")
        pg.wait_for_selector("#prediction[data-state=ok]")
        wait_idle(pg)
        pg.add_script_tag(content=axe_source)
        for i, tab in enumerate(tabs):
            pg.click(f"#tab-{tab}")
            pg.wait_for_selector(f"#panel-{tab}:not([hidden])")
            wait_idle(pg)
            if tab == "quality":
                pg.wait_for_selector("#mistakes button, #mistakes-note:not(:empty)",
                                     state="attached")
            if tab == "im2col":
                pg.wait_for_selector("#im-body .im-scroll")
            violations = pg.evaluate(RUN_AXE, None if i == 0 else "#teach")
            if violations:
                found[f"{name}/{tab}"] = violations
    assert not found, json.dumps(found, indent=1, ensure_ascii=False)


def tab_until(pg, selector: str, limit: int = 30) -> int:
    """Press Tab until `selector` has focus; the number of presses."""
    target = pg.locator(selector)
    for presses in range(1, limit + 1):
        pg.keyboard.press("Tab")
        if target.evaluate("(e) => e === document.activeElement"):
            return presses
    raise AssertionError(f"{selector} not reached in {limit} presses of Tab")


def focused(pg, attribute: str) -> str | None:
    return pg.evaluate(f"document.activeElement.getAttribute({attribute!r})")


def test_the_skip_link_reaches_the_view_and_its_units_are_keyboard_reachable(page):
    page.keyboard.press("Tab")
    assert focused(page, "class") == "skip-link"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    assert focused(page, "id") == "network-view"
    # Focusing the view highlights a unit and announces it (and shows it in the readout).
    live = page.locator("#view-live")
    assert live.get_attribute("aria-live") == "polite"
    page.wait_for_selector("#view-live:not(:empty)", state="attached")
    first = live.inner_text()
    assert first.startswith("conv1") and ": " in first, first
    assert page.locator("#hover-readout").is_visible()
    assert page.locator("#hover-readout .ro-title").inner_text() == first.split(":")[0]

    page.keyboard.press("ArrowDown")
    within = live.inner_text()
    assert within != first and within.startswith("conv1"), within
    page.keyboard.press("ArrowRight")
    across = live.inner_text()
    assert across.startswith("pool1"), across
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert live.inner_text().startswith("fc2 · output"), live.inner_text()
    assert "probability" in live.inner_text()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("End")
    last = live.inner_text()
    assert last.startswith("fc1") and "unit 99" in last, last

    # Enter opens the unit panel on that unit; Escape closes it.
    page.keyboard.press("Enter")
    page.wait_for_selector("#inspect .footnote")
    assert page.locator("#inspect-title").inner_text() == last.split(":")[0]
    page.keyboard.press("Escape")
    page.locator("#inspect").wait_for(state="hidden")


def test_the_sample_grid_is_one_tab_stop_with_arrow_keys(page):
    presses = tab_until(page, "#samples .sample[tabindex='0']")
    # Skip link, dataset, network, Explain, Train, API, Tour, Share, brush, Undo, Clear, Upload
    # (Replay is disabled until something is drawn), then the grid's one stop.
    assert presses <= 13, f"{presses} presses to reach the samples"
    assert page.locator("#samples .sample[tabindex='0']").count() == 1
    start = int(focused(page, "data-index"))
    page.keyboard.press("ArrowRight")
    right = int(focused(page, "data-index"))
    page.keyboard.press("ArrowDown")
    down = focused(page, "data-label")
    assert right != start and down == "1", (start, right, down)  # a row is one digit
    assert page.locator("#samples .sample[tabindex='0']").count() == 1
    page.keyboard.press("Enter")
    wait_idle(page)
    assert page.locator("#prediction").inner_text().strip() == "1"
    # The next Tab leaves the grid: 3D/Flat is a few presses on, not a hundred.
    after = tab_until(page, "#layout-3d", limit=10)
    assert after <= 5, after


def test_the_upload_control_shows_keyboard_focus(page):
    tab_until(page, "#upload")
    label = page.locator("label.upload")
    outline = label.evaluate("(e) => getComputedStyle(e).outlineStyle + ' ' + "
                             "getComputedStyle(e).outlineWidth")
    assert outline.startswith("solid") and not outline.endswith(" 0px"), outline


def test_small_hint_text_has_aa_contrast(page):
    """11 px text needs 4.5:1 against the card and view behind it."""
    def luminance(rgb: str) -> float:
        values = [int(v) / 255 for v in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]]
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in values]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    for selector, background in ((".kbd-hint", "#121925"), (".view-help", "#0c1018")):
        color = page.locator(selector).evaluate("(e) => getComputedStyle(e).color")
        hexed = f"rgb({int(background[1:3], 16)}, {int(background[3:5], 16)}, " \
                f"{int(background[5:7], 16)})"
        a, b = sorted((luminance(color), luminance(hexed)), reverse=True)
        ratio = (a + 0.05) / (b + 0.05)
        assert ratio >= 4.5, (selector, color, ratio)


# Where scrollToSight leaves the page right after it is called, and where it ends up.
SCROLL_TO_BOTTOM = """async () => {
  const { scrollToSight } = await import('/static/js/dom.js');
  window.scrollTo({ top: 0, behavior: 'instant' });
  const last = document.querySelector('footer') || document.body.lastElementChild;
  scrollToSight(last, 'end');
  const at = window.scrollY;
  await new Promise((done) => setTimeout(done, 1500));
  return [at, window.scrollY];
}"""


@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
def test_scrolling_jumps_for_a_reader_who_asked_for_reduced_motion(page, motion):
    page.emulate_media(reduced_motion=motion)
    at_once, settled = page.evaluate(SCROLL_TO_BOTTOM)
    assert settled > 200, "the page did not scroll"
    if motion == "reduce":
        assert at_once == settled  # a jump: there at once
    else:
        assert at_once < settled  # a glide: still on its way
