"""Choice widgets (radio, selectbox, segmented control) whose labels change between runs.

Streamlit keeps such a widget's value as the label the browser shows. When the labels change under
it (the visitor switched language, a time estimate or a board's accuracies were updated), the
browser can send back a label that is none of the options any more, and Streamlit hands that text on
as the value, and to on_change as a change. `choose` keeps the value one of the options: a label from
before means "no new choice", so the option shown last stays chosen and on_change is not called.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import streamlit as st

SHOWN = "choices.shown."  # session keys: the option each widget showed chosen last


def choose(widget: Callable, label: str, options: Iterable, *, key: str, format_func: Callable[[Any], str],
           default: Any = None, on_change: Callable | None = None, **kwargs) -> Any:
    """Draw `widget` (st.radio, st.selectbox, st.segmented_control) with `options`; returns the chosen one.

    `default`: the option chosen at first (else the first option). Pass no index= or default= to the
    widget itself: the choice lives in st.session_state[key], as Streamlit wants when both are set.
    """
    options = list(options)
    keep_valid(key, options, default)
    value = widget(label, options, format_func=format_func, key=key, on_change=_checked(key, options, on_change),
                   **kwargs)
    st.session_state[SHOWN + key] = value
    return value


def keep_valid(key: str, options: list, default: Any = None) -> None:
    """Before a widget is drawn: a value that is none of `options` goes back to the option shown last,
    else `default`, else the first."""
    if st.session_state.get(key) in options:
        return
    for candidate in (st.session_state.get(SHOWN + key), default, options[0] if options else None):
        if candidate in options:
            st.session_state[key] = candidate
            return


def _checked(key: str, options: list, on_change: Callable | None) -> Callable[..., None]:
    """on_change for widget `key`: a value that is none of this run's `options` is an old label, not a choice."""
    def changed(*args, **kwargs) -> None:
        if st.session_state.get(key) not in options:
            keep_valid(key, options)
        elif on_change is not None:
            on_change(*args, **kwargs)
    return changed
