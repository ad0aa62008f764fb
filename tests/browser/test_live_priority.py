"""Live previews yield (issue 18): what the page asks while a stroke is drawn is marked as a
preview (a busy server serves it after everything else), what it asks at the stroke's end is not,
and that final request aborts a preview still on its way instead of waiting for it."""

from __future__ import annotations

import time

from pagetools import SEVEN, draw, predicted


def test_previews_are_marked_and_a_strokes_end_aborts_the_one_running(page, server_url):
    seen = []  # (preview header, body) of every /api/activations request, in order
    held = []  # previews kept back: a network slow enough that the stroke ends first
    failed = []

    def slow_previews(route):
        request = route.request
        seen.append((request.headers.get("cnnvis-preview"), request.post_data_json))
        if request.headers.get("cnnvis-preview") == "1":
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/activations", slow_previews)
    page.on("requestfailed", lambda r: failed.append((r.headers.get("cnnvis-preview"), r.failure)))
    draw(page, SEVEN, release=False)
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "no live preview was asked while drawing"
    # One request in flight: the held preview; newer pictures wait for it (latest.js).
    assert [h for h, _ in seen] == ["1"]
    page.mouse.up()
    assert predicted(page), "the stroke's end got no answer"
    assert page.locator("#prediction").get_attribute("data-state") == "ok"
    # The final request went out at once, unmarked, and the preview it superseded was aborted.
    assert [h for h, _ in seen] == ["1", None], seen
    assert ("1", "net::ERR_ABORTED") in failed, failed
    final = seen[-1][1]
    assert final["model"] and final["image"].startswith("data:image/png;base64,")
    page.unroute("**/api/activations")
