"""The Lab handwriting page's sections: the drawings the live model reads wrong, digit by digit, the
labels held for review, with Accept and Reject for whoever may train, and the drawings visitors said
are not digits at all."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import streamlit as st

from mnistcore.explain import gallery
from mnistcore.explain.pictures import enlarge, tiles
from mnistcore.lab import handwriting
from mnistcore.lab.feedback import ACCEPTED, REJECTED, FeedbackError
from ui import visitor
from ui.resources import feedback_store
from ui.language import use
from ui.text import _, ngettext, number, public

NOT_DIGITS_SHOWN = 40  # the newest drawings said not to be digits, shown as pictures
HELD_PER_PAGE = 6  # held drawings an operator sees at a time: one decision can take them all
CARD_WIDTH = 300   # pixels: a held drawing's card fits a 390 px phone, and three sit side by side on a laptop
# A small picture's fullscreen button shows on hover, and on a phone a tap leaves it showing over
# the Accept button below: the held drawings' pictures go without it.
CARD_STYLE = '<style>div[class*="st-key-held-"] [data-testid="stElementToolbar"] { display: none; }</style>'
log = logging.getLogger("mnistlab")


def decide(ids: list[int], decision: str) -> None:
    """Accept or reject these held drawings (a button's callback), and say what happened."""
    use()  # a callback runs before the page: its words need the visitor's language
    if not visitor.may_train():  # checked again at the click: the passcode may have changed since the page was drawn
        st.session_state.review_notice = ("error", _("Reviewing needs the lab's passcode."))
        return
    try:
        changed = feedback_store().review(ids, decision)
    except (FeedbackError, ValueError) as err:
        log.error("lab handwriting: review of %s failed: %s", ids, err)
        st.session_state.review_notice = ("error", _("That could not be saved: {error}").format(error=public(err)))
        return
    log.info("lab handwriting: client %s %s %d of drawings %s", visitor.client(), decision, changed, ids)
    if decision == ACCEPTED:
        done = ngettext("Accepted {count} drawing.", "Accepted {count} drawings.", changed).format(count=changed)
    else:
        done = ngettext("Rejected {count} drawing.", "Rejected {count} drawings.", changed).format(count=changed)
    if changed < len(ids):  # another operator, or the visitor's undo, was first
        done += " " + _("{count} had been decided or undone already.").format(count=len(ids) - changed)
    st.session_state.review_notice = ("success", done)


def review_section(held_count: int) -> None:
    """The `held_count` held drawings: how many, and for whoever may train, each with Accept and Reject."""
    st.header(_("Held for review"), anchor=False)
    st.caption(ngettext(
        "{count} drawing whose label every model strongly disagrees with (a mis-tap, perhaps): not counted as the "
        "model's mistakes, and not trained on until someone running the lab accepts them.",
        "{count} drawings whose label every model strongly disagrees with (a mis-tap, perhaps): not counted as the "
        "model's mistakes, and not trained on until someone running the lab accepts them.",
        held_count).format(count=number(held_count)))
    rules = visitor.access()
    if not visitor.may_train(rules):
        if rules.passcode is not None:
            with st.expander(_("Review them (needs the lab's passcode)"), icon=":material/lock:"):
                given = st.text_input(_("Passcode"), type="password", key="review_passcode")
                if st.button(_("Unlock"), icon=":material/lock_open:", key="review_unlock"):
                    problem = visitor.unlock(given, rules)
                    if problem is None:
                        st.rerun()
                    st.error(problem)
        return
    pages = max(1, -(-held_count // HELD_PER_PAGE))
    if st.session_state.get("review_page", 1) > pages:  # fewer pages than before: decisions were made
        del st.session_state["review_page"]
    page_number = st.pagination(pages, key="review_page") if pages > 1 else 1
    try:
        held = feedback_store().held(HELD_PER_PAGE, offset=(page_number - 1) * HELD_PER_PAGE)
    except FeedbackError as err:
        log.error("lab handwriting: the held drawings cannot be read: %s", err)
        st.error(_("The held drawings cannot be read: {error}").format(error=public(err)))
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
                    said = {"label": held.labels[k], "read": held.predicted[k],
                            "sure": gallery.percent(held.confidence[k])}
                    if held.not_digit[k]:
                        alt = _("A drawing said not to be a digit; the model read {read}, {sure} sure.")
                        words = _("Said **not a digit**  \nthe model read **{read}**, {sure} sure")
                    else:
                        alt = _("A drawing labelled {label}; the model read {read}, {sure} sure.")
                        words = _("Labelled **{label}**  \nthe model read **{read}**, {sure} sure")
                    st.image(enlarge(held.images[k], 56), width=56, alt=alt.format(**said))
                    st.markdown(words.format(**said))  # only digits and numbers here, nothing a visitor typed
                with st.container(horizontal=True):
                    st.button(_("Accept"), key=f"accept-{drawing_id}", icon=":material/check:", on_click=decide,
                              args=([drawing_id], ACCEPTED))
                    st.button(_("Reject"), key=f"reject-{drawing_id}", icon=":material/close:", on_click=decide,
                              args=([drawing_id], REJECTED))
    if len(ids) > 1:
        with st.container(horizontal=True):
            st.button(_("Accept these {count}").format(count=len(ids)), key="accept-page", on_click=decide,
                      args=(ids, ACCEPTED))
            st.button(_("Reject these {count}").format(count=len(ids)), key="reject-page", on_click=decide,
                      args=(ids, REJECTED))


def measured_section(report: handwriting.HandwritingReport, on_mnist) -> None:
    """Digit by digit, and the drawings it reads wrong (a page at a time)."""
    st.header(_("Digit by digit"), anchor=False)
    table = pd.DataFrame(handwriting.per_digit(report, on_mnist))
    st.dataframe(table, hide_index=True, column_config={
        "digit": st.column_config.NumberColumn(_("Digit")),
        "drawings": st.column_config.ProgressColumn(_("Drawings"), min_value=0, max_value=int(report.counts.max()),
                                                    format="%d"),
        "lab accuracy": st.column_config.ProgressColumn(_("On the lab's drawings"), min_value=0.0, max_value=1.0,
                                                        format="percent"),
        "MNIST test accuracy": st.column_config.ProgressColumn(_("On MNIST's test digits"), min_value=0.0,
                                                               max_value=1.0, format="percent"),
    })

    st.header(_("What it gets wrong"), anchor=False)
    only_mistakes = st.toggle(_("Only mistakes"), value=True, key="lab_only_mistakes")
    shown = gallery.select(report.labels, report.evaluation.predictions, report.evaluation.confidence,
                           gallery.GalleryFilter(only_mistakes=only_mistakes))
    if len(shown) == 0:
        st.success(_("The live model reads every drawing right."), icon=":material/celebration:")
    else:
        pages = gallery.page_count(len(shown))
        if st.session_state.get("lab_page", 1) > pages:  # fewer pages than before (the toggle changed)
            del st.session_state["lab_page"]
        page_number = st.pagination(pages, key="lab_page") if pages > 1 else 1
        page = gallery.page(shown, page_number)
        try:
            drawings = feedback_store().rows(report.ids[page])  # only the drawings on this page
        except (FeedbackError, KeyError) as err:
            log.error("lab handwriting: a page of drawings cannot be read: %s", err)
            st.error(_("The drawings on this page cannot be read: {error}").format(error=public(err)))
            return
        st.caption(_("Under each drawing: what the live model reads now and how sure it is; mistakes are framed in "
                     "red (\"{example}\": it read 4, the visitor drew a 9).").format(
                         example=gallery.caption(9, 4, None)))
        answers = (report.labels, report.evaluation.predictions, report.evaluation.confidence, page)
        st.image(tiles(drawings.images, report.mistakes[page]), caption=gallery.captions(*answers),
                 alt=gallery.alt_texts(*answers))


def not_digit_section(not_digits: handwriting.NotDigits) -> None:
    """The drawings visitors answered "That is not a digit" for: how many, the newest as pictures, a download."""
    st.header(_("That is not a digit"), anchor=False)
    shown = not_digits.images[:NOT_DIGITS_SHOWN]
    words = ngettext("{count} drawing visitors said is not a digit: kept apart, never counted as the model's "
                     "mistake nor trained on as a digit.",
                     "{count} drawings visitors said are not digits: kept apart, never counted as the model's "
                     "mistakes nor trained on as digits.", not_digits.count).format(count=number(not_digits.count))
    if len(shown) < not_digits.count:
        words += " " + _("The newest {shown} are shown.").format(shown=number(len(shown)))
    st.caption(words)
    st.image(tiles(shown, np.zeros(len(shown), bool)), alt=[_("A drawing a visitor said is not a digit")] * len(shown))
    st.download_button(_("CSV of these drawings"), not_digits.csv, file_name="lab_not_digits.csv", mime="text/csv",
                       icon=":material/download:", on_click="ignore", key="not_digits_csv",
                       help=_("One row per drawing: x (not a digit), then 784 pixel values 0-255, like "
                              "mnist_train.csv but never a digit."))
