"""What every page shares: the model store, the training slot, MNIST, and the live-model banner.

Not a page itself (streamlit_app.py lists the pages); page scripts import it as `pages.common`,
which works because Streamlit puts the entry script's folder on sys.path.
"""
from __future__ import annotations

import datetime as dt

import streamlit as st

try:
    from streamlit.runtime.pages_manager import PagesManager
except ImportError:  # a Streamlit without it has no old-style pages/ folder handling to undo
    PagesManager = None

from mnistcore import site
from mnistcore.data import MnistUnavailable, load_mnist, resolve_data_dir
from mnistcore.jobs import TrainingSlot
from mnistcore.store import Live, ModelStore


# One store per weights folder, shared by every visitor (ModelStore is thread-safe). The folder
# is part of the cache key so tests pointing MNISTLAB_WEIGHTS_DIR elsewhere get their own store.
@st.cache_resource(show_spinner="Loading the live model…")
def _store_at(weights_dir: str) -> ModelStore:
    return ModelStore(weights_dir)


def store() -> ModelStore:
    return _store_at(str(site.weights_dir()))


@st.cache_resource(show_spinner=False)
def slot() -> TrainingSlot:
    """The server's one training slot, shared by every visitor."""
    return TrainingSlot()


# cache_resource, not cache_data: cache_data would hand every rerun its own 55 MB copy. The
# arrays are made read-only instead, so no session can change what the others see.
@st.cache_resource(show_spinner="Getting MNIST… (the first time, this downloads about 11 MB)")
def _mnist_from(folder: str):
    data = load_mnist(folder)
    for part in data:
        for array in part:
            array.flags.writeable = False
    return data


def mnist():
    """MNIST as load_mnist() returns it; if it cannot be had, a clear error and the page stops."""
    folder = resolve_data_dir()
    try:
        return _mnist_from(str(folder))
    except MnistUnavailable as err:
        st.error(f"**MNIST could not be downloaded.** This page needs the MNIST images.\n\n{err}")
    except (ValueError, OSError) as err:
        st.error(f"**The MNIST files in {folder} cannot be read:** {err}\n\n"
                 f"Delete the folder's contents and reload this page to download them again, "
                 f"or ask whoever runs the lab server to run `python -m mnistcore fetch`.")
    st.stop()


def open_page(title: str) -> None:
    """Every page starts here: make sure the site's navigation is in charge, then the title.

    On a freshly started server, Streamlit treats pages/ as an old-style pages folder until some
    session has run streamlit_app.py's st.navigation: a first visitor who opens /draw directly
    would get this page without the site's navigation, and with pages/common.py listed as a page.
    So hand over to st.navigation (as its first run would) and, on the visitor's very first run,
    when there is no input to lose, start over: they stay on the page they asked for.
    """
    if PagesManager is not None and PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if not st.session_state:
            st.rerun()
    st.title(title)


def live_banner() -> Live | None:
    """Show which model is live (and the store's warning, if any); returns the live model."""
    models = store()
    if models.warning:
        st.warning(models.warning, icon=":material/warning:")
    live = models.live()
    if live is not None:
        origin = "the shipped model" if live.is_default else "published on the Train page"
        st.caption(f":material/memory: **Live model** ({origin}): {live.info.summary()}")
    return live


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
