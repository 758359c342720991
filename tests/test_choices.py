"""ui.choices: a choice widget whose labels changed keeps its option, whatever label the browser sends."""
from streamlit.testing.v1 import AppTest


def page():
    import streamlit as st

    from ui.choices import choose

    st.session_state.setdefault("changes", 0)

    def changed():
        st.session_state.changes += 1

    labels = {"any": "any", 1: "one", 2: "two"} if st.session_state.get("lang", "en") == "en" else \
        {"any": "全部", 1: "一", 2: "二"}
    choose(st.selectbox, "Digit", labels, key="digit", format_func=labels.get, default=1, on_change=changed)


class OlderLabels(list):
    """The labels the browser still shows: Chinese ones, from before the visitor switched to English."""

    def __getitem__(self, i):
        return {"one": "一", "two": "二", "any": "全部"}.get(super().__getitem__(i), "?")


def test_a_label_from_before_keeps_the_option_shown_and_is_no_change():
    at = AppTest.from_function(page).run()
    assert at.selectbox(key="digit").value == 1  # the default
    at.selectbox(key="digit").set_value(2).run()
    assert at.selectbox(key="digit").value == 2 and at.session_state.changes == 1
    box = at.selectbox(key="digit").set_value("any")  # the browser sends "全部": no label of the server's
    box.options = OlderLabels(box.options)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="digit").value == 2 and at.session_state.changes == 1
    at.selectbox(key="digit").set_value("any").run()  # a real choice is one
    assert at.selectbox(key="digit").value == "any" and at.session_state.changes == 2


def test_a_value_that_is_no_option_falls_back_to_the_default():
    at = AppTest.from_function(page)
    at.session_state["digit"] = 7  # e.g. an option that no longer exists
    at.run()
    assert not at.exception and at.selectbox(key="digit").value == 1
