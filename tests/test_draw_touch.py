"""The Draw page on a phone: 390 x 844, touch only, in a real Chromium.

The site's menu closes once a page is chosen.
Every stroke counts: strokes that start at the very top of the canvas (where the canvas'
toolbar used to lie invisible and swallow them), and a stroke started right after Clear. Nothing
on the page sticks out past the screen's 390 px.
"""
import re

import pytest

from sitetools import CHROMIUM, CHROMIUM_ARGS, running_site, weights_copy
from test_browser import chromium_or_skip, wait_for_the_run

pytestmark = pytest.mark.browser
PHONE = dict(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True, device_scale_factor=3)


def touch_stroke(cdp, box, points, steps: int = 12) -> None:
    """One finger stroke through `points` (fractions of the canvas' width and height)."""
    def at(x, y):
        return [{"x": box["x"] + x * box["width"], "y": box["y"] + y * box["height"]}]

    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": at(*points[0])})
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        for i in range(1, steps + 1):
            t = i / steps
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": at(x0 + t * (x1 - x0),
                                                                                       y0 + t * (y1 - y0))})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def answer(page) -> str:
    heading = page.locator("h2", has_text=re.compile(r"Prediction: \d"))
    heading.wait_for(timeout=30_000)
    return heading.inner_text().strip()


def widest_right_edge(page) -> float:
    return page.evaluate("""() => Math.max(...[...document.querySelectorAll('body *')]
        .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
        .map(e => e.getBoundingClientRect().right))""")


def test_every_stroke_counts_on_a_phone(tmp_path, small_mnist):
    sync_playwright = chromium_or_skip()
    weights = weights_copy(tmp_path / "weights", small_mnist)
    with running_site(weights, env={"MNISTLAB_FEEDBACK_DB": str(tmp_path / "lab.db")}) as url, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(**PHONE).new_page()
            # The menu: open it, choose Draw; it closes by itself and Draw is in view.
            page.goto(url)
            page.locator('[data-testid="stExpandSidebarButton"]').tap()
            page.locator('[data-testid="stSidebarNavLink"]', has_text="Draw").tap()
            page.locator("h1", has_text="Draw a digit").wait_for(timeout=30_000)
            page.locator('[data-testid="stSidebar"][data-collapsed="true"]').wait_for(state="attached", timeout=30_000)
            canvas = page.locator("canvas.upper-canvas")
            canvas.wait_for(timeout=30_000)
            page.get_by_text("Draw a digit (0 to 9)").wait_for(timeout=30_000)
            wait_for_the_run(page)
            cdp = page.context.new_cdp_session(page)
            box = canvas.bounding_box()
            # A 7 whose bar starts at the very top right, where the toolbar used to swallow it.
            touch_stroke(cdp, box, [(0.3, 0.03), (0.9, 0.03), (0.5, 0.95)])
            assert answer(page) == "Prediction: 7"
            assert widest_right_edge(page) <= 390

            assert canvas.bounding_box() == box  # the answer appeared above it, and the canvas stayed put
            clear = page.get_by_role("button", name="Reset canvas & history")
            assert clear.is_visible() and clear.bounding_box()["y"] + clear.bounding_box()["height"] <= box["y"]
            clear.tap()
            touch_stroke(cdp, box, [(0.5, 0.04), (0.5, 0.96)])  # at once: no waiting for the page
            page.locator("h2", has_text="Prediction: 1").wait_for(timeout=30_000)
            assert page.locator("canvas.upper-canvas").count() == 1
        finally:
            browser.close()
