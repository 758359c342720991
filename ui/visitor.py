"""Who is visiting, and whether they may train.

A visitor is anonymous: a token names them to the training slot. It is made by the server from
the browser's own random cookie (Streamlit's XSRF cookie, which every page load and websocket of
that browser carries), keyed with the server's cookie secret: reloading the page or opening
another keeps their run theirs (their Stop, their curves, their Publish), and nothing in the
address bar names them, so a link someone else made cannot make a visitor share their run. A
client without that cookie (a script) gets a new token per session. The token is never shown to
others, who see a label made from it ("Visitor 3F2A") or the name the visitor gives.

Budgets count by device (that browser; a client without the cookie, by its address), not by
address alone: a room behind one Wi-Fi is many devices.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.web.server.starlette.starlette_app_utils import decode_xsrf_token_string

from mnistcore.lab import config, services
from mnistcore.lab.names import anonymous_label
from ui.text import _, ngettext

log = logging.getLogger("mnistlab")

TOKEN_PARAM = "visitor"  # where the token once rode in the address: removed from links that still carry it
BROWSER_COOKIE = "_streamlit_xsrf"  # Streamlit's per-browser random cookie (its XSRF token)


@dataclass(frozen=True)
class Visitor:
    id: str      # the token; a secret that names the visitor to the training slot, never shown
    label: str   # what others see until the visitor gives a name, e.g. "Visitor 3F2A"


def visitor() -> Visitor:
    """This visitor: from the session, else from their browser's cookie, else a new one."""
    me = st.session_state.get("visitor")
    if me is None:
        browser = _browser_secret()
        token = _keyed("visitor", browser) if browser else secrets.token_urlsafe(16)
        me = st.session_state.visitor = Visitor(token, label_for(token))
    if TOKEN_PARAM in st.query_params:  # an old link's token: ignored, and kept off the address bar
        del st.query_params[TOKEN_PARAM]
    return me


def _browser_secret() -> bytes | None:
    """The random bytes of this browser's Streamlit cookie, or None (no cookie: a script, AppTest)."""
    try:
        raw = st.context.cookies.get(BROWSER_COOKIE)
    except Exception:  # noqa: BLE001 - no context (a bare script run)
        return None
    if not isinstance(raw, str) or not raw:
        return None
    token, _ = decode_xsrf_token_string(raw)
    return token if token and len(token) >= 16 else None


def _keyed(purpose: str, browser: bytes) -> str:
    """A name for this browser, for `purpose`, that only this server can make from its cookie."""
    key = str(st.get_option("server.cookieSecret")).encode("utf-8")
    digest = hmac.new(key, purpose.encode("ascii") + b":" + browser, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def client() -> str:
    """This visitor's device, for per-device budgets (the training queue's places, labelled
    drawings, passcode guesses): their browser where it carries Streamlit's cookie, else their address."""
    browser = _browser_secret()
    return f"browser {_keyed('device', browser)[:12]}" if browser else address()


def address() -> str:
    """Where this visitor connects from (their address, as Streamlit sees it), for per-address budgets.

    Behind a proxy that sets X-Forwarded-For (deploy/nginx.conf.template does) uvicorn gives the visitor's own
    address; behind one that does not, every visitor has the proxy's: see the README on running the server.
    """
    try:
        ip = st.context.ip_address
        return ip if isinstance(ip, str) and ip else "unknown"  # AppTest's context gives a mock, not text
    except Exception:  # noqa: BLE001 - no context (a bare script run): one budget for all
        return "unknown"


def drawing_budget_problem() -> str | None:
    """Why this visitor may not save another labelled drawing now, in plain words; None if they may.

    Counts the drawing when it is allowed: call it once per drawing about to be saved.
    """
    saved = st.session_state.get("drawings_saved", 0)
    if saved >= config.budget("drawings_per_session"):
        log.warning("draw: session of client %s reached its budget of %d saved drawings", client(), saved)
        return _("Thank you: you have labelled {count} drawings, as many as one visit may. "
                 "Keep drawing: the model still answers, it just stops collecting.").format(count=saved)
    wait = services.drawing_rate().take(device=client(), address=address())
    if wait > 0:
        log.warning("draw: client %s (%s) saves drawings faster than allowed", client(), address())
        return ngettext("That was quick: please wait {seconds} second before labelling another drawing.",
                        "That was quick: please wait {seconds} seconds before labelling another drawing.",
                        math.ceil(wait)).format(seconds=math.ceil(wait))
    st.session_state.drawings_saved = saved + 1
    return None


def feedback_key() -> str:
    """This visitor's key in the lab's drawings (FeedbackStore.add/undo): lets them undo their own
    labels. A hash of their token, so the database never holds the token itself."""
    return hashlib.sha256(f"feedback:{visitor().id}".encode("ascii")).hexdigest()[:32]


def label_for(token: str) -> str:
    """The anonymous name others see for a token: the same after a reload, and not the token."""
    return anonymous_label(hashlib.sha256(token.encode('ascii')).hexdigest()[:4].upper())


def access() -> config.Access:
    """Demo mode and passcode (mnistcore.lab.config), from the environment and .streamlit/secrets.toml.

    Without a secrets file st.secrets raises on every look-up: that just means "not set". A
    secrets file that exists but cannot be read closes training until it is fixed, and so do the
    two settings written at its top level instead of in [mnistlab].
    """
    try:
        section = st.secrets[config.SECRETS_SECTION] if config.SECRETS_SECTION in st.secrets else {}
        misplaced = [name for name in (config.DEMO_ENV, config.PASSCODE_ENV) if name in st.secrets]
    except FileNotFoundError as err:  # StreamlitSecretNotFoundError: missing, or unreadable
        if not any(Path(p).exists() for p in st.get_option("secrets.files")):
            return config.access()
        return config.access(problem=f"the secrets file could not be read ({err})")
    if not isinstance(section, Mapping):
        return config.access(problem=f"{config.SECRETS_SECTION} in secrets.toml must be a [section]")
    if misplaced:
        return config.access(section, problem=f"secrets.toml has {' and '.join(misplaced)} at its top level; "
                                              f"write them in its [{config.SECRETS_SECTION}] section as "
                                              f"{config.DEMO_SECRET} and {config.PASSCODE_SECRET}")
    return config.access(section)


def _passcode_key(passcode: str) -> str:
    # What the session keeps once unlocked: a digest, so a changed passcode locks everyone again.
    return hashlib.sha256(passcode.encode("utf-8")).hexdigest()


def may_train(rules: config.Access | None = None) -> bool:
    """May this visitor train, publish and make models live? Open by default; in demo mode only
    with the passcode, given once per session (see `unlock`)."""
    rules = rules or access()
    if rules.open:
        return True
    return rules.passcode is not None and st.session_state.get("unlocked") == _passcode_key(rules.passcode)


def may_train_own(rules: config.Access | None = None) -> bool:
    """May this visitor train a model of their own (kept on the class board, never live by itself)?
    Whoever may train; in demo mode also everyone, when the operator lets the class train."""
    rules = rules or access()
    return rules.class_training or may_train(rules)


def unlock(given: str, rules: config.Access) -> str | None:
    """Unlock training for this session if `given` is the passcode; else say why not.

    Guessing is slow: a few wrong guesses an hour per visitor, per device and (more) per address,
    counted by every server process together (services.passcode_guesses). Only wrong guesses
    count, so the one who holds the passcode is never refused for someone else's guesses on
    another device. Every wrong guess is logged.
    """
    keys = {"visitor": visitor().id, "device": client(), "address": address()}
    guesses = services.passcode_guesses()
    wait = guesses.wait(**keys)
    if wait > 0:
        log.warning("passcode: guess from client %s (%s) refused, %.0f s to wait", client(), address(), wait)
        minutes = math.ceil(wait / 60)
        return ngettext("Too many wrong passcodes: please try again in {minutes} minute.",
                        "Too many wrong passcodes: please try again in {minutes} minutes.",
                        minutes).format(minutes=minutes)
    if not rules.unlocks(given):
        guesses.take(**keys)
        log.warning("passcode: wrong guess from client %s (%s)", client(), address())
        return _("That is not the passcode.")
    log.info("passcode: training unlocked for client %s", client())
    st.session_state.unlocked = _passcode_key(rules.passcode)
    return None
