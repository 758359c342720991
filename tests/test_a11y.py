"""The site in a real Chromium set to Chinese, on a 390 px touch screen: the browser's language
decides the first page, the switch changes it and a reload keeps it, axe-core finds no critical or
serious problem, and every control is at least 44 px each way.

axe-core comes from npm (`make axe` puts it in tests/vendor/); without it, or without Chromium,
the test is skipped with the reason, except in CI, where a skip would hide a failure.
"""
import contextlib
import os
import re
from pathlib import Path

import pytest

from sitetools import CHROMIUM, CHROMIUM_ARGS, running_site, weights_copy
from strokes import PHONE, touch_stroke
from test_browser import chromium_or_skip, wait_for_the_run

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
# Each page and its title in Chinese and in English.
PAGES = {"": ("MNIST 实验室", "MNIST Lab"), "gallery": ("图库", "Gallery"),
         "handwriting": ("实验室笔迹", "Lab handwriting"), "inside": ("看看内部", "Look inside"),
         "train": ("训练神经网络", "Train a network"), "board": ("班级榜", "Class board"),
         "draw": ("画一个数字", "Draw a digit")}
SMALLEST = 44  # px each way: a fingertip
CONTROLS = ('button, [role="button"], a[data-testid="stPageLink-NavLink"], [data-baseweb="checkbox"], '
            '[data-testid="stTooltipHoverTarget"], [data-baseweb="select"] > div')


def axe_or_skip() -> Path:
    if AXE.exists():
        return AXE
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the accessibility test must run in CI, but {AXE} is missing (make axe)")
    pytest.skip(f"{AXE} is missing: make axe")


def open_page(page, url: str, title: str) -> None:
    page.goto(url)
    page.locator("h1", has_text=title).wait_for(timeout=90_000)
    wait_for_the_run(page)
    page.locator('[data-testid="stSpinner"]').wait_for(state="detached", timeout=90_000)


def page_language(page, expected: str) -> str:
    """The page's lang attribute, once the page's script has set it (or `expected` never came)."""
    try:
        page.wait_for_function(f"document.documentElement.lang === {expected!r}", timeout=15_000)
    except Exception:  # noqa: BLE001 (Playwright's TimeoutError: the assert below says what was found)
        pass
    return page.evaluate("document.documentElement.lang")


def serious_problems(page, axe: Path) -> list[str]:
    """axe-core's critical and serious violations on the page as it is, as "rule: where" lines."""
    page.add_script_tag(path=str(axe))
    violations = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [f"{v['id']} ({v['impact']}): {[(n['target'], n['failureSummary'][-160:]) for n in v['nodes'][:3]]}"
            for v in violations if v["impact"] in ("critical", "serious")]


def small_controls(page) -> list[str]:
    """Visible controls smaller than SMALLEST px either way, as "what: w x h" lines."""
    found = []
    for control in page.locator(CONTROLS).all():
        box = control.bounding_box() if control.is_visible() else None
        if box and (box["width"] < SMALLEST - 0.5 or box["height"] < SMALLEST - 0.5):
            name = control.get_attribute("aria-label") or control.inner_text()[:30] or control.evaluate(
                "e => e.outerHTML.slice(0, 80)")
            found.append(f"{name!r}: {box['width']:.0f} x {box['height']:.0f}")
    return found


def sideways(page) -> list[str]:
    """What makes the page wider than the phone (nothing should: no scrolling sideways)."""
    wide = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMain"] *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && e.checkVisibility()
                && !e.closest('[data-testid="stDataFrame"]'))  // a table scrolls inside its own box
        .slice(0, 3).map(e => e.tagName + '.' + (e.dataset.testid || e.className).toString().slice(0, 40))""")
    width = page.evaluate("document.documentElement.scrollWidth")
    return [f"{width} px wide: {wide}"] if width > PHONE["viewport"]["width"] or wide else []


def everything_wrong(page, axe: Path) -> list[str]:
    return serious_problems(page, axe) + small_controls(page) + sideways(page)


@contextlib.contextmanager
def chinese_phone(tmp_path, env: dict[str, str] | None = None):
    """(site URL, a Chinese phone's page, axe-core, problems by page state): the site on a fresh
    store (with `env` for the server besides); on leaving, every state's problems must be none."""
    sync_playwright = chromium_or_skip()
    axe = axe_or_skip()
    problems = {}
    with running_site(weights_copy(tmp_path / "weights", None), timeout=60,
                      env={"MNISTLAB_FEEDBACK_DB": str(tmp_path / "lab.db"), **(env or {})}) as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield url, browser.new_context(**PHONE, locale="zh-CN").new_page(), axe, problems
        finally:
            browser.close()
    problems = {state: found for state, found in problems.items() if found}
    assert not problems, "\n".join(f"{state}: {found}" for state, found in problems.items())


def switch_and_reload(page, language: str, heading: str) -> None:
    """Press the language switch's `language`, then reload: the page shows `heading` both times."""
    page.locator(".st-key-language_bar button", has_text=language).click()
    page.locator("h1", has_text=heading).wait_for(timeout=60_000)
    wait_for_the_run(page)
    page.reload()
    page.locator("h1", has_text=heading).wait_for(timeout=60_000)
    wait_for_the_run(page)


def test_the_site_in_chinese_on_a_phone_is_accessible_and_keeps_its_language(tmp_path):
    with chinese_phone(tmp_path) as (url, page, axe, problems):
        for path, (title, _) in PAGES.items():
            open_page(page, f"{url}/{path}", title)
            assert page_language(page, "zh-CN") == "zh-CN"
            problems[f"{path or 'home'} (zh)"] = everything_wrong(page, axe)
            assert page.locator(CONTROLS).count() >= 3  # the check measures something: the menu, the switch

        # The switch: English at once, kept across a reload and another page, and back.
        open_page(page, f"{url}/inside", "看看内部")
        switch_and_reload(page, "English", "Look inside")
        assert page_language(page, "en") == "en"
        problems["inside (en)"] = everything_wrong(page, axe)
        for path, (_, title) in PAGES.items():
            if path != "inside":
                open_page(page, f"{url}/{path}?lang=en", title)
                problems[f"{path or 'home'} (en)"] = everything_wrong(page, axe)
        open_page(page, f"{url}/gallery?lang=en", "Gallery")
        page.locator(".st-key-language_bar button", has_text="中文").click()
        page.locator("h1", has_text="图库").wait_for(timeout=60_000)
        assert page_language(page, "zh-CN") == "zh-CN"


def answer(page, words: str) -> str:
    """The Draw page's answer heading, "识别结果：7" or "Prediction: 7"."""
    heading = page.locator("h2", has_text=re.compile(words + r"\d"))
    try:
        heading.wait_for(timeout=60_000)
    except Exception:  # noqa: BLE001 - say what the page showed instead
        page.screenshot(path="/tmp/a11y-draw-failed.png")
        raise AssertionError(page.locator('[data-testid="stMain"]').inner_text()[:600]) from None
    return heading.inner_text().strip()


def sizes(page, names) -> dict:
    """Width x height, in px, of the buttons with these accessible names."""
    found = {}
    for name in names:
        box = page.get_by_role("button", name=name, exact=True).bounding_box()
        found[name] = f"{box['width']:.0f} x {box['height']:.0f}"
    return found


def test_drawing_a_digit_in_chinese_on_a_phone(tmp_path):
    """A Chinese phone draws a 7 with a finger and reads the answer in Chinese; Draw before and after an
    answer and on paper pass axe in both languages, with every control at least 44 px; the language
    switches to English and back, and a reload keeps it."""
    with chinese_phone(tmp_path) as (url, page, axe, problems):
        open_page(page, f"{url}/draw", "画一个数字")
        assert page_language(page, "zh-CN") == "zh-CN"
        canvas = page.locator("canvas.upper-canvas")
        canvas.wait_for(timeout=30_000)
        page.get_by_role("button", name="清除", exact=True).wait_for(timeout=30_000)  # named as it shows
        problems["draw before (zh)"] = everything_wrong(page, axe)
        print("Undo / Clear on a 390 px phone:", sizes(page, ["撤销一笔", "清除"]))
        page.get_by_text("在黑色方框里写一个数字").wait_for(timeout=30_000)
        wait_for_the_run(page)
        cdp = page.context.new_cdp_session(page)
        touch_stroke(cdp, canvas.bounding_box(), [(0.3, 0.03), (0.9, 0.03), (0.5, 0.95)])
        assert answer(page, "识别结果：") == "识别结果：7"
        page.get_by_role("button", name="对，是 7").wait_for(timeout=30_000)
        wait_for_the_run(page)
        problems["draw answered (zh)"] = everything_wrong(page, axe)

        page.locator(".st-key-language_bar button", has_text="English").click()
        assert answer(page, "Prediction: ") == "Prediction: 7"  # the same drawing, read in English
        wait_for_the_run(page)
        assert page_language(page, "en") == "en"
        page.get_by_role("button", name="Undo stroke", exact=True).wait_for(timeout=30_000)
        problems["draw answered (en)"] = everything_wrong(page, axe)
        switch_and_reload(page, "中文", "画一个数字")
        assert page_language(page, "zh-CN") == "zh-CN"

        page.get_by_text("纸上的数字", exact=True).click()
        page.get_by_text("用深色笔在纸上写").wait_for(timeout=60_000)
        wait_for_the_run(page)
        problems["draw on paper (zh)"] = everything_wrong(page, axe)
        open_page(page, f"{url}/draw?lang=en", "Draw a digit")
        page.get_by_text("Digit on paper", exact=True).click()
        page.get_by_text("Write a digit on paper").wait_for(timeout=60_000)
        wait_for_the_run(page)
        problems["draw on paper (en)"] = everything_wrong(page, axe)


def switch_language(page, to: str, shown) -> None:
    """Click the language switch's `to` and wait for `shown` (a locator of something in the new language)."""
    page.locator(".st-key-language_bar button", has_text=to).click()
    shown.first.wait_for(timeout=90_000)
    wait_for_the_run(page)


def pick(page, option: str) -> None:
    """Choose the radio option whose label starts with `option`, and see it chosen. A click that lands while
    the page is being redrawn can be lost (the radio is drawn again as it was): then it is clicked again."""
    chosen = ("o => [...document.querySelectorAll('label')].some(l => l.innerText.trim().startsWith(o) "
              "&& l.querySelector('input[type=radio]')?.checked)")
    for _ in range(3):
        page.get_by_text(re.compile("^" + re.escape(option))).first.click()
        try:
            page.wait_for_function(chosen, arg=option, timeout=15_000)
            break
        except Exception:  # noqa: BLE001 (Playwright's TimeoutError: click again)
            continue
    else:
        raise AssertionError(f"{option!r} could not be chosen")
    wait_for_the_run(page)


def test_train_running_and_finished_on_a_phone_in_both_languages(tmp_path):
    """Train while a run trains and after one has finished (its result, curves, tables, Publish), in Chinese
    and in English: no critical or serious axe problem, every control at least 44 px, nothing sideways."""
    env = {"MNISTLAB_TRAIN_LIMIT": "3000", "MNISTLAB_TIMINGS": str(tmp_path / "timings.json")}
    with chinese_phone(tmp_path, env) as (url, page, axe, problems):
        open_page(page, f"{url}/train", "训练神经网络")
        # A run slow enough to look at while it trains: one image at a time through 1,024 hidden neurons.
        pick(page, "自定义：每项设置自己选")
        for label, value in (("训练轮数", "30"), ("批大小", "1"), ("隐藏层神经元", "1024")):
            # The visible one: while the page is redrawn for the new recipe, the settings box drawn for
            # the old one (folded, hidden) can still hold a field of the same name.
            field = page.get_by_label(re.compile("^" + label + "（")).filter(visible=True)
            field.wait_for(timeout=60_000)
            field.fill(value)
            field.press("Enter")
            wait_for_the_run(page)
        page.get_by_role("button", name="开始训练").click()
        page.get_by_role("button", name="停止").wait_for(timeout=90_000)
        wait_for_the_run(page)
        problems["train running (zh)"] = everything_wrong(page, axe)
        switch_language(page, "English", page.get_by_role("button", name="Stop"))
        assert page_language(page, "en") == "en"
        problems["train running (en)"] = everything_wrong(page, axe)
        page.get_by_role("button", name="Stop").click()
        page.get_by_text("You stopped the run.").wait_for(timeout=120_000)

        open_page(page, f"{url}/train?lang=en", "Train a network")
        pick(page, "Quick look")
        page.get_by_role("button", name="Start training").click()
        page.get_by_role("heading", name="Your model", exact=True).wait_for(timeout=180_000)  # not "... is training"
        wait_for_the_run(page)
        problems["train finished (en)"] = everything_wrong(page, axe)
        switch_language(page, "中文", page.get_by_role("heading", name="你的模型", exact=True))
        assert page_language(page, "zh-CN") == "zh-CN"
        problems["train finished (zh)"] = everything_wrong(page, axe)
