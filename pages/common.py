"""What every page shares: the model store, the training slot, MNIST, the live-model banner, and
who this visitor is and whether they may train.

Not a page itself (streamlit_app.py lists the pages); page scripts import it as `pages.common`,
which works because Streamlit puts the entry script's folder on sys.path.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

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
    return TrainingSlot(heartbeat_timeout=site.heartbeat_seconds())


# ---------------------------------------------------------------------------- who is visiting


@dataclass(frozen=True)
class Visitor:
    """One browser session: anonymous, and gone when its tab closes."""

    id: str      # a secret that names the session to the training slot; never shown
    label: str   # what others see until the visitor gives a name, e.g. "Visitor 3F2A"


def visitor() -> Visitor:
    """This session's visitor, made on first use."""
    if "visitor" not in st.session_state:
        st.session_state.visitor = Visitor(secrets.token_urlsafe(16), f"Visitor {secrets.token_hex(2).upper()}")
    return st.session_state.visitor


def access() -> site.Access:
    """Demo mode and passcode (mnistcore.site), from the environment and .streamlit/secrets.toml.

    Without a secrets file st.secrets raises on every look-up: that just means "not set". A
    secrets file that exists but cannot be read closes training until it is fixed, and so do the
    two settings written at its top level instead of in [mnistlab].
    """
    try:
        section = st.secrets[site.SECRETS_SECTION] if site.SECRETS_SECTION in st.secrets else {}
        misplaced = [name for name in (site.DEMO_ENV, site.PASSCODE_ENV) if name in st.secrets]
    except FileNotFoundError as err:  # StreamlitSecretNotFoundError: missing, or unreadable
        if not any(Path(p).exists() for p in st.get_option("secrets.files")):
            return site.access()
        return site.access(problem=f"the secrets file could not be read ({err})")
    if not isinstance(section, Mapping):
        return site.access(problem=f"{site.SECRETS_SECTION} in secrets.toml must be a [section]")
    if misplaced:
        return site.access(section, problem=f"secrets.toml has {' and '.join(misplaced)} at its top level; "
                                             f"write them in its [{site.SECRETS_SECTION}] section as "
                                             f"{site.DEMO_SECRET} and {site.PASSCODE_SECRET}")
    return site.access(section)


def _passcode_key(passcode: str) -> str:
    # What the session keeps once unlocked: a digest, so a changed passcode locks everyone again.
    return hashlib.sha256(passcode.encode("utf-8")).hexdigest()


def may_train(rules: site.Access | None = None) -> bool:
    """May this visitor train, publish and make models live? Open by default; in demo mode only
    with the passcode, given once per session (see `unlock`)."""
    rules = rules or access()
    if rules.open:
        return True
    return rules.passcode is not None and st.session_state.get("unlocked") == _passcode_key(rules.passcode)


def unlock(given: str, rules: site.Access) -> bool:
    """Unlock training for this session if `given` is the passcode."""
    if not rules.unlocks(given):
        return False
    st.session_state.unlocked = _passcode_key(rules.passcode)
    return True


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


def open_page(title: str, keep_alive: bool = True) -> None:
    """Every page starts here: make sure the site's navigation is in charge, then the title.

    With `keep_alive`, a visitor whose model is training or waiting in the queue keeps it while
    they look at other pages of the site (see `_keep_alive`). The Train page has its own.

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
    me = st.session_state.get("visitor")
    if keep_alive and me is not None and (_my_run(me) is not None or _my_place(me) is not None):
        _keep_alive(me)


HEARTBEAT_EVERY = 5  # seconds; well within the slot's timeout, and quiet enough for any page


def _my_run(me: Visitor):
    run = slot().last_run(me.id)
    return run if run is not None and run.running else None


def _my_place(me: Visitor):
    return next((w for w in slot().queue() if w.owner == me.id), None)


@st.fragment(run_every=HEARTBEAT_EVERY)
def _keep_alive(me: Visitor) -> None:
    """Tell the slot this visitor's tab is still open, and say how their run is doing.

    The slot gives up on runs whose owner it has not heard from (their tab was closed); without
    this, looking at the Gallery for a minute while one's model trains would end the run.
    """
    slot().heartbeat(me.id)
    run, place = _my_run(me), _my_place(me)
    if run is not None:
        st.caption(f":material/model_training: Your model is training: {run.fraction:.0%} done, expected to "
                   f"finish around {when(run.expected_end)}. It keeps going while this tab is open.")
    elif place is not None:
        st.caption(f":material/hourglass_top: Your run is number {place.position} in the queue and should start "
                   f"around {when(place.expected_start)}. Keep this tab open to keep your place.")
    else:
        last = slot().last_run(me.id)
        if last is not None and last.can_publish:
            st.caption(":material/check_circle: Your model has finished training: see it on the Train page.")


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
