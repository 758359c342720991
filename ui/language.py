"""The visitor's language: the browser's at first, then what they choose with the switch on every
page. The choice is kept in the session, so it follows the visitor from page to page, and in the
URL (?lang=zh_CN), so a reload (a new session) opens in it too."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from mnistcore import i18n
from mnistcore.i18n import gettext as _

KEY = "lang"            # the query parameter that keeps the choice across a reload
KEPT = "language"       # the session's choice, kept across pages
SWITCH = "language_switch"  # the switch widget's key
NAMES = {i18n.CHINESE: "中文", i18n.ENGLISH: "English"}  # each language by its own name
# Streamlit's own texts that it offers no setting for (file uploader, camera), swapped in the browser.
WIDGET_TEXTS = [i18n.N_("Drag and drop a file here"), i18n.N_("Upload"), i18n.N_("Take Photo"),
                i18n.N_("Clear photo"), i18n.N_("This app would like to use your camera."),
                i18n.N_("Learn how to allow access.")]
WIDGET_PARTS = [i18n.N_("per file")]  # inside a longer text: "10MB per file • JPG, PNG"
_page_language = st.components.v2.component(
    "mnistlab.page_language", js=(Path(__file__).parent / "assets" / "language.js").read_text(encoding="utf-8"))


def browser_language() -> str:
    """The site's language nearest the browser's (navigator.language); English when it says none."""
    try:
        return i18n.closest(st.context.locale)
    except (AttributeError, RuntimeError):  # no browser behind this run (a bare script)
        return i18n.ENGLISH


def chosen() -> str:
    """The language this run speaks: the session's choice, else the URL's (a reload), else the browser's."""
    for found in (st.session_state.get(KEPT), st.query_params.get(KEY)):
        if found in i18n.LANGUAGES:
            return found
    return browser_language()


def use() -> str:
    """Speak the chosen language in this script run (before any text is made); returns it."""
    language = chosen()
    i18n.set_language(language)
    return language


def _switched() -> None:
    """The switch changed: keep the choice in the session and in the URL."""
    picked = st.session_state.get(SWITCH)
    if picked in i18n.LANGUAGES:
        st.session_state[KEPT] = picked


def switch() -> str:
    """The language switch (中文 | English) and the page's lang attribute; returns the language in use."""
    language = use()
    st.session_state[KEPT] = language
    if st.query_params.get(KEY) != language:
        st.query_params[KEY] = language  # a reload, or a shared link, opens in this language
    if st.session_state.get(SWITCH) not in i18n.LANGUAGES:
        st.session_state[SWITCH] = language
    with st.container(horizontal=True, horizontal_alignment="right", key="language_bar"):
        st.segmented_control(_("Language"), list(NAMES), format_func=NAMES.get, key=SWITCH, required=True,
                             on_change=_switched, label_visibility="collapsed")
    texts = {text: _(text) for text in WIDGET_TEXTS} if language != i18n.SOURCE else {}
    parts = {text: _(text) for text in WIDGET_PARTS} if language != i18n.SOURCE else {}
    _page_language(key="page_language", height=0,
                   data={"lang": i18n.html_lang(language), "texts": texts, "parts": parts})
    return language
