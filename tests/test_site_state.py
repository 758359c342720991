"""The site's shared state in a real server and a real Chromium: what one visitor (or a script)
does cannot take another's run away.

- A first visitor who opens /draw on a fresh server gets the site's navigation.
- Reloading the page during your own run keeps it yours: Stop is still there.
- A `clear_cache` message from a websocket client, sent while a run trains, changes nothing
  another visitor can see: the slot is still taken, and the run still belongs to its owner.
"""
import re

import pytest

import protocol
from sitetools import CHROMIUM, CHROMIUM_ARGS, running_site, weights_copy
from test_browser import chromium_or_skip, wait_for_the_run

pytestmark = pytest.mark.browser
SITE_PAGES = ["Home", "Train", "Gallery", "Draw", "Class board", "Lab handwriting", "Look inside"]
# A run that trains for a while on the first 2,000 images, so there is time to look at it.
SLOW_RUN = {"Epochs": "30", "Batch size": "1", "Learning rate": "0.01"}  # small steps: batch 1 must not blow up


@pytest.fixture
def browser():
    sync_playwright = chromium_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url: str):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(url)
    page.locator("h1").first.wait_for(timeout=30_000)
    wait_for_the_run(page)
    return page


def navigation(page) -> list[str]:
    # A bar across the top on a wide screen; the sidebar's menu on a narrow one.
    links = page.locator('[data-testid="stTopNavLink"], [data-testid="stSidebarNavLink"]')
    links.first.wait_for(timeout=30_000)
    return [text.split("\n")[-1].strip() for text in links.all_inner_texts()]  # after the icon's name


def test_a_first_visitor_on_draw_gets_the_site_navigation(tmp_path, small_mnist, browser):
    with running_site(weights_copy(tmp_path / "weights", small_mnist)) as url:
        page = open_page(browser, f"{url}/draw")  # nobody has opened the home page on this server
        page.get_by_text("Draw a digit (0 to 9)").wait_for(timeout=30_000)
        assert navigation(page) == SITE_PAGES
        assert page.locator("h1").first.inner_text().strip() == "Draw a digit"


def start_slow_run(page) -> None:
    page.get_by_text("Custom: choose every setting yourself").click()  # opens the settings
    wait_for_the_run(page)
    for label, value in SLOW_RUN.items():
        # The one shown: while the page reruns, the last run's copy may linger hidden for a moment.
        box = page.locator(f"input[aria-label^='{label} (']:visible")
        box.fill(value)
        box.press("Enter")
        wait_for_the_run(page)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Your model is training").wait_for(timeout=30_000)


def test_reload_keeps_your_run_and_clear_cache_changes_nothing(tmp_path, small_mnist, browser):
    env = {"MNISTLAB_TRAIN_LIMIT": "2000", "MNISTLAB_FEEDBACK_DB": str(tmp_path / "lab.db")}
    with running_site(weights_copy(tmp_path / "weights", small_mnist), env=env) as url:
        ada = open_page(browser, f"{url}/train")
        start_slow_run(ada)
        assert "visitor" not in ada.url  # the address bar names nobody: the browser itself keeps the run hers

        ada.reload()  # a new browser session, the same visitor
        ada.get_by_text("Your model is training").wait_for(timeout=30_000)
        stop = ada.get_by_role("button", name="Stop")
        stop.wait_for(timeout=30_000)

        grace = open_page(browser, f"{url}/train")
        grace.get_by_role("button", name="Join the queue").wait_for(timeout=30_000)

        # Any client may send clear_cache; it used to empty the slot, the store and MNIST for everyone.
        protocol.send(url, protocol.clear_cache())

        grace.reload()
        grace.get_by_role("button", name="Join the queue").wait_for(timeout=30_000)
        assert grace.get_by_role("button", name="Start training").count() == 0
        assert grace.get_by_text(re.compile(r"Visitor [0-9A-F]{4} is training a model")).count() >= 1
        ada.reload()
        ada.get_by_text("Your model is training").wait_for(timeout=30_000)
        ada.get_by_role("button", name="Stop").click()
        ada.get_by_text("You stopped the run.").wait_for(timeout=60_000)
