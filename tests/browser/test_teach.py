"""The explain-and-teach views in a real browser: im2col and pooling as matrices with a hover that
finds the right row, attribution heatmaps on the input and on the 3D view, the target digit
changing the map, preprocessing steps, training curves, confusion matrix and mistakes gallery,
and the robustness sliders."""

from __future__ import annotations

import numpy as np
from pagetools import SEVEN, changed_fraction, draw, predicted, snapshot, wait_idle, wait_still


def open_tab(pg, name: str) -> None:
    """Show one view (the click scrolls the views into sight, which lets them ask the server)."""
    pg.click(f"#tab-{name}")
    pg.wait_for_selector(f"#panel-{name}:not([hidden])")
    wait_idle(pg)


def shapes(pg, scope: str) -> list[str]:
    return [t.strip() for t in pg.locator(f"{scope} .im-shape").all_inner_texts()]


def hover_cell(pg, locator, x: int, y: int, width: int, height: int) -> None:
    """Move the mouse to the middle of data cell (x, y) of a layered canvas."""
    box = locator.bounding_box()
    pg.mouse.move(box["x"] + (x + 0.5) * box["width"] / width,
                  box["y"] + (y + 0.5) * box["height"] / height)


def not_blank(pg, selector: str) -> np.ndarray:
    shot = snapshot(pg.locator(selector))
    assert shot.std() > 8, f"{selector} is blank"
    return shot


def ink_change(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the inked pixels (in either gray image) that changed."""
    a = a.astype(int).max(axis=2)
    b = b.astype(int).max(axis=2)
    ink = (a > 100) | (b > 100)
    return float(((np.abs(a - b) > 60) & ink).sum() / max(1, ink.sum()))


def greenish(shot: np.ndarray) -> int:
    """Pixels in the attribution scale's teal-to-lime (no activation colour is green-dominant)."""
    rgb = shot.astype(int)
    return int(((rgb[..., 1] > rgb[..., 0] + 40) & (rgb[..., 1] > rgb[..., 2] + 15)).sum())


def test_im2col_conv_and_pool_with_hover(page):
    open_tab(page, "im2col")
    page.wait_for_selector("#im2col-view[data-kind=conv]")
    assert ({"1 × 28 × 28", "576 × 25", "25 × 30", "576 × 30", "30 × 24 × 24"}
            <= set(shapes(page, "#im2col-view")))
    for selector in ("#im-cols", "#im-weight", "#im-product", "#im-input .layered",
                     "#im-output .layered >> nth=5"):
        not_blank(page, selector)

    # Output unit (map 5, row 9, col 14) is row 9·24 + 14 of cols and entry (row, 5) of the product.
    hover_cell(page, page.locator("#im-output .layered").nth(5), 14, 9, 24, 24)
    row = 9 * 24 + 14
    assert page.locator("#im2col-view").get_attribute("data-row") == str(row)
    band = page.locator("#im-cols rect.mark-row")
    assert band.get_attribute("y") == str(row) and band.get_attribute("width") == "25"
    cell = page.locator("#im-product rect.mark-cell")
    assert (cell.get_attribute("x"), cell.get_attribute("y")) == ("5", str(row))
    field = page.locator("#im-input rect.mark-box")
    assert (field.get_attribute("x"), field.get_attribute("y"),
            field.get_attribute("width")) == ("14", "9", "5")
    assert page.locator("#im-weight rect.mark-col").get_attribute("x") == "5"
    assert band.is_visible(), "the matrices did not scroll to the hovered row"
    readout = page.locator("#im-readout").inner_text()
    assert "output[5, 9, 14]" in readout and f"row {row} of cols" in readout

    # Hovering the product itself moves the highlight too.
    hover_cell(page, page.locator("#im-product"), 2, 100, 30, 576)
    assert band.get_attribute("y") == "100"

    page.select_option("#im-layer", "pool1")
    page.wait_for_selector("#im2col-view[data-kind=maxpool]")
    wait_idle(page)
    assert {"30 × 24 × 24", "4320 × 4", "30 × 12 × 12"} <= set(shapes(page, "#im2col-view"))
    not_blank(page, "#im-windows")
    not_blank(page, "#im-winners .layered >> nth=0")
    hover_cell(page, page.locator("#im-output .layered").nth(2), 3, 7, 12, 12)
    row = 2 * 144 + 7 * 12 + 3
    assert page.locator("#im-windows rect.mark-row").get_attribute("y") == str(row)
    assert page.locator("#im-argmax rect.mark-row").get_attribute("y") == str(row)
    assert page.locator("#im-windows rect.mark-cell").count() == 1
    assert "max of row" in page.locator("#im-readout").inner_text()


def test_why_heatmaps_follow_method_and_target(page):
    page.locator("#samples .sample[data-label='7']").first.click()
    assert predicted(page) == "7"
    view_before = snapshot(page.locator("#network-view"))
    open_tab(page, "why")
    page.wait_for_selector("#why-figures[data-method=saliency][data-target='7']")
    shot = not_blank(page, "#why-overlay")
    assert greenish(shot) > 200, "no heat over the input"
    heat7 = snapshot(page.locator("#why-heat"))
    assert "Why a 7?" in page.locator("#why-text").inner_text()

    # Turned on, the same heat lies on the 3D view's input layer (off until asked: issue 14).
    assert page.locator("#overlay-note").is_hidden()
    page.check("#why-3d")
    page.wait_for_selector("#overlay-note:not([hidden])")
    wait_still(page)
    view_after = snapshot(page.locator("#network-view"))
    assert greenish(view_after) > greenish(view_before) + 300, "no heat on the 3D input layer"

    page.click("#why-targets [data-target='3']")
    page.wait_for_selector("#why-figures[data-target='3']")
    wait_idle(page)
    assert "Why not a 3?" in page.locator("#why-text").inner_text()
    assert changed_fraction(heat7, snapshot(page.locator("#why-heat"))) > 0.2, \
        "the target did not change the map"

    # A probability bar asks about its digit.
    page.locator("#prob-bars li").nth(1).click()
    page.wait_for_selector("#why-figures[data-target='1']")
    assert "target" in page.locator("#prob-bars li").nth(1).get_attribute("class")

    page.click("#why-methods [data-method=gradcam]")
    page.wait_for_selector("#why-figures[data-method=gradcam]")
    not_blank(page, "#why-extra")
    assert "24×24" in page.locator("#why-figures").inner_text()
    page.click("#why-methods [data-method=occlusion]")
    page.wait_for_selector("#why-figures[data-method=occlusion]")
    assert "6×6 patch, stride 2" in page.locator("#why-figures").inner_text()

    # The explanation follows the drawing, even with the views scrolled away (it is on the 3D view).
    page.click("#why-methods [data-method=saliency]")
    page.click("#why-targets [data-target='auto']")
    page.locator("#samples .sample[data-label='2']").first.click()
    page.wait_for_selector("#why-figures[data-method=saliency][data-target='2']")
    assert "for a 2" in page.locator("#overlay-note").inner_text()

    page.uncheck("#why-3d")
    assert page.locator("#overlay-note").is_hidden()


def test_preprocessing_steps_of_a_drawing(page):
    page.click("#clear")
    draw(page, SEVEN)
    assert predicted(page) == "7"
    open_tab(page, "prep")
    page.wait_for_selector("#prep-steps")
    assert page.locator("#prep-steps figure").count() == 5
    text = page.locator("#prep-steps").inner_text()
    assert "crop to the ink" in text and "fit into 20 × 20" in text and "centre of mass" in text
    assert page.locator("#prep-steps rect.mark-box").count() == 1, "no crop box on the source"
    # the whole pad, though the server is sent its ink's box (issue 18)
    assert "280 × 280 px" in page.locator("#prep-steps .prep-fig").first.inner_text()
    for k in range(5):
        not_blank(page, f"#prep-steps figure >> nth={k} >> canvas")
    network_saw = snapshot(page.locator("#input-view"))
    assert network_saw.max() > 200
    assert page.locator("#prep-note").inner_text() == ""


def test_model_quality_and_loading_a_mistake(page):
    open_tab(page, "quality")
    page.wait_for_selector("#confusion")
    assert "epoch" in page.locator("#quality-summary").inner_text()
    for chart in ("#curve-loss", "#curve-acc"):
        not_blank(page, chart)
    assert page.locator("#confusion tbody tr").count() == 10
    everything = page.locator("#mistakes .mistake").count()
    assert everything > 10

    cell = page.locator("#confusion .cm-cell.err").first
    label, wrong = cell.get_attribute("data-label"), cell.get_attribute("data-predicted")
    cell.click()
    shown = page.locator("#mistakes .mistake")
    assert 0 < shown.count() < everything
    for k in range(shown.count()):
        assert (shown.nth(k).get_attribute("data-label"),
                shown.nth(k).get_attribute("data-predicted")) == (label, wrong)
    assert "show all" in page.locator("#mistakes-note").inner_text()

    shown.first.click()
    page.wait_for_selector(f"#status:has-text('took for {wrong}')")
    assert predicted(page) == wrong, "the loaded mistake is not the model's mistake"
    page.locator("#mistakes-note .link-btn").click()
    assert page.locator("#mistakes .mistake").count() == everything


def test_robustness_sliders_change_the_prediction(page):
    page.locator("#samples .sample[data-label='4']").first.click()
    assert predicted(page) == "4"
    open_tab(page, "robust")
    page.wait_for_selector("#probe-label")
    before = not_blank(page, "#probe-transformed")
    assert page.locator("#probe-label").inner_text() == "4"
    not_blank(page, "#probe-curve")
    assert "sideways" in page.locator("#probe-curve-note").inner_text()

    page.locator("#probe-dx").fill("7")
    page.locator("#probe-angle").fill("40")
    wait_idle(page)
    moved = snapshot(page.locator("#probe-transformed"))
    assert ink_change(before, moved) > 0.5, "the sliders did not transform the digit"
    page.locator("#probe-scale").fill("0.5")
    page.locator("#probe-thickness").fill("2")
    wait_idle(page)
    assert page.locator("#probe-label").inner_text() != "4", \
        "a small, thick, rotated, shifted 4 is still a 4"
    page.click("#probe-reset")
    wait_idle(page)
    assert page.locator("#probe-label").inner_text() == "4"
    assert ink_change(before, snapshot(page.locator("#probe-transformed"))) < 0.02
