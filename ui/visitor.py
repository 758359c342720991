"""Who is visiting, and whether they may train.

A visitor is anonymous: a random token names them to the training slot, and it rides in the
page's address (`?visitor=…`), so reloading the page or reopening it from the browser's history
keeps their run theirs (their Stop, their curves, their Publish). It is never shown to others,
who see a label made from it ("Visitor 3F2A") or the name the visitor gives.
"""
from __future__ import annotations

import hashlib
import logging
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from mnistcore.lab import config, services

log = logging.getLogger("mnistlab")

TOKEN_PARAM = "visitor"
TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")  # what secrets.token_urlsafe(16) makes: 128 random bits


@dataclass(frozen=True)
class Visitor:
    id: str      # the token; a secret that names the visitor to the training slot, never shown
    label: str   # what others see until the visitor gives a name, e.g. "Visitor 3F2A"


def visitor() -> Visitor:
    """This visitor: from the session, else from the token in the address, else a new one.

    Also puts the token (back) in the address: Streamlit drops query parameters when the visitor
    moves to another page, and the token must be there whenever they reload.
    """
    me = st.session_state.get("visitor")
    if me is None:
        given = st.query_params.get(TOKEN_PARAM, "")
        token = given if TOKEN.fullmatch(given) else secrets.token_urlsafe(16)
        me = st.session_state.visitor = Visitor(token, label_for(token))
    if st.query_params.get(TOKEN_PARAM) != me.id:
        st.query_params[TOKEN_PARAM] = me.id
    return me


def client() -> str:
    """Where this visitor connects from (their address, as Streamlit sees it), for per-device budgets.

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
        return (f"Thank you: you have labelled {saved} drawings, as many as one visit may. "
                "Keep drawing: the model still answers, it just stops collecting.")
    wait = services.drawing_rate().take(client())
    if wait > 0:
        log.warning("draw: client %s saves drawings faster than allowed", client())
        return f"That was quick: please wait {math.ceil(wait)} seconds before labelling another drawing."
    st.session_state.drawings_saved = saved + 1
    return None


def feedback_key() -> str:
    """This visitor's key in the lab's drawings (FeedbackStore.add/undo): lets them undo their own
    labels. A hash of their token, so the database never holds the token itself."""
    return hashlib.sha256(f"feedback:{visitor().id}".encode("ascii")).hexdigest()[:32]


def label_for(token: str) -> str:
    """The anonymous name others see for a token: the same after a reload, and not the token."""
    return f"Visitor {hashlib.sha256(token.encode('ascii')).hexdigest()[:4].upper()}"


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

    Wrong guesses slow down: after a few in a row from this visitor, this device or everyone,
    each next guess must wait longer (services.passcode_backoff). Every wrong guess is logged.
    """
    keys = (f"visitor:{visitor().id}", f"client:{client()}", services.EVERYONE)
    backoff = services.passcode_backoff()
    wait = backoff.wait(*keys)
    if wait > 0:
        log.warning("passcode: guess from client %s refused, %.0f s to wait", client(), wait)
        return f"Too many wrong passcodes: please try again in {math.ceil(wait)} seconds."
    if not rules.unlocks(given):
        count = backoff.failed(*keys)
        log.warning("passcode: wrong guess from client %s (%d in a row)", client(), count)
        return "That is not the passcode."
    backoff.succeeded(*keys)
    log.info("passcode: training unlocked for client %s", client())
    st.session_state.unlocked = _passcode_key(rules.passcode)
    return None
