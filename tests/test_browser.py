"""The Draw page in a real Chromium: draw a 7 with the mouse, read the prediction, confirm it.

A stroke reruns only the Draw page's fragment (the answer, the canvas and what follows them), not
the whole page: checked in the messages the server sends back.

Needs Chromium (Debian's /usr/bin/chromium) and the `playwright` Python package. Where they
cannot be had the test is skipped, except in CI (CI=true), where a skip would hide a failure.
"""
import os
import re
import time

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from mnistcore.lab.feedback import FeedbackStore
from sitetools import CHROMIUM, CHROMIUM_ARGS, running_site, weights_copy
from strokes import stroke

pytestmark = pytest.mark.browser


def chromium_or_skip():
    """Playwright's sync API, or a skip (a failure in CI) saying what is missing."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright Python package is not installed (pip install playwright)"
    if missing is None and not CHROMIUM.exists():
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if missing is None:
        return sync_playwright
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the browser test must run in CI, but {missing}")
    pytest.skip(missing)


def wait_for_the_run(page) -> None:
    """Wait until the page's script run is over: a canvas mounted during a run may miss a stroke."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=30_000)


def draw_and_read(page, canvas, points) -> str:
    """Draw one stroke, wait for the answer, print how long it took after the mouse was released."""
    stroke(page, canvas.bounding_box(), points)
    released = time.perf_counter()
    answer = page.locator("h2", has_text=re.compile(r"Prediction: \d"))
    answer.wait_for(timeout=30_000)
    print(f"\nmouse-up to prediction: {(time.perf_counter() - released) * 1000:.0f} ms")
    return answer.inner_text().strip()


def watch_the_server(page) -> list[bytes]:
    """Every message the server sends this page, as it arrives (register before page.goto)."""
    received: list[bytes] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.append(payload)))
    return received


def runs_in(messages: list[bytes]) -> tuple[list[int], list[str]]:
    """How the runs in `messages` ended (ForwardMsg.script_finished values) and the headings drawn."""
    ended, headings = [], []
    for raw in messages:
        if not isinstance(raw, bytes):
            continue
        message = ForwardMsg()
        message.ParseFromString(raw)
        kind = message.WhichOneof("type")
        if kind == "script_finished":
            ended.append(message.script_finished)
        elif kind == "delta" and message.delta.new_element.WhichOneof("type") == "heading":
            headings.append(message.delta.new_element.heading.body)
    return ended, headings


def test_drawing_digits_with_the_mouse(tmp_path, small_mnist):
    sync_playwright = chromium_or_skip()
    weights = weights_copy(tmp_path / "weights", small_mnist)
    lab = tmp_path / "lab.db"
    with running_site(weights, env={"MNISTLAB_FEEDBACK_DB": str(lab)}) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            received = watch_the_server(page)
            page.goto(f"{url}/draw")
            canvas = page.locator("canvas.upper-canvas")
            canvas.wait_for(timeout=30_000)
            page.get_by_text("Draw a digit (0 to 9)").wait_for(timeout=30_000)  # the first render is done
            wait_for_the_run(page)
            before_the_stroke = len(received)
            # A 7: a bar along the top, then down and to the left, as most people write it.
            first = draw_and_read(page, canvas, [(0.25, 0.2), (0.75, 0.2), (0.4, 0.85)])
            assert first == "Prediction: 7"
            wait_for_the_run(page)
            # Only the fragment ran: it ended as a fragment run, and the page's title was not redrawn.
            ended, headings = runs_in(received[before_the_stroke:])
            assert ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY in ended
            assert ForwardMsg.FINISHED_SUCCESSFULLY not in ended, ended
            assert "Prediction: 7" in headings and "Draw a digit" not in headings, headings
            page.get_by_text("centred in 28 × 28", exact=True).wait_for(timeout=30_000)  # the steps are shown too
            # "Was I right?" Yes: the drawing is stored with its label, once.
            page.get_by_role("button", name="Yes, it's a 7").click()
            page.get_by_text("Saved: you said 7; the model said 7 too.").wait_for(timeout=30_000)
            page.get_by_role("button", name="Yes, it's a 7").wait_for(state="detached", timeout=30_000)
            stored = FeedbackStore(lab).all()
            assert stored.labels.tolist() == [7] and stored.predicted.tolist() == [7]
            # Clear (the canvas' own, in the browser): the hint again, no prediction; then a 1.
            page.get_by_role("button", name="Clear", exact=True).click()
            page.get_by_text("Draw a digit (0 to 9)").wait_for(timeout=30_000)
            assert page.locator("h2", has_text="Prediction:").count() == 0
            wait_for_the_run(page)
            assert draw_and_read(page, canvas, [(0.5, 0.15), (0.5, 0.85)]) == "Prediction: 1"
        finally:
            browser.close()


def test_undo_stroke_after_saving_an_answer_keeps_the_answer_listed(tmp_path, small_mnist):
    """The canvas' Undo stroke and "Take back my answer" are two things: undoing a stroke after
    saving an answer leaves the answer saved and in view, where it can still be taken back."""
    sync_playwright = chromium_or_skip()
    weights = weights_copy(tmp_path / "weights", small_mnist)
    lab = tmp_path / "lab.db"
    with running_site(weights, env={"MNISTLAB_FEEDBACK_DB": str(lab)}) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{url}/draw")
            canvas = page.locator("canvas.upper-canvas")
            canvas.wait_for(timeout=30_000)
            page.get_by_text("Draw a digit (0 to 9)").wait_for(timeout=30_000)
            wait_for_the_run(page)
            stroke(page, canvas.bounding_box(), [(0.25, 0.2), (0.75, 0.2)])  # a 7's bar: a line so far
            page.get_by_text("That is a straight line").wait_for(timeout=30_000)
            wait_for_the_run(page)
            assert draw_and_read(page, canvas, [(0.75, 0.2), (0.4, 0.85)]) == "Prediction: 7"
            page.get_by_role("button", name="Yes, it's a 7").click()
            page.get_by_text("Saved: you said 7; the model said 7 too.").wait_for(timeout=30_000)
            wait_for_the_run(page)
            undo_stroke = page.get_by_role("button", name="Undo stroke", exact=True)  # its name is what it shows
            label = undo_stroke.evaluate("b => getComputedStyle(b, '::after').content")
            assert label == '"Undo stroke"', label
            undo_stroke.click()
            page.get_by_text("That is a straight line").wait_for(timeout=30_000)  # the bar alone again
            page.get_by_text("Your answer for the drawing before this one stays saved").wait_for(timeout=30_000)
            assert FeedbackStore(lab).count() == 1
            page.get_by_role("button", name="Take back my answer").click()
            page.get_by_role("button", name="Take back my answer").wait_for(state="detached", timeout=30_000)
            assert FeedbackStore(lab).count() == 0
        finally:
            browser.close()
