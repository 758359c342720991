"""The visitor's language: the browser's at first, then what they choose with the switch on every
page. The switch is bound to the URL (?lang=zh_CN), so the choice survives a reload, and kept in
the session, so it follows the visitor from page to page."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from mnistcore import i18n
from mnistcore.i18n import gettext as _

KEY = "lang"  # the switch's key, its session-state entry and its query parameter
NAMES = {i18n.CHINESE: "中文", i18n.ENGLISH: "English"}  # each language by its own name
# Streamlit's own texts that it offers no setting for (file uploader, camera), swapped in the browser.
WIDGET_TEXTS = [i18n.N_("Drag and drop a file here"), i18n.N_("Upload"), i18n.N_("Take Photo"),
                i18n.N_("Clear photo")]
_page_language = st.components.v2.component(
    "mnistlab.page_language", js=(Path(__file__).parent / "assets" / "language.js").read_text(encoding="utf-8"))


def browser_language() -> str:
    """The site's language nearest the browser's (navigator.language); English when it says none."""
    try:
        return i18n.closest(st.context.locale)
    except (AttributeError, RuntimeError):  # no browser behind this run (a bare script)
        return i18n.ENGLISH


def chosen() -> str:
    """The language this run speaks: the switch's (session, or the URL on a fresh tab), else the browser's."""
    for found in (st.session_state.get(KEY), st.query_params.get(KEY)):
        if found in i18n.LANGUAGES:
            return found
    return browser_language()


def use() -> str:
    """Speak the chosen language in this script run (before any text is made); returns it."""
    language = chosen()
    i18n.set_language(language)
    return language


def switch() -> str:
    """The language switch (中文 | English) and the page's lang attribute; returns the language in use."""
    use()
    with st.container(horizontal=True, horizontal_alignment="right", key="language_bar"):
        picked = st.segmented_control(_("Language"), list(NAMES), format_func=NAMES.get, key=KEY, required=True,
                                      default=browser_language(), bind="query-params", persist_state="session",
                                      label_visibility="collapsed")
    language = picked if picked in i18n.LANGUAGES else use()
    i18n.set_language(language)
    texts = {text: _(text) for text in WIDGET_TEXTS} if language != i18n.SOURCE else {}
    _page_language(key="page_language", height=0, data={"lang": i18n.html_lang(language), "texts": texts})
    return language
