"""Open pages notice a new live model: a visitor in a real Chromium draws a digit; another model is
published (by this test's process, as another server process would), and the visitor's Draw page
shows it within a few seconds, without its visitor doing anything, with their drawing and its
answer still there; a second visitor who opens the site meanwhile sees the new model too.
"""
import re
import time

import pytest

from mnistcore.lab.config import live_signal_path
from mnistcore.lab.store import ModelStore
from sitetools import CHROMIUM, CHROMIUM_ARGS, running_site, tiny_model, weights_copy
from strokes import stroke
from test_browser import chromium_or_skip, wait_for_the_run
from ui.chrome import LIVE_CHECK_EVERY

pytestmark = pytest.mark.browser
# The browser looks every 0.5 to 1.5 times LIVE_CHECK_EVERY seconds; the server's store at live.json at
# most every second.
NOTICED_WITHIN = 1.5 * LIVE_CHECK_EVERY + 1 + 3  # seconds, with room for the rerun on a busy machine


def test_an_open_draw_page_shows_a_newly_live_model_without_input(tmp_path, small_mnist):
    sync_playwright = chromium_or_skip()
    weights = weights_copy(tmp_path / "weights", small_mnist)
    env = {"MNISTLAB_FEEDBACK_DB": str(tmp_path / "lab.db")}
    with running_site(weights, env=env) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ada = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
            ada.goto(f"{url}/draw")
            canvas = ada.locator("canvas.upper-canvas")
            canvas.wait_for(timeout=30_000)
            ada.get_by_text("Draw a digit (0 to 9)").wait_for(timeout=30_000)
            wait_for_the_run(ada)
            stroke(ada, canvas.bounding_box(), [(0.25, 0.2), (0.75, 0.2), (0.4, 0.85)])  # a 7
            answer = ada.locator("h2", has_text=re.compile(r"Prediction: \d"))
            answer.wait_for(timeout=30_000)
            ada.get_by_text("the shipped model").wait_for(timeout=30_000)

            # As another server process on the same store would (mnistcore.lab.services makes it so).
            other = ModelStore(weights, signal_path=live_signal_path(weights))
            published = other.publish(tiny_model(small_mnist, hidden=32, samples=3000))
            made_live = time.perf_counter()
            # Nothing touches Ada's page from here on.
            ada.get_by_text("trained and published here").wait_for(timeout=NOTICED_WITHIN * 1000)
            print(f"\nDraw page showed the new live model {time.perf_counter() - made_live:.1f} s after the publish")
            assert ada.get_by_text("the shipped model").count() == 0
            wait_for_the_run(ada)
            assert answer.count() == 1  # the drawing is still there, answered by the new model

            grace = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
            grace.goto(f"{url}/draw")
            grace.get_by_text("trained and published here").wait_for(timeout=30_000)
            assert ModelStore(weights).live().name == published.name
        finally:
            browser.close()
