"""The Lab handwriting page's two sections: the drawings the live model reads wrong, digit by digit,
and the labels held for review, with Accept and Reject for whoever may train."""
from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from mnistcore.explain import gallery
from mnistcore.explain.pictures import enlarge, tiles
from mnistcore.lab import handwriting
from mnistcore.lab.feedback import ACCEPTED, REJECTED, FeedbackError
from ui import visitor
from ui.resources import feedback_store
from ui.text import public

HELD_PER_PAGE = 6  # held drawings an operator sees at a time: one decision can take them all
CARD_WIDTH = 300   # pixels: a held drawing's card fits a 390 px phone, and three sit side by side on a laptop
# A small picture's fullscreen button shows on hover, and on a phone a tap leaves it showing over
# the Accept button below: the held drawings' pictures go without it.
CARD_STYLE = '<style>div[class*="st-key-held-"] [data-testid="stElementToolbar"] { display: none; }</style>'
log = logging.getLogger("mnistlab")


def decide(ids: list[int], decision: str) -> None:
    """Accept or reject these held drawings (a button's callback), and say what happened."""
    if not visitor.may_train():  # checked again at the click: the passcode may have changed since the page was drawn
        st.session_state.review_notice = ("error", "Reviewing needs the lab's passcode.")
        return
    try:
        changed = feedback_store().review(ids, decision)
    except (FeedbackError, ValueError) as err:
        log.error("lab handwriting: review of %s failed: %s", ids, err)
        st.session_state.review_notice = ("error", f"That could not be saved: {public(err)}")
        return
    log.info("lab handwriting: client %s %s %d of drawings %s", visitor.client(), decision, changed, ids)
    done = f"{decision.capitalize()} {changed} drawing{'' if changed == 1 else 's'}."
    if changed < len(ids):  # another operator, or the visitor's undo, was first
        done += f" {len(ids) - changed} had been decided or undone already."
    st.session_state.review_notice = ("success", done)


def review_section(report: handwriting.HandwritingReport) -> None:
    """The held drawings: how many, and for whoever may train, each with Accept and Reject."""
    st.subheader("Held for review")
    st.caption(f"{report.held:,} drawing{'' if report.held == 1 else 's'} whose label every model strongly "
               "disagrees with (a mis-tap, perhaps): not counted as the model's mistakes, and not trained on until "
               "someone running the lab accepts them.")
    rules = visitor.access()
    if not visitor.may_train(rules):
        if rules.passcode is not None:
            with st.expander("Review them (needs the lab's passcode)", icon=":material/lock:"):
                given = st.text_input("Passcode", type="password", key="review_passcode")
                if st.button("Unlock", icon=":material/lock_open:", key="review_unlock"):
                    problem = visitor.unlock(given, rules)
                    if problem is None:
                        st.rerun()
                    st.error(problem)
        return
    pages = max(1, -(-report.held // HELD_PER_PAGE))
    if st.session_state.get("review_page", 1) > pages:  # fewer pages than before: decisions were made
        del st.session_state["review_page"]
    number = st.pagination(pages, key="review_page") if pages > 1 else 1
    try:
        held = feedback_store().held(HELD_PER_PAGE, offset=(number - 1) * HELD_PER_PAGE)
    except FeedbackError as err:
        log.error("lab handwriting: the held drawings cannot be read: %s", err)
        st.error(f"The held drawings cannot be read: {public(err)}")
        return
    if len(held) == 0:
        return
    ids = [int(i) for i in held.ids]
    st.html(CARD_STYLE)
    # Cards of a fixed width in a wrapping row: one under another on a phone, a grid on a wide screen.
    with st.container(horizontal=True, wrap=True):
        for k, drawing_id in enumerate(ids):
            with st.container(border=True, width=CARD_WIDTH, key=f"held-{drawing_id}"):
                with st.container(horizontal=True, vertical_alignment="center"):
                    st.image(enlarge(held.images[k], 56), width=56)
                    # Only digits and numbers here, nothing a visitor typed.
                    st.markdown(f"Labelled **{held.labels[k]}**  \nthe model read **{held.predicted[k]}**, "
                                f"{gallery.percent(held.confidence[k])} sure")
                with st.container(horizontal=True):
                    st.button("Accept", key=f"accept-{drawing_id}", icon=":material/check:", on_click=decide,
                              args=([drawing_id], ACCEPTED))
                    st.button("Reject", key=f"reject-{drawing_id}", icon=":material/close:", on_click=decide,
                              args=([drawing_id], REJECTED))
    if len(ids) > 1:
        with st.container(horizontal=True):
            st.button(f"Accept these {len(ids)}", key="accept-page", on_click=decide, args=(ids, ACCEPTED))
            st.button(f"Reject these {len(ids)}", key="reject-page", on_click=decide, args=(ids, REJECTED))


def measured_section(report: handwriting.HandwritingReport, on_mnist) -> None:
    """Digit by digit, and the drawings it reads wrong (a page at a time)."""
    st.subheader("Digit by digit")
    table = pd.DataFrame(handwriting.per_digit(report, on_mnist))
    st.dataframe(table, hide_index=True, column_config={
        "digit": st.column_config.NumberColumn("Digit"),
        "drawings": st.column_config.ProgressColumn("Drawings", min_value=0, max_value=int(report.counts.max()),
                                                    format="%d"),
        "lab accuracy": st.column_config.ProgressColumn("On the lab's drawings", min_value=0.0, max_value=1.0,
                                                        format="percent"),
        "MNIST test accuracy": st.column_config.ProgressColumn("On MNIST's test digits", min_value=0.0,
                                                               max_value=1.0, format="percent"),
    })

    st.subheader("What it gets wrong")
    only_mistakes = st.toggle("Only mistakes", value=True, key="lab_only_mistakes")
    shown = gallery.select(report.labels, report.evaluation.predictions, report.evaluation.confidence,
                           gallery.GalleryFilter(only_mistakes=only_mistakes))
    if len(shown) == 0:
        st.success("The live model reads every drawing right.", icon=":material/celebration:")
    else:
        pages = gallery.page_count(len(shown))
        if st.session_state.get("lab_page", 1) > pages:  # fewer pages than before (the toggle changed)
            del st.session_state["lab_page"]
        number = st.pagination(pages, key="lab_page") if pages > 1 else 1
        page = gallery.page(shown, number)
        try:
            drawings = feedback_store().rows(report.ids[page])  # only the drawings on this page
        except (FeedbackError, KeyError) as err:
            log.error("lab handwriting: a page of drawings cannot be read: %s", err)
            st.error(f"The drawings on this page cannot be read: {public(err)}")
            return
        st.caption("Under each drawing: what the live model reads now and how sure it is; mistakes are framed in "
                   "red (\"✗ 4, is 9\": it read 4, the visitor drew a 9).")
        st.image(tiles(drawings.images, report.mistakes[page]),
                 caption=gallery.captions(report.labels, report.evaluation.predictions,
                                          report.evaluation.confidence, page))
