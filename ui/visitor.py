"""Who is visiting, and whether they may train.

A visitor is anonymous: a random token names them to the training slot, and it rides in the
page's address (`?visitor=…`), so reloading the page or reopening it from the browser's history
keeps their run theirs (their Stop, their curves, their Publish). It is never shown to others,
who see a label made from it ("Visitor 3F2A") or the name the visitor gives.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from mnistcore.lab import config

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


def unlock(given: str, rules: config.Access) -> bool:
    """Unlock training for this session if `given` is the passcode."""
    if not rules.unlocks(given):
        return False
    st.session_state.unlocked = _passcode_key(rules.passcode)
    return True
