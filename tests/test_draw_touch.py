"""The Draw page on a phone: 390 x 844, touch only, in a real Chromium; and what one drawing
costs the server (AppTest, no browser).

The site's menu closes once a page is chosen.
Every stroke counts: strokes that start at the very top of the canvas (where the canvas'
toolbar used to lie invisible and swallow them), and a stroke started right after Clear. Nothing
on the page sticks out past the screen's 390 px.
"""
import re

import numpy as np
import pytest
from playwright.sync_api import expect
from streamlit.testing.v1 import AppTest

import mnistcore.explain.reading
from sitetools import APP, CHROMIUM, CHROMIUM_ARGS, drawing, running_site, weights_copy
from strokes import PHONE, touch_stroke
from test_browser import chromium_or_skip, wait_for_the_run


def answer(page) -> str:
    heading = page.locator("h2", has_text=re.compile(r"Prediction: \d"))
    heading.wait_for(timeout=30_000)
    return heading.inner_text().strip()


def widest_right_edge(page) -> float:
    return page.evaluate("""() => Math.max(...[...document.querySelectorAll('body *')]
        .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
        .map(e => e.getBoundingClientRect().right))""")


def test_one_drawing_is_read_once(tmp_path, monkeypatch, mnist):
    """Saying "Yes" reruns the page with the same drawing: nothing is worked out again for it, and
    the drawing as the model sees it is kept for the Look inside page."""
    calls = []
    read = mnistcore.explain.reading.ink_steps
    monkeypatch.setattr(mnistcore.explain.reading, "ink_steps", lambda *a, **k: calls.append(1) or read(*a, **k))
    monkeypatch.setenv("MNISTLAB_WEIGHTS_DIR", str(weights_copy(tmp_path / "weights", mnist)))
    monkeypatch.setenv("MNISTLAB_FEEDBACK_DB", str(tmp_path / "lab.db"))
    (_, _), (x_test, y_test) = mnist
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page("pages/draw.py").run()
    at.session_state["canvas"] = drawing(x_test[0])
    at.run()
    assert [h.value for h in at.header] == [f"Prediction: {y_test[0]}"] and len(calls) == 1
    last = at.session_state["last_digit"]
    assert last.shape == (28, 28) and last.dtype == np.float32 and 0 <= last.min() and last.max() <= 1
    at.button(key="confirm").click().run()
    assert any("Saved: you said" in s.value for s in at.success) and len(calls) == 1
    at.session_state["canvas"] = drawing(x_test[1])  # a new drawing is read, once
    at.run()
    assert [h.value for h in at.header] == [f"Prediction: {y_test[1]}"] and len(calls) == 2


@pytest.mark.browser
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
            # Undo and Clear show above the canvas from the start (the toolbar fix reached the
            # canvas' shadow root), not only once a first stroke has changed the page.
            expect(page.locator(".dc-toolbar")).to_have_css("opacity", "1", timeout=10_000)
            clear = page.get_by_role("button", name="Clear", exact=True)  # the name it shows
            assert clear.bounding_box()["y"] + clear.bounding_box()["height"] <= box["y"]
            # A 7 whose bar starts at the very top right, where the toolbar used to swallow it.
            touch_stroke(cdp, box, [(0.3, 0.03), (0.9, 0.03), (0.5, 0.95)])
            assert answer(page) == "Prediction: 7"
            assert widest_right_edge(page) <= 390
            # All ten of "No, it's a ..." on screen, none cut off at the edge of their row.
            group = page.locator('[data-testid="stButtonGroup"]', has_text="No, it's a")
            edge = group.bounding_box()["x"] + group.bounding_box()["width"]
            pills = group.locator("button").evaluate_all("bs => bs.map(b => b.getBoundingClientRect().right)")
            assert len(pills) == 10 and max(pills) <= edge, (pills, edge)

            assert canvas.bounding_box() == box  # the answer appeared above it, and the canvas stayed put
            assert clear.is_visible() and clear.bounding_box()["y"] + clear.bounding_box()["height"] <= box["y"]
            clear.tap()
            touch_stroke(cdp, box, [(0.5, 0.04), (0.5, 0.96)])  # at once: no waiting for the page
            page.locator("h2", has_text="Prediction: 1").wait_for(timeout=30_000)
            assert page.locator("canvas.upper-canvas").count() == 1
        finally:
            browser.close()
