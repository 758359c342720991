"""Load on the lab server: visitors drawing and browsing while someone trains. Figures, not pass/fail.

Two parts, both bounded in count and in time:

- `server`: in this process, the site's own code. The time of a Draw prediction (preprocessing and
  predicting one canvas, as pages/draw.py does) and of a Gallery page render (AppTest), first with
  the server idle, then while a full-size run trains in a TrainingSlot. `--plain` trains without
  the slot's lower priority and single BLAS thread, to see what they are worth.
- `browser`: the real site on 127.0.0.1 and N Chromium sessions (one browser, N contexts, driven
  from one asyncio loop) drawing digits on the Draw page with the mouse, first idle, then while
  one more session trains a model on the Train page. It times mouse-up to prediction.

    .venv/bin/python -m bench.load                                      # both parts
    .venv/bin/python -m bench.load --part browser --sessions 8 --drawings 10 --max-seconds 300

Needs MNIST (data/mnist) and, for the browser part, Debian's Chromium and the playwright package
(see tests/test_browser.py). The site runs on a temporary copy of the weights: nothing is published.
Browsers and server share the machine's cores, so the browser figures include the browsers' own
work; the server part isolates the server's.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import record
from mnistcore.data import load_mnist
from mnistcore.lab.slot import TrainingSlot
from mnistcore.training import TrainSettings
from tests.sitetools import APP, CHROMIUM, CHROMIUM_ARGS, canvas_image, running_site, weights_copy

# Settings the site's own variables could change; the bench wants the plain, open, full-size site.
SITE_VARIABLES = ("MNISTLAB_TRAIN_LIMIT", "MNISTLAB_DEMO", "MNISTLAB_PASSCODE", "MNISTLAB_WEIGHTS_DIR",
                  "MNISTLAB_HEARTBEAT_SECONDS", "MNISTLAB_FEEDBACK_DB")


def percentiles(seconds: list[float]) -> str:
    """ "median 412 ms, 95th percentile 690 ms (n=80)" """
    if not seconds:
        return "no measurements"
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return f"median {statistics.median(ordered) * 1000:.0f} ms, 95th percentile {p95 * 1000:.0f} ms (n={len(ordered)})"


def percentiles_fine(seconds: list[float]) -> str:
    """As `percentiles`, to a tenth of a millisecond (for the few-millisecond Draw prediction)."""
    if not seconds:
        return "no measurements"
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return f"median {statistics.median(ordered) * 1000:.1f} ms, 95th percentile {p95 * 1000:.1f} ms (n={len(ordered)})"


# ============================================================================ server part


def server_part(args) -> None:
    """Draw predictions and Gallery renders in this process, idle and while the slot trains."""
    from streamlit.testing.v1 import AppTest

    from mnistcore.nets import load_model
    from mnistcore.preprocess import digit_steps

    for name in SITE_VARIABLES:
        os.environ.pop(name, None)
    data = load_mnist()
    (_, _), (x_test, _) = data
    with tempfile.TemporaryDirectory(prefix="mnistlab-load-") as folder:
        weights = weights_copy(Path(folder) / "weights", data)
        os.environ["MNISTLAB_WEIGHTS_DIR"] = str(weights)
        model = load_model(weights / "default.npz")
        canvases = [canvas_image(x_test[i]) for i in range(50)]
        gallery = AppTest.from_file(str(APP), default_timeout=300)
        gallery.run()
        gallery.switch_page("pages/gallery.py").run()  # the first render evaluates the test set, once

        def draw(i: int) -> float:
            started = time.perf_counter()
            steps = digit_steps(canvases[i % len(canvases)])
            model.predict_proba(steps.centred)
            return time.perf_counter() - started

        def render() -> float:
            started = time.perf_counter()
            gallery.run()
            if gallery.exception:
                raise RuntimeError(gallery.exception[0].value)
            return time.perf_counter() - started

        pause = threading.Event()  # never set: its wait paces the visitors, one every 50 ms

        def visitors(count: int, keep_going) -> tuple[list[float], list[float]]:
            draws, renders = [], []
            for i in range(count):
                if not keep_going():
                    break
                draws.append(draw(i))
                if i % 5 == 0:
                    renders.append(render())
                pause.wait(0.05)
            return draws, renders

        before = visitors(args.samples // 2, lambda: True)
        settings = TrainSettings(epochs=args.epochs, batch_size=128, hidden=512)
        slot = TrainingSlot(niceness=0 if args.plain else 10, blas_threads=None if args.plain else 1)
        started = time.perf_counter()
        slot.start(settings, data, owner="bench", label="bench")
        busy = visitors(100_000, slot.busy)  # as many as fit in the run
        slot.wait(args.max_seconds)
        status = slot.status()
        after = visitors(args.samples - args.samples // 2, lambda: True)  # idle before and after the run,
        idle = (before[0] + after[0], before[1] + after[1])                # so that a drift shows in both
        print(f"\nServer part ({'plain thread' if args.plain else 'the slot: nice 10, one BLAS thread'}); "
              f"training {settings.describe()} on 60,000 images: {time.perf_counter() - started:.1f} s, "
              f"{status.state}, test accuracy {status.test_accuracy or 0:.2%}")
        print(f"  Draw prediction (preprocess + predict), idle:          {percentiles_fine(idle[0])}")
        print(f"  Draw prediction (preprocess + predict), training:      {percentiles_fine(busy[0])}")
        print(f"  Gallery page render (AppTest), idle:                   {percentiles(idle[1])}")
        print(f"  Gallery page render (AppTest), training:               {percentiles(busy[1])}")


# ============================================================================ browser part

# Digits drawn in one stroke each (a multi-stroke digit would be read after its first stroke),
# as points in fractions of the canvas; each is read correctly by the shipped model.


def _arc(cx, cy, rx, ry, start, end, n=24):
    return [(cx + rx * math.cos(math.radians(start + (end - start) * i / n)),
             cy + ry * math.sin(math.radians(start + (end - start) * i / n))) for i in range(n + 1)]


DIGITS = {
    0: _arc(0.5, 0.5, 0.2, 0.33, -90, 275, 40),
    1: [(0.5, 0.15), (0.5, 0.85)],
    2: _arc(0.5, 0.33, 0.2, 0.17, 200, 390, 16) + [(0.3, 0.82), (0.72, 0.82)],
    3: _arc(0.47, 0.32, 0.18, 0.16, 210, 450, 16) + _arc(0.47, 0.66, 0.2, 0.18, -90, 150, 16),
    6: [(0.62, 0.15), (0.45, 0.35)] + _arc(0.5, 0.65, 0.18, 0.19, 200, 560, 24),
    7: [(0.25, 0.2), (0.75, 0.2), (0.4, 0.85)],
    9: _arc(0.5, 0.33, 0.18, 0.17, 0, 360, 24) + [(0.68, 0.33), (0.66, 0.85)],
}
HINT = "Draw a digit (0 to 9)"
ANSWER_TIMEOUT = 30.0  # seconds; a drawing not answered by then counts as an error
# A visitor pauses between drawings. The pause matters: the canvas component loads its (empty)
# initial drawing asynchronously after it appears, and a stroke made in those first moments is
# wiped: with 4 busy sessions, drawing at once lost about 1 stroke in 6, after 1 s none.
THINK_MS = 1000
# With 8 sessions the pause is not always enough (about 1 stroke in 25): a drawing unanswered after
# LOST_CHECK_MS on a blank canvas was wiped; it is counted and drawn again (up to LOST_TRIES times).
LOST_CHECK_MS, LOST_TRIES = 5000, 3
PREDICTION = re.compile(r"Prediction: (\d)")
INK = """canvas => {  // the sum of the red channel: 0 on a blank (black) canvas
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0;
    for (let i = 0; i < pixels.length; i += 4) sum += pixels[i];
    return sum;
}"""


@dataclass
class Reading:
    digit: int
    answer: int | None
    released: float     # perf_counter at mouse-up
    answered: float     # perf_counter when the prediction showed


@dataclass
class Tally:
    readings: list[Reading] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    opened: int = 0
    held: int = 0
    lost: int = 0       # strokes the canvas wiped before sending them (drawn again)
    training: tuple[float, float] | None = None  # perf_counter when the run was seen to start and end
    training_text: str = ""


async def open_draw_page(browser, url: str):
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    await page.goto(f"{url}/draw")
    await page.get_by_text(HINT).wait_for(timeout=60_000)  # the first render is done
    await page.locator("canvas.upper-canvas").wait_for(timeout=60_000)
    return page


class LostStroke(Exception):
    """The canvas came back blank and no answer came: the stroke never reached the server."""


async def step(what: str, action):
    """Await `action`; on failure, say which step of a drawing failed."""
    try:
        return await action
    except Exception as err:  # noqa: BLE001 - re-raised with the step's name
        raise RuntimeError(f"{what}: {type(err).__name__}: {str(err).splitlines()[0]}") from err


async def draw_one(page, digit: int, timeout_ms: float) -> Reading:
    """One stroke on the canvas, then wait for the prediction; then Clear for the next one."""
    canvas = await page.locator("canvas.upper-canvas").element_handle()
    box = await canvas.bounding_box()
    points = DIGITS[digit]
    x0, y0, width, height = box["x"], box["y"], box["width"], box["height"]
    await page.mouse.move(x0 + points[0][0] * width, y0 + points[0][1] * height)
    await page.mouse.down()
    for x, y in points[1:]:
        await page.mouse.move(x0 + x * width, y0 + y * height, steps=4)
    await page.mouse.up()
    released = time.perf_counter()
    header = page.locator("h2", has_text=PREDICTION)
    try:  # a first look after a few seconds: is the stroke still there?
        await header.wait_for(timeout=min(timeout_ms, LOST_CHECK_MS))
    except Exception:  # noqa: BLE001 - not yet answered
        if not await page.locator("canvas.dc-canvas.lower-canvas").evaluate(INK):
            raise LostStroke() from None
        await step("waiting for the prediction (the stroke is on the canvas)",
                   header.wait_for(timeout=max(1.0, timeout_ms - LOST_CHECK_MS)))
    answered = time.perf_counter()
    match = PREDICTION.search(await header.inner_text())
    # Clear is the canvas' own (ui/drawpad.py): it empties the canvas in the browser at once and
    # sends the empty picture; wait for the hint, so the next answer is the next drawing's.
    await step("clearing", page.get_by_role("button", name="Reset canvas & history").click(timeout=timeout_ms))
    await step("waiting for the hint", page.get_by_text(HINT).wait_for(timeout=timeout_ms))
    return Reading(digit, int(match.group(1)) if match else None, released, answered)


async def draw_many(page, n: int, count: int, tally: Tally, deadline: float, until: asyncio.Event | None):
    """Session `n` draws `count` digits in turn (fewer if `until` is set or time runs out)."""
    digits = list(DIGITS)
    for i in range(count):
        if (until is not None and until.is_set()) or time.perf_counter() > deadline:
            return
        digit = digits[(n + i) % len(digits)]
        try:
            for _ in range(LOST_TRIES):
                await page.wait_for_timeout(THINK_MS)
                timeout = min(ANSWER_TIMEOUT, max(1.0, deadline - time.perf_counter()))
                try:
                    tally.readings.append(await draw_one(page, digit, timeout * 1000))
                    break
                except LostStroke:
                    tally.lost += 1
            else:
                raise RuntimeError(f"the canvas lost the stroke {LOST_TRIES} times")
        except Exception as err:  # noqa: BLE001 - counted and shown; the session carries on
            tally.errors.append(f"session {n}, digit {digit}: {str(err).splitlines()[0]}")
            if os.environ.get("LOAD_SHOTS"):
                await page.screenshot(path=f"{os.environ['LOAD_SHOTS']}/error-{n}-{i}.png")
            try:  # back to a fresh Draw page for the next digit
                await page.goto(page.url)
                await page.get_by_text(HINT).wait_for(timeout=30_000)
            except Exception:  # noqa: BLE001
                return


async def train_on_the_page(browser, url: str, args, tally: Tally, started: asyncio.Event, ended: asyncio.Event,
                            deadline: float) -> None:
    """One more visitor trains a full-size NumPy model on the Train page."""
    context = await browser.new_context(viewport={"width": 1280, "height": 1400})
    page = await context.new_page()
    try:
        await page.goto(f"{url}/train")
        start = page.get_by_role("button", name="Start training")
        await start.wait_for(timeout=60_000)
        for label, value in (("Epochs", args.epochs), ("Batch size", 128), ("Hidden units", 512)):
            field_ = page.get_by_role("spinbutton", name=re.compile(f"^{label} "))
            await field_.fill(str(value))
            await field_.press("Enter")
        await page.get_by_role("textbox", name=re.compile("Your name")).fill("Load test")
        await page.get_by_text(f"{args.epochs} epochs").count()  # let the reruns settle
        await page.get_by_text("Estimated time").wait_for(timeout=30_000)
        await start.click()
        await page.get_by_text("Your model is training").wait_for(timeout=60_000)
        began = time.perf_counter()
        started.set()
        result = page.get_by_text(re.compile(r"Test accuracy: \d"))
        await result.wait_for(timeout=max(1.0, deadline - time.perf_counter()) * 1000)
        tally.training = (began, time.perf_counter())
        tally.training_text = re.search(r"Test accuracy: [\d.]+%", await result.inner_text()).group(0)
    except Exception as err:  # noqa: BLE001 - reported; the drawing sessions stop waiting for it
        tally.errors.append(f"training session: {type(err).__name__}: {str(err).splitlines()[0]}")
    finally:
        started.set()
        ended.set()
        await context.close()


async def browser_part_async(args, url: str, tally: Tally) -> None:
    from playwright.async_api import async_playwright

    deadline = time.perf_counter() + args.max_seconds
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            pages = await asyncio.gather(*(open_draw_page(browser, url) for _ in range(args.sessions)),
                                         return_exceptions=True)
            for page in pages:
                if isinstance(page, Exception):
                    tally.errors.append(f"opening a session: {type(page).__name__}: {page}")
            pages = [page for page in pages if not isinstance(page, Exception)]
            tally.opened = len(pages)
            # Idle: everybody draws, nobody trains.
            await asyncio.gather(*(draw_many(page, n, args.drawings, tally, deadline, None)
                                   for n, page in enumerate(pages)))
            # Training: one more visitor starts a run; everybody draws again while it lasts.
            started, ended = asyncio.Event(), asyncio.Event()
            trainer = asyncio.create_task(train_on_the_page(browser, url, args, tally, started, ended, deadline))
            await started.wait()
            await asyncio.gather(*(draw_many(page, n, args.drawings, tally, deadline, ended)
                                   for n, page in enumerate(pages)))
            await trainer
            for page in pages:  # held: still connected and showing the Draw page, no error on it
                alive = await page.get_by_text(HINT).count() and not await page.get_by_text(
                    re.compile("Connection error|Traceback")).count()
                tally.held += bool(alive)
        finally:
            await browser.close()


def browser_part(args) -> None:
    if not CHROMIUM.exists():
        sys.exit(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    for name in SITE_VARIABLES:
        os.environ.pop(name, None)
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="mnistlab-load-") as folder:
        weights = weights_copy(Path(folder) / "weights", load_mnist())
        os.environ["MNISTLAB_FEEDBACK_DB"] = str(Path(folder) / "lab.db")  # should a drawing be kept
        with running_site(weights, timeout=60) as url:
            try:
                asyncio.run(asyncio.wait_for(browser_part_async(args, url, tally), args.max_seconds + 60))
            except TimeoutError:
                tally.errors.append(f"stopped after {args.max_seconds} s (--max-seconds)")
    report(args, tally)


def report(args, tally: Tally) -> None:
    if tally.training is not None:
        begin, end = tally.training
        during = [r for r in tally.readings if begin <= r.released and r.answered <= end]
    else:
        begin = end = math.inf
        during = []
    idle = [r for r in tally.readings if r.answered < begin]
    correct = sum(r.answer == r.digit for r in tally.readings)
    print(f"\nBrowser part: {args.sessions} sessions drawing on the Draw page, {args.drawings} digits each, "
          "idle and then while one more session trains on the Train page")
    print(f"  sessions held:        {tally.held} of {tally.opened} opened ({args.sessions} asked for)")
    print(f"  predictions made:     {len(tally.readings)} ({len(idle)} idle, {len(during)} during training, "
          f"{len(tally.readings) - len(idle) - len(during)} around its end)")
    print(f"  errors:               {len(tally.errors)}")
    print(f"  strokes lost by the canvas component and drawn again: {tally.lost}")
    for error in tally.errors[:10]:
        print(f"    {error}")
    print(f"  correct predictions:  {correct} of {len(tally.readings)}")
    print(f"  mouse-up to prediction, idle:            {percentiles([r.answered - r.released for r in idle])}")
    print(f"  mouse-up to prediction, during training: {percentiles([r.answered - r.released for r in during])}")
    if tally.training is not None:
        print(f"  training on the Train page: NumPy 784-512-10, {args.epochs} epochs at batch 128 on 60,000 "
              f"images, {end - begin:.0f} s from start to result; {tally.training_text.lower()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("server", "browser", "both"), default="both")
    parser.add_argument("--sessions", type=int, default=8, help="browser sessions drawing at once (1-32)")
    parser.add_argument("--drawings", type=int, default=10, help="digits each session draws, idle and again "
                        "while training (1-100)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the training run (1-30; long enough "
                        "to cover the drawing)")
    parser.add_argument("--samples", type=int, default=200, help="server part: idle Draw predictions, half "
                        "before and half after the run (10-10000)")
    parser.add_argument("--plain", action="store_true", help="server part: train without the slot's lower "
                        "priority and single BLAS thread")
    parser.add_argument("--max-seconds", type=float, default=300, help="give up after this long (per part)")
    record.add_argument(parser)
    args = parser.parse_args()
    for name, low, high in (("sessions", 1, 32), ("drawings", 1, 100), ("epochs", 1, 30), ("samples", 10, 10_000),
                            ("max_seconds", 10, 3600)):
        if not low <= getattr(args, name) <= high:
            parser.error(f"--{name.replace('_', '-')} must be from {low} to {high}; got {getattr(args, name)}")
    with record.recording("bench.load", args.record):
        run(args)


def run(args) -> None:
    if args.part in ("server", "both"):
        server_part(args)
    if args.part in ("browser", "both"):
        browser_part(args)

if __name__ == "__main__":
    main()
