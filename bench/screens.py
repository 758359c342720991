"""Screenshots of the site's pages at 1280x900 (mouse) and 390x844 (touch), for a person to look at.

    .venv/bin/python -m bench.screens --out /tmp/screens [--pages home draw] [--draw] [--locale zh-CN]

Starts the site on 127.0.0.1 with a copy of the shipped model, opens each page in Debian's
Chromium, and saves PAGE-desktop.png and PAGE-phone.png (full page). With --draw, the Draw page
is shot again after a 7 is drawn on it (a finger stroke on the phone): its first screen, and all of it.
With --letter, Draw is shot after a letter A is drawn on it (three strokes): its first screen.
"""
from __future__ import annotations

import re
import argparse
import tempfile
from pathlib import Path


from playwright.sync_api import sync_playwright

from tests.sitetools import CHROMIUM, CHROMIUM_ARGS, running_site, weights_copy
from tests.strokes import PHONE, stroke, touch_stroke

PAGES = ["home", "train", "gallery", "draw", "handwriting", "inside"]
SEVEN = [(0.3, 0.08), (0.85, 0.08), (0.5, 0.92)]
LETTER_A = [[(0.15, 0.92), (0.5, 0.08)], [(0.5, 0.08), (0.85, 0.92)], [(0.3, 0.6), (0.7, 0.6)]]


def fill_lab(path: Path) -> None:
    """Twenty MNIST test digits labelled as they are, one labelled wrong and one said to be no digit
    (both held for review: the model is sure of another digit), and one shape said to be no digit."""
    import numpy as np

    from mnistcore.data import load_mnist
    from mnistcore.lab.feedback import FeedbackStore

    (_, _), (x_test, y_test) = load_mnist()
    lab, sure = FeedbackStore(path), lambda digit: np.eye(10)[digit] * 0.98 + 0.002
    for k in range(20):
        lab.add(x_test[k], label=int(y_test[k]), predicted=int(y_test[k]), confidence=0.98, model="m",
                raw_size=(280, 280), probabilities=sure(int(y_test[k])))
    lab.add(x_test[20], label=(int(y_test[20]) + 1) % 10, predicted=int(y_test[20]), confidence=0.98, model="m",
            raw_size=(280, 280), probabilities=sure(int(y_test[20])))
    lab.add(x_test[21], label=int(y_test[21]), predicted=int(y_test[21]), confidence=0.98, model="m",
            raw_size=(280, 280), probabilities=sure(int(y_test[21])), not_digit=True)
    ring = np.zeros((28, 28), np.uint8)
    yy, xx = np.mgrid[:28, :28]
    ring[np.abs(np.hypot(yy - 14, xx - 14) - 8) < 1.5] = 255
    lab.add(ring, label=0, predicted=0, confidence=0.3, model="m", raw_size=(280, 280),
            probabilities=np.full(10, 0.1), not_digit=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/screens"))
    parser.add_argument("--pages", nargs="*", default=PAGES, choices=PAGES)
    parser.add_argument("--draw", action="store_true", help="also shoot Draw with a 7 drawn on it")
    parser.add_argument("--letter", action="store_true", help="also shoot Draw with a letter A drawn on it")
    parser.add_argument("--lab", action="store_true", help="fill the lab's drawings first: labelled digits, and "
                        "answers held for review, a digit and a 'not a digit' (for Lab handwriting)")
    parser.add_argument("--locale", default="en-US", help="the browser's language, e.g. zh-CN (the site follows it)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.locale == "en-US" else f"-{args.locale}"
    folder = Path(tempfile.mkdtemp())
    if args.lab:
        fill_lab(folder / "lab.db")
    with running_site(weights_copy(folder / "weights", None), env={"MNISTLAB_FEEDBACK_DB": str(folder / "lab.db")}) \
            as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for device, options in (("desktop", dict(viewport={"width": 1280, "height": 900})), ("phone", PHONE)):
            page = browser.new_context(**options, locale=args.locale).new_page()
            for name in args.pages:
                page.goto(f"{url}/{'' if name == 'home' else name}")
                page.locator("h1").first.wait_for(timeout=60_000)
                page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=60_000)
                page.wait_for_timeout(1500)  # charts and images finish drawing: a picture, not a measurement
                page.screenshot(path=args.out / f"{name}-{device}{suffix}.png", full_page=True)
                if name == "handwriting" and args.lab:  # the page scrolls inside: its held answers, in view
                    held = page.locator("h2").filter(has_text="待审核" if "zh" in args.locale else "Held for review")
                    held.first.scroll_into_view_if_needed()
                    page.wait_for_timeout(500)
                    page.screenshot(path=args.out / f"handwriting-held-{device}{suffix}.png")
                if name == "draw" and args.draw:
                    canvas = page.locator("canvas.upper-canvas")
                    box = canvas.bounding_box()
                    if device == "phone":
                        touch_stroke(page.context.new_cdp_session(page), box, SEVEN)
                    else:
                        stroke(page, box, SEVEN)
                    page.locator("h2", has_text=re.compile(r"(Prediction: |识别结果：)\d")).wait_for(timeout=60_000)
                    page.wait_for_timeout(1500)
                    page.screenshot(path=args.out / f"draw-drawn-{device}{suffix}.png")  # the first screen only
                    # And all of it: Streamlit scrolls inside the page, which full_page does not see.
                    size = page.viewport_size
                    page.set_viewport_size({"width": size["width"], "height": 2600})
                    page.wait_for_timeout(1000)
                    page.screenshot(path=args.out / f"draw-drawn-{device}-full{suffix}.png")
                    page.set_viewport_size(size)
                if name == "draw" and args.letter:
                    draw_letter(page, device, args.out / f"draw-letter-{device}{suffix}.png")
                print(f"{name} ({device}) done", flush=True)
        browser.close()


def draw_letter(page, device: str, path: Path) -> None:
    """Draw, fresh, with an A drawn on it: what the page answers to a letter, shot at its first screen."""
    page.reload()
    canvas = page.locator("canvas.upper-canvas")
    canvas.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    box = canvas.bounding_box()
    for points in LETTER_A:
        if device == "phone":
            touch_stroke(page.context.new_cdp_session(page), box, points)
        else:
            stroke(page, box, points)
        page.wait_for_timeout(400)  # one stroke at a time, as a hand draws
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=60_000)
    page.wait_for_timeout(2500)
    page.screenshot(path=path)


if __name__ == "__main__":
    main()
