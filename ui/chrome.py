"""What every page has: the site's navigation in charge, the title, the live-model banner (which
redraws the page when another model is made live), and the heartbeat that keeps a visitor's run
(or place in the queue) while they look around."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from mnistcore.lab.store import Live
from mnistcore.lab import services
from ui.resources import slot, store
from ui.text import public
from ui.visitor import Visitor, visitor

# On a phone, Streamlit's roomy top margin and large titles push the Draw page's answer below the
# fold: tighten them on narrow screens only. And pills wrap (below).
PAGE_STYLE = """<style>
/* Pills (Draw's "No, it's a ...") wrap onto a second line instead of scrolling sideways: at
   390 px Streamlit's row scrolled, and the 9 sat half hidden at the edge. */
[data-testid="stButtonGroup"] div:has(> button) { flex-wrap: wrap !important; overflow-x: visible !important;
                                                  mask-image: none !important; -webkit-mask-image: none !important; }
@media (max-width: 640px) {
  .block-container { padding-top: 3.5rem !important; padding-bottom: 2rem !important; }
  h1 { font-size: 1.9rem !important; padding-bottom: .25rem !important; }
}
</style>"""
# On a narrow screen the site's navigation is the sidebar, drawn over the page; Streamlit leaves it
# open after a page is chosen, hiding the page the visitor asked for. Close it when a page opens.
CLOSE_MENU_JS = """
export default function () {
  if (!window.matchMedia("(max-width: 640px)").matches) return;
  const sidebar = document.querySelector('[data-testid="stSidebar"]');
  const close = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
  if (sidebar && close && sidebar.dataset.collapsed === "false") close.click();
}
"""
_close_menu_on_phones = st.components.v2.component("mnistlab.close_menu", js=CLOSE_MENU_JS)
HEARTBEAT_EVERY = 5  # seconds; well within the slot's timeout, and quiet enough for any page
# How often an open page asks whether the live model has changed. Every open page asks, so this
# is the site's steadiest load: 100 open pages make 25 checks a second. The browser asks, for a
# small static file (see LIVE_WATCH_JS): a rerun per check cost the server ~14 ms, a quarter of
# what a drawing costs, and a crowd of 50 drawing every 2 s could not be served with it.
LIVE_CHECK_EVERY = 4.0  # seconds
# In the browser: every LIVE_CHECK_EVERY s, fetch the store's signal file ({"live": name}, written
# by mnistcore.lab.store whenever a model is made live) and, when it names another model than the
# page shows, rerun the page. If this server's store has not noticed yet (it looks at live.json at
# most once a second) the page still shows the old model, and the next check asks again: at most
# MAX_TRIES times for one change, so a model that cannot be loaded here never makes a loop.
# Each page waits a random 0.5 to 1.5 times LIVE_CHECK_EVERY between checks: a class opens the page
# in the same few seconds, and 50 pages checking in step reached the server as one burst every few
# seconds, holding up everyone's answers (bench/crowd.py: p95 0.6-1.2 s, all of it in the bursts).
LIVE_WATCH_JS = """
const tries = new Map();  // signal text -> reruns asked for it (per page load, across reruns)
export default function ({ data, setTriggerValue }) {
  const check = async () => {
    try {
      const reply = await fetch(data.url, { cache: "no-store" });
      if (!reply.ok) return;
      const text = await reply.text();
      const live = JSON.parse(text).live;
      const asked = tries.get(text) || 0;
      if (typeof live === "string" && live !== data.shown && asked < data.max_tries) {
        tries.set(text, asked + 1);
        setTriggerValue("changed", live);
      }
    } catch (error) { /* offline or a half-written file: the next check asks again */ }
  };
  let timer, stopped = false;
  const later = () => {
    timer = setTimeout(async () => { await check(); if (!stopped) later(); }, data.every_ms * (0.5 + Math.random()));
  };
  later();
  return () => { stopped = true; clearTimeout(timer); };
}
"""
MAX_TRIES = 3
_live_watch = st.components.v2.component("mnistlab.live_watch", js=LIVE_WATCH_JS)


def open_page(title: str, keep_alive: bool = True) -> Visitor:
    """Every page starts here: the navigation fix, the visitor, the title; returns the visitor.

    With `keep_alive`, a visitor whose model is training or waiting in the queue keeps it while
    they look at other pages of the site (see `_keep_alive`). The Train page has its own.
    """
    _hand_over_to_navigation()
    me = visitor()
    st.html(PAGE_STYLE)
    _close_menu_on_phones(key="close_menu", data={"page": title}, height=0)
    st.title(title)
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
    slot().heartbeat(me.id)
    view = slot().view(me.id)
    if view.mine is not None and view.mine.running:
        st.caption(f":material/model_training: Your model is training: {view.mine.fraction:.0%} done, expected "
                   f"to finish around {when(view.mine.expected_end)}. It keeps going while this tab is open.")
    elif view.place is not None:
        st.caption(f":material/hourglass_top: Your run is number {view.place.position} in the queue and should "
                   f"start around {when(view.place.expected_start)}. Keep this tab open to keep your place.")
    elif view.mine is not None and view.mine.can_publish:
        st.caption(":material/check_circle: Your model has finished training: see it on the Train page.")


def live_banner() -> Live | None:
    """Say which model is live, in words a visitor reads right, with the technical detail one tap
    away (the caption's help); and the store's warning, if any. Returns the live model."""
    models = store()
    if models.warning:
        st.warning(public(models.warning), icon=":material/warning:")
    live = models.live()
    if live is not None:
        origin = "the shipped model" if live.is_default else "trained and published here"
        accuracy = live.info.test_accuracy
        reads = (f"reads **{accuracy:.1%}** of 10,000 handwritten digits it never saw in training correctly"
                 if accuracy is not None else "has not been tested yet")
        st.caption(f":material/memory: **Live model** ({origin}): {reads}.", help=live.info.summary())
    _watch_live_model(live.name if live is not None else None)
    return live


def _watch_live_model(shown: str | None) -> None:
    """Redraw the whole page when another model than `shown` (a Live.name) is made live.

    Someone published, or made an earlier model live, in this process or another: every open
    page shows the new model within a few seconds, without its visitor doing anything. The
    browser does the looking (LIVE_WATCH_JS), so a page that nobody touches costs the server only
    a small file every few seconds. The redraw is an ordinary rerun, as after a stroke: the canvas
    keeps its drawing, and the Train page's progress goes on.
    """
    signal = services.config.live_signal_path()
    _live_watch(key="live_watch", height=0, on_changed_change=_no_op,
                data={"url": f"app/static/{signal.name}", "shown": shown, "every_ms": int(LIVE_CHECK_EVERY * 1000),
                      "max_tries": MAX_TRIES})


def _no_op() -> None:
    """The watcher's trigger needs a callback to rerun the page; the rerun is all it asks for."""


def require_live_model() -> Live:
    """The live model; without one, say what to do and stop the page."""
    live = live_banner()
    if live is None:
        st.error("No model is live, so there is nothing to predict with yet. "
                 "Train one on the Train page and publish it.")
        st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
        st.stop()
    return live


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def when(moment) -> str:
    """A time of day for people, in the server's time zone, e.g. "14:05"."""
    return f"{moment.astimezone():%H:%M}"
