"""The unit panel's arithmetic adds up (issue 14, bug 5): for the unit the user inspects the page
asks /api/unit for its exact float32 inputs and output, so "Σ w·x + b = z" (and a dense unit's
"top + other + b = z") holds to the digits shown, and z is the server's own value for the unit."""

from __future__ import annotations

from decimal import Decimal

from pagetools import wait_idle


def shown(text: str) -> Decimal:
    return Decimal(text.strip().replace("−", "-"))


def open_unit(page, members: str, nth: int) -> None:
    row = page.locator(f"#maps .maps-row[data-members~='{members}']")
    row.locator("canvas.map").nth(nth).click()
    page.wait_for_selector("#inspect .footnote")


def sum_row(page, first_label: str) -> tuple[list[Decimal], Decimal]:
    """The terms and the total of the equation row that starts with `first_label`."""
    row = page.locator("#inspect .eq", has=page.locator(".eq-op", has_text=first_label)).first
    numbers = [shown(t) for t in row.locator("strong").all_inner_texts()]
    return numbers[:-1], numbers[-1]


def test_the_inspected_unit_adds_up_to_the_digits_shown(page):
    answers = []
    page.on("response", lambda r: answers.append(r) if r.url.endswith("/api/unit") else None)
    page.click("#samples .sample[data-label='8']")
    wait_idle(page)
    assert page.locator("#prediction").inner_text().strip() == "8"

    checked = 0
    for members, nth in [("conv1", 0), ("conv1", 5), ("conv1", 17), ("conv1", 29)]:
        open_unit(page, members, nth)
        terms, z = sum_row(page, "Σ w·x")
        assert sum(terms) == z, f"{members} map {nth}: {terms} do not add up to {z}"
        checked += 1
    # A dense unit: the largest contributions, the others and the bias make z, as shown.
    for members in ("fc1", "fc2"):
        open_unit(page, members, 0)
        terms, z = sum_row(page, "top ")
        assert len(terms) == 3 and sum(terms) == z, f"{members}: {terms} vs {z}"
        checked += 1
    assert checked == 6

    # The shown z is the server's exact output for that unit (the last one asked: fc2).
    assert page.get_attribute("#inspect", "data-exact") == "1"
    answer = answers[-1].json()
    assert answer["layer"] == "fc2" and answer["role"] == "weighted"
    digits = -z.as_tuple().exponent
    assert z == Decimal(answer["output"]).quantize(Decimal(1).scaleb(-digits))
    assert "(server" not in page.locator("#inspect").inner_text()
