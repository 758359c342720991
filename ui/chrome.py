"""What every page has: the site's navigation in charge, the title, the live-model banner (which
redraws the page when another model is made live), and the heartbeat that keeps a visitor's run
(or place in the queue) while they look around."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import streamlit as st

from mnistcore.lab.store import Live
from mnistcore.lab import services
from ui.language import switch, use
from ui.resources import slot, store
from ui.text import _, number, percent, public, time_of_day
from ui.visitor import Visitor, visitor

ASSETS = Path(__file__).parent / "assets"
PAGE_STYLE = "<style>" + (ASSETS / "page.css").read_text(encoding="utf-8") + "</style>"  # phones; wrapping pills
_close_menu_on_phones = st.components.v2.component("mnistlab.close_menu",
                                                   js=(ASSETS / "close_menu.js").read_text(encoding="utf-8"))
HEARTBEAT_EVERY = 5  # seconds; well within the slot's timeout, and quiet enough for any page
# How often an open page asks whether the live model has changed: every open page asks, so this is
# the site's steadiest load. The browser asks (assets/live_watch.js), for a small static file the
# store writes: a rerun per check would cost the server a good part of what a drawing costs.
LIVE_CHECK_EVERY = 4.0  # seconds, on average: each page waits a random 0.5 to 1.5 times this
MAX_TRIES = 3  # reruns asked for one change, should the new model not load here: never a loop
_live_watch = st.components.v2.component("mnistlab.live_watch",
                                         js=(ASSETS / "live_watch.js").read_text(encoding="utf-8"))


def open_page(title: str, keep_alive: bool = True) -> Visitor:
    """Every page starts here: the navigation fix, the visitor, the language switch, the title
    (`title` in the source language: it is translated here); returns the visitor.

    With `keep_alive`, a visitor whose model is training or waiting in the queue keeps it while
    they look at other pages of the site (see `_keep_alive`). The Train page has its own.
    """
    _hand_over_to_navigation()
    me = visitor()
    st.html(PAGE_STYLE)
    switch()
    _close_menu_on_phones(key="close_menu", data={"page": title}, height=0)
    st.title(_(title), anchor=False)
    if keep_alive:
        view = slot().view(me.id)
        if (view.mine is not None and view.mine.running) or view.place is not None:
            _keep_alive(me)
    return me


def _hand_over_to_navigation() -> None:
    """Make sure streamlit_app.py's st.navigation is in charge, on a freshly started server too.

    Until some session has run streamlit_app.py, Streamlit treats pages/ as an old-style pages
    folder: a first visitor who opens /draw directly would get the page without the site's
    navigation. So hand over to st.navigation (as its first run would) and, on the visitor's very
    first run, when there is no input to lose, start over: they stay on the page they asked for.
    This reads a private Streamlit attribute (PagesManager.uses_pages_directory): if a new
    Streamlit renames or removes it, the fix is skipped rather than the site taken down (the
    browser test that opens /draw first then fails, saying so).
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        return
    if getattr(PagesManager, "uses_pages_directory", None) is True:
        PagesManager.uses_pages_directory = False
        if not st.session_state:
            st.rerun()


@st.fragment(run_every=HEARTBEAT_EVERY)
def _keep_alive(me: Visitor) -> None:
    """Tell the slot this visitor's tab is still open, and say how their run is doing.

    The slot gives up on runs whose owner it has not heard from (their tab was closed); without
    this, looking at the Gallery for a minute while one's model trains would end the run.
    """
    use()  # a fragment's rerun runs only this function: its words need the visitor's language too
    slot().heartbeat(me.id)
    view = slot().view(me.id)
    if view.mine is not None and view.mine.running:
        st.caption(":material/model_training: " + _(
            "Your model is training: {done} done, expected to finish around {end}. It keeps going while this tab "
            "is open.").format(done=percent(view.mine.fraction), end=when(view.mine.expected_end)))
    elif view.place is not None:
        st.caption(":material/hourglass_top: " + _(
            "Your run is number {position} in the queue and should start around {start}. Keep this tab open to "
            "keep your place.").format(position=view.place.position, start=when(view.place.expected_start)))
    elif view.mine is not None and view.mine.can_publish:
        st.caption(":material/check_circle: " + _("Your model has finished training: see it on the Train page."))


def live_banner() -> Live | None:
    """Say which model is live, in words a visitor reads right, with the technical detail one tap
    away (the caption's help); and the store's warning, if any. Returns the live model."""
    models = store()
    if models.warning:
        st.warning(public(models.warning), icon=":material/warning:")
    live = models.live()
    if live is not None:
        origin = _("the shipped model") if live.is_default else _("trained and published here")
        accuracy = live.info.test_accuracy
        reads = (_("reads **{accuracy}** of {count} handwritten digits it never saw in training correctly").format(
                 accuracy=percent(accuracy, 1), count=number(10_000))
                 if accuracy is not None else _("has not been tested yet"))
        st.caption(":material/memory: " + _("**Live model** ({origin}): {reads}.").format(origin=origin, reads=reads),
                   help=live.info.summary())
    _watch_live_model(live.name if live is not None else None)
    return live


def _watch_live_model(shown: str | None) -> None:
    """Redraw the whole page when another model than `shown` (a Live.name) is made live.

    Someone published, or made an earlier model live, in this process or another: every open
    page shows the new model within a few seconds, without its visitor doing anything. The
    browser does the looking (assets/live_watch.js), so a page that nobody touches costs the server only
    a small file every few seconds. The redraw is an ordinary rerun, as after a stroke: the canvas
    keeps its drawing, and the Train page's progress goes on.
    """
    signal = services.config.live_signal_path()
    _live_watch(key="live_watch", height=0, on_changed_change=_no_op,
                data={"url": f"app/static/{signal.name}", "shown": shown, "every_ms": int(LIVE_CHECK_EVERY * 1000),
                      "max_tries": MAX_TRIES})


def watch_class_board(shown: str) -> None:
    """Redraw the page when a model joins the class board (`shown`: the board's version drawn), as
    `_watch_live_model` does for the live model, polling the board's own small static file."""
    signal = services.config.class_signal_path()
    _live_watch(key="class_watch", height=0, on_changed_change=_no_op,
                data={"url": f"app/static/{signal.name}", "shown": shown, "every_ms": int(LIVE_CHECK_EVERY * 1000),
                      "max_tries": MAX_TRIES})


def _no_op() -> None:
    """The watcher's trigger needs a callback to rerun the page; the rerun is all it asks for."""


def require_live_model() -> Live:
    """The live model; without one, say what to do and stop the page."""
    live = live_banner()
    if live is None:
        st.error(_("No model is live, so there is nothing to predict with yet. "
                   "Train one on the Train page and publish it."))
        st.page_link("pages/train.py", label=_("Go to Train"), icon=":material/model_training:")
        st.stop()
    return live


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def when(moment) -> str:
    """A time of day for people, in the server's time zone and the visitor's language, e.g. "14:05"."""
    return time_of_day(moment)
